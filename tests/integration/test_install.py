"""initsup as installed: the command pip writes, what it imports, and every supported Python."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, env, imported_by, imported_modules


def test_installed_command_runs_single_command_mode() -> None:
    """The `initsup` command installed with the package runs a command and keeps its code."""
    script = Path(sys.executable).parent / "initsup"
    if not script.exists():
        pytest.skip(f"initsup is not installed next to {sys.executable} (pip install -e .)")
    result = subprocess.run([str(script), "--", "sh", "-c", "exit 4"], env=env(), timeout=30)
    assert result.returncode == 4


@pytest.mark.parametrize("relay", [[], ["--log-format", "raw"], ["--log-format", "json"]])
def test_the_command_pip_installs_imports_no_re(relay: list[str]) -> None:
    """bin/initsup, unlike a console-script wrapper, does not import re before initsup runs.

    Nor does a single command's run, relayed or not, import collections (a millisecond of
    start-up).
    """
    script = ROOT / "bin" / "initsup"
    assert script.read_text().startswith("#!/usr/bin/env python3\n")  # pip points it at its python
    result = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", str(script), *relay, "--", "echo", "hi"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "hi" in result.stdout
    modules = imported_modules(result.stderr)
    assert {"initsup.cli", "initsup.single"} <= modules
    if relay:
        assert "initsup.output" in modules
    assert not modules & {"re", "enum", "json", "functools", "collections"}


def test_a_supervisor_renders_and_parses_json_without_the_json_package() -> None:
    """json and re (0.45 MiB of a supervisor's memory) stay out; the C codec does the work."""
    modules = imported_by(
        "from initsup import logs, supervisor\n"
        "from initsup.control import server\n"
        "logs.render_json({'event': 'x', 'n': [1, 2.5, None]})\n"
        "logs.child_record(b'{\"event\": \"structured\", \"k\": 1}', 'web', 7, 'stdout')\n"
        "logs.line_renderer('json', 'web', 'web', 7, 'stdout').block(b'a\\nb\\n')"
    )
    assert {"initsup.control.server", "initsup.supervisor", "_json"} <= modules
    assert not modules & {"re", "json", "json.decoder", "configparser"}


def _interpreter(version: str) -> str | None:
    """A python of the given X.Y version on this machine (PATH or pyenv), if any."""
    candidates = [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.12", "3.13"])
def test_runs_on_other_pythons(version: str) -> None:
    """initsup's core paths work on every supported Python present here (3.9 is the floor)."""
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (the docker layer covers 3.9-3.13)")
    result = subprocess.run(
        [python, "-m", "initsup", "--log-format", "json", "--", "sh", "-c", "echo hi; exit 3"],
        env=env(),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stderr
    assert b'"event":"hi"' in result.stdout
    signalled = subprocess.run(
        [python, "-m", "initsup", "--", "sh", "-c", "kill -TERM $$"], env=env(), timeout=30
    )
    assert signalled.returncode == 143
