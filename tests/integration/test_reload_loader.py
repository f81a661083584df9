"""The configuration's reader, a forked child: its deadline, and its end with its parent
(reliability findings D9, D18 and the note on `initsup check` killed by SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import INITSUP, alive, descendants, env, started, wait_for

SLEEPER = "[program:a]\ncommand=sleep 1000\nstartsecs=0\n"


def fifo_include(tmp_path: Path) -> str:
    (tmp_path / "conf.d").mkdir()
    return SLEEPER + f"[include]\nfiles = {tmp_path}/conf.d/*.conf\n"


def short_deadline(tmp_path: Path, seconds: int) -> str:
    """A PYTHONPATH whose sitecustomize shortens the loader's deadline to seconds."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"import initsup.loader\ninitsup.loader.DEADLINE = {seconds}\n"
    )
    return f"{site}{os.pathsep}{env()['PYTHONPATH']}"


def test_check_on_a_fifo_gives_up_at_its_deadline(tmp_path: Path) -> None:
    """`initsup check` (and so start-up) stops waiting for the loader at the deadline."""
    site = short_deadline(tmp_path, 1)
    ini = tmp_path / "r.ini"
    ini.write_text(fifo_include(tmp_path))
    os.mkfifo(tmp_path / "conf.d" / "stuck.conf")
    result = subprocess.run(
        [*INITSUP, "check", "-c", str(ini)],
        env=env(PYTHONPATH=site),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "initsup: configuration error: reading the configuration took longer than 1 s; "
        "its reader was killed\n"
    )


@pytest.mark.parametrize("prctl", ["prctl", "no _ctypes"])
def test_the_loader_dies_with_check(tmp_path: Path, prctl: str) -> None:
    """`initsup check` killed by SIGKILL while its loader hangs on a FIFO takes the loader
    with it: by PR_SET_PDEATHSIG, or without _ctypes by a thread watching the pipe."""
    ini = tmp_path / "r.ini"
    ini.write_text(fifo_include(tmp_path))
    os.mkfifo(tmp_path / "conf.d" / "stuck.conf")
    variables = {}
    if prctl == "no _ctypes":
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text("import sys\nsys.modules['_ctypes'] = None\n")
        variables["PYTHONPATH"] = f"{site}{os.pathsep}{env()['PYTHONPATH']}"
    with started([*INITSUP, "check", "-c", str(ini)], env=env(**variables)) as check:
        [loader] = wait_for(lambda: descendants(check.pid))
        wait_for(lambda: _wchan(loader) == "wait_for_partner")  # opening the FIFO
        threads = len(os.listdir(f"/proc/{loader}/task"))
        assert threads == (1 if prctl == "prctl" else 2)
        os.kill(check.pid, signal.SIGKILL)
        check.wait()
        wait_for(lambda: not alive(loader), timeout=5)


def _wchan(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""
