"""Finding (and on request installing) the systems initsup is compared with.

initsup is measured as a user has it: pip-installed (a wheel built from this checkout) into
a virtual environment of the bench's own, and started through the `initsup` command pip
wrote, or as the single file scripts/build_pyz.py makes.  supervisor is pip-installed
into the same environment, and every Python program of every scenario (the floor, the
writers, supervisord, listeners) runs on its interpreter.  Not the environment the bench
runs in: a development environment's site-packages runs start-up hooks (an editable
install's import finder loads pathlib, re, urllib.parse...: 9 ms of every start here) that
an installed initsup never pays, and that load, for free, the modules initsup's own
start-up would import.  The environment is kept in $XDG_CACHE_HOME/initsup-bench (or
~/.cache) and initsup is reinstalled whenever its sources change.  Without pip or an index
the bench falls back to running initsup from the checkout, and the report says so.

tini and dumb-init come from Debian's packages.  A peer that is missing is left out of the
run, with the reason shown in the report.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.core import Tools

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "initsup-bench"


def install() -> None:
    """apt-get install tini dumb-init (as root, when missing)."""
    debian = [p for p in ("tini", "dumb-init") if shutil.which(p) is None]
    if debian and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *debian], check=False, env=env)


def find(scratch: Path) -> Tools:
    """Every system this machine has; initsup installed (or from the checkout), its pyz."""
    tools = Tools(python=sys.executable, root=ROOT, scratch=scratch)
    try:
        tools.python, tools.command = environment()
        tools.installed = "pip-installed into a virtual environment of its own"
    except (OSError, subprocess.CalledProcessError) as exc:
        # Installed software runs from bytecode (pip compiles at install time); a checkout
        # under PYTHONDONTWRITEBYTECODE would compile initsup at every start instead.
        import compileall

        compileall.compile_dir(str(ROOT / "initsup"), quiet=1)
        why = getattr(exc, "stderr", None) or str(exc)
        tools.installed = f"from the checkout (no environment of its own: {why.strip()[-300:]})"
    pyz = scratch / "initsup.pyz"
    build = [tools.python, str(ROOT / "scripts" / "build_pyz.py"), str(pyz)]
    subprocess.run(build, check=True, stdout=subprocess.DEVNULL)
    tools.pyz = str(pyz)
    tools.tini = shutil.which("tini")
    tools.dumb_init = shutil.which("dumb-init")
    tools.supervisord = _imports(tools.python, "supervisor")
    if tools.tini is None:
        tools.missing["tini"] = "tini is not installed (Debian package tini)"
    if tools.dumb_init is None:
        tools.missing["dumb-init"] = "dumb-init is not installed (Debian package dumb-init)"
    if not tools.supervisord:
        tools.missing["supervisord"] = f"supervisor is not importable by {tools.python}"
    unshare = shutil.which("unshare")
    if os.geteuid() == 0 and unshare is not None:
        tools.unshare = unshare
    return tools


def environment() -> tuple[str, str]:
    """The bench's environment, made or brought up to date: (its python, `initsup`).

    Raises OSError or CalledProcessError (with the output) when it cannot be made.
    """
    venv = CACHE / f"py{sys.version_info.major}.{sys.version_info.minor}"
    python, command = venv / "bin" / "python", venv / "bin" / "initsup"
    if not python.exists():
        # From a virtual environment this makes one on the base interpreter.
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    stamp, digest = venv / "initsup-sources", _sources_digest()
    if not command.exists() or not stamp.exists() or stamp.read_text() != digest:
        _pip(python, "install", "--no-deps", "--force-reinstall", str(ROOT))
        stamp.write_text(digest)
    if not _imports(str(python), "supervisor"):
        # The version the bench's own environment has, when it has one; if that cannot be
        # installed here, the checkout fallback (where it is importable) is better than
        # a run without supervisord.
        if importlib.util.find_spec("supervisor") is not None:
            from importlib.metadata import version

            _pip(python, "install", f"supervisor=={version('supervisor')}")
        else:
            try:
                _pip(python, "install", "supervisor")
            except subprocess.CalledProcessError:
                pass  # supervisord is then reported missing, with its reason
    _install_plugin(python)
    return str(python), str(command)


def _install_plugin(python: Path) -> None:
    """supervisord-dependent-startup for the readiness scenario's supervisord (the version
    the bench's environment has, if any); without it that scenario leaves supervisord out."""
    name = "supervisord-dependent-startup"
    if _imports(str(python), "supervisord_dependent_startup"):
        return
    if importlib.util.find_spec("supervisord_dependent_startup") is not None:
        from importlib.metadata import version

        name = f"{name}=={version(name)}"
    try:
        _pip(python, "install", name)
    except subprocess.CalledProcessError:
        pass


def _sources_digest() -> str:
    digest = hashlib.sha256()
    sources = [ROOT / "pyproject.toml", ROOT / "bin" / "initsup", *(ROOT / "initsup").rglob("*.py")]
    for path in sorted(sources):
        name = path.relative_to(ROOT).as_posix()  # initsup/config/x.py, not just x.py
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _pip(python: Path, *args: str) -> None:
    # pip of the bench's environment, acting on the other one (--python: it has no pip).
    quiet = ("--quiet", "--disable-pip-version-check")
    _run([sys.executable, "-m", "pip", "--python", str(python), *quiet, *args])


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600)


def _imports(python: str, module: str) -> bool:
    result = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=60)
    return result.returncode == 0


def versions(tools: Tools) -> dict[str, str]:
    """What was measured: every system's version and the machine."""
    import platform

    def first_line(argv: list[str]) -> str:
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, timeout=10, env=tools.env()
            )
        except OSError:
            return "?"
        return (result.stdout or result.stderr).strip().splitlines()[0]

    found = {
        "python": first_line(
            [tools.python, "-c", "import platform as p; print(p.python_version())"]
        ),
        "initsup": first_line(tools.initsup("--version")),
        "installed": tools.installed,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}",
    }
    if tools.supervisord:
        found["supervisord"] = first_line(
            [tools.python, "-c", "import importlib.metadata as m; print(m.version('supervisor'))"]
        )
    if tools.tini:
        found["tini"] = first_line([tools.tini, "--version"])
    if tools.dumb_init:
        found["dumb-init"] = first_line([tools.dumb_init, "--version"])
    return found
