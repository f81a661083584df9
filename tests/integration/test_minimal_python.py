"""initsup on a Python without the modules a minimal install lacks (Debian's python3-minimal).

python3-minimal has no shlex, json, _json, ctypes or _ctypes.  A sitecustomize on
PYTHONPATH makes them unimportable in a fresh interpreter, as there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import INITSUP, env

_MINIMAL = ("shlex", "json", "_json", "ctypes", "_ctypes")


@pytest.fixture
def minimal(tmp_path: Path) -> dict[str, str]:
    """An environment whose interpreter cannot import what python3-minimal lacks."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"import sys\nfor name in {_MINIMAL!r}:\n    sys.modules[name] = None\n"
    )
    environ = env()
    environ["PYTHONPATH"] = f"{site}:{environ['PYTHONPATH']}"
    return environ


def run(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INITSUP, *args], env=environ, capture_output=True, text=True, timeout=30
    )


def test_the_sitecustomize_takes_effect(minimal: dict[str, str]) -> None:
    """Guard: the blocked modules really are unimportable in the interpreter under test."""
    proc = subprocess.run(
        [INITSUP[0], "-c", "import shlex"], env=minimal, capture_output=True, text=True
    )
    assert proc.returncode == 1 and "ModuleNotFoundError" in proc.stderr


@pytest.mark.parametrize("check", [False, True])
def test_supervisor_mode_names_the_missing_modules_and_exits_3(
    tmp_path: Path, minimal: dict[str, str], check: bool
) -> None:
    """Not `configuration error: ModuleNotFoundError` and 2: which modules, what to install."""
    path = tmp_path / "a.ini"
    marker = tmp_path / "started"
    path.write_text(f"[program:a]\ncommand=touch {marker}\nstartsecs=0\n")
    proc = run(["check", "-c", str(path)] if check else ["-c", str(path)], minimal)
    assert proc.returncode == 3
    assert proc.stderr.startswith(
        "initsup: supervisor mode needs the Python modules json, shlex, which this Python ("
    )
    assert "apt-get install python3; python3-minimal is not enough" in proc.stderr
    assert "configuration error" not in proc.stderr
    assert not marker.exists()


def test_environment_programs_too(minimal: dict[str, str]) -> None:
    """INITSUP_PROGRAM_* is supervisor mode as well."""
    minimal["INITSUP_PROGRAM_A"] = "true"
    proc = run([], minimal)
    assert proc.returncode == 3
    assert "needs the Python modules json, shlex" in proc.stderr


def test_single_command_mode_still_works(minimal: dict[str, str]) -> None:
    """`initsup -- COMMAND` needs none of them: its output and exit code come through."""
    proc = run(["--", "sh", "-c", "echo hello; exit 7"], minimal)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "hello\n"
