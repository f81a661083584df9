"""Finding (and on request installing) the systems initsup is compared with.

supervisor comes from PyPI into the bench's own environment; tini and dumb-init from
Debian's packages.  A peer that is missing is left out of the run, with the reason shown
in the report.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.core import Tools

ROOT = Path(__file__).resolve().parent.parent


def install() -> None:
    """pip install supervisor; apt-get install tini dumb-init (as root, when missing)."""
    if importlib.util.find_spec("supervisor") is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "supervisor"], check=False
        )
    debian = [p for p in ("tini", "dumb-init") if shutil.which(p) is None]
    if debian and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *debian], check=False, env=env)


def find(scratch: Path) -> Tools:
    # Installed software runs from bytecode (pip compiles at install time); a checkout
    # under PYTHONDONTWRITEBYTECODE would compile initsup at every start instead.
    import compileall

    compileall.compile_dir(str(ROOT / "initsup"), quiet=1)
    tools = Tools(python=sys.executable, root=ROOT, scratch=scratch)
    tools.tini = shutil.which("tini")
    tools.dumb_init = shutil.which("dumb-init")
    tools.supervisord = importlib.util.find_spec("supervisor") is not None
    if tools.tini is None:
        tools.missing["tini"] = "tini is not installed (Debian package tini)"
    if tools.dumb_init is None:
        tools.missing["dumb-init"] = "dumb-init is not installed (Debian package dumb-init)"
    if not tools.supervisord:
        tools.missing["supervisord"] = f"supervisor is not importable by {sys.executable}"
    unshare = shutil.which("unshare")
    if os.geteuid() == 0 and unshare is not None:
        tools.unshare = unshare
    return tools


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
        "python": platform.python_version(),
        "initsup": first_line(tools.initsup("--version")),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}",
    }
    if tools.supervisord:
        from importlib.metadata import version

        found["supervisord"] = version("supervisor")
    if tools.tini:
        found["tini"] = first_line([tools.tini, "--version"])
    if tools.dumb_init:
        found["dumb-init"] = first_line([tools.dumb_init, "--version"])
    return found
