"""initsup as installed: the console script, and the oldest and newest Pythons it supports."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import env


def test_console_script_runs_single_command_mode() -> None:
    """The `initsup` console script installed with the package runs a command and keeps its code."""
    script = Path(sys.executable).parent / "initsup"
    if not script.exists():
        pytest.skip(f"initsup is not installed next to {sys.executable} (pip install -e .)")
    result = subprocess.run([str(script), "--", "sh", "-c", "exit 4"], env=env(), timeout=30)
    assert result.returncode == 4


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
