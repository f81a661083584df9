"""The configuration's reader, a forked child: its deadline, and its end with its parent
(reliability findings D9, D18 and the note on `initsup check` killed by SIGKILL)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.helpers import INITSUP, PYTHON, Proc, alive, descendants, env, started, wait_for

SLEEPER = "[program:a]\ncommand=sleep 1000\nstartsecs=0\n"


# The configuration reader refuses FIFOs and devices, so a stall is made the way a slow
# network filesystem or a hung user lookup would make one: once the test turns STALL into
# a FIFO, every configuration file read first waits to open it, for a writer that never
# comes.  Before that, reads go through, so initsup starts normally.
_STALL = """\
import os

if os.environ.get("TEST_INITSUP_STALL"):
    from initsup import limits

    _read_file = limits.read_file

    def read_file(path):
        stall = os.environ["TEST_INITSUP_STALL"]
        if os.path.exists(stall):
            with open(stall) as fifo:
                fifo.read()
        return _read_file(path)

    limits.read_file = read_file
"""


def stalling(tmp_path: Path, deadline: int | None = None, first: str = "") -> dict[str, str]:
    """Variables for an initsup whose configuration reads stall once the test makes
    tmp_path/"stall" a FIFO; deadline shortens the reader's deadline to seconds; first is
    more of the sitecustomize, run before the rest."""
    site = tmp_path / "site"
    site.mkdir()
    text = first + _STALL
    if deadline is not None:
        text += f"\nimport initsup.loader\n\ninitsup.loader.DEADLINE = {deadline}\n"
    (site / "sitecustomize.py").write_text(text)
    return {
        "PYTHONPATH": f"{site}{os.pathsep}{env()['PYTHONPATH']}",
        "TEST_INITSUP_STALL": str(tmp_path / "stall"),
    }


def stall(tmp_path: Path) -> None:
    """From now on, the reads of a stalling() initsup hang."""
    os.mkfifo(tmp_path / "stall")


@pytest.mark.parametrize("command", [["check"], []])
def test_start_and_check_give_up_on_a_stuck_read_at_the_deadline(
    tmp_path: Path, command: list[str]
) -> None:
    """Start-up and `initsup check` stop waiting for the reader at the deadline: exit 2,
    the reason on stderr, nothing started."""
    variables = stalling(tmp_path, 1)
    ini = tmp_path / "r.ini"
    ini.write_text(SLEEPER)
    stall(tmp_path)
    result = subprocess.run(
        [*INITSUP, *command, "-c", str(ini)],
        env=env(**variables),
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
    """`initsup check` killed by SIGKILL while its loader hangs takes the loader
    with it: by PR_SET_PDEATHSIG, or without _ctypes by a thread watching the pipe."""
    ini = tmp_path / "r.ini"
    ini.write_text(SLEEPER)
    no_ctypes = "import sys\n\nsys.modules['_ctypes'] = None\n"
    variables = stalling(tmp_path, first=no_ctypes if prctl == "no _ctypes" else "")
    stall(tmp_path)
    with started([*INITSUP, "check", "-c", str(ini)], env=env(**variables)) as check:
        [loader] = wait_for(lambda: descendants(check.pid))
        wait_for(lambda: wchan(loader) == "wait_for_partner")  # opening the FIFO
        threads = len(os.listdir(f"/proc/{loader}/task"))
        assert threads == (1 if prctl == "prctl" else 2)
        os.kill(check.pid, signal.SIGKILL)
        check.wait()
        wait_for(lambda: not alive(loader), timeout=5)


def wchan(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


# A user with no processes of its own: RLIMIT_NPROC counts per real uid, and root's is
# not enforced at all.
NOBODY = 54321
UNDER_LIMIT = """\
import importlib, os, pkgutil, resource, runpy, sys
# Everything a run needs, imported while the interpreter's files are still readable.
import initsup
for module in pkgutil.iter_modules(initsup.__path__):
    if module.name != "__main__":
        importlib.import_module(f"initsup.{module.name}")
import _ctypes, threading
import initsup.loader, initsup.reload, initsup.linux, configparser, glob, shlex, marshal
import fcntl, json, pwd, grp, initsup.output, initsup.logs, initsup.jsoncodec, initsup.spawn
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
os.setgroups([])
os.setgid(int(sys.argv[2]))
os.setuid(int(sys.argv[2]))
sys.argv = ["initsup", *sys.argv[3:]]
runpy.run_module("initsup", run_name="__main__", alter_sys=True)
"""


def test_reloads_that_cannot_fork_leak_no_fd() -> None:
    """With no process left to fork (RLIMIT_NPROC), each SIGHUP is refused with the reason
    and initsup keeps exactly the fds it had (D18)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run initsup as another user")
    # pytest's tmp_path lies under a directory only root may enter.
    home = Path(tempfile.mkdtemp(prefix="initsup-nproc-"))
    try:
        os.chmod(home, 0o755)
        ini = home / "r.ini"
        ini.write_text(SLEEPER)
        os.chmod(ini, 0o644)
        _refused_without_leaks(ini, home / "s.sock")
    finally:
        shutil.rmtree(home)


def _refused_without_leaks(ini: Path, sock: Path) -> None:
    # initsup and its start-up reader, then initsup and its program: two at a time.
    argv = [PYTHON, "-c", UNDER_LIMIT, "2", str(NOBODY), "-c", str(ini)]
    with started(argv, env=env(INITSUP_SOCKET=str(sock))) as proc:
        _wait_record(proc, "PROCESS_STATE_RUNNING")
        before = sorted(os.listdir(f"/proc/{proc.pid}/fd"))
        for _ in range(5):
            os.kill(proc.pid, signal.SIGHUP)
            refused = _wait_record(proc, "reload refused:")
            assert refused == (
                "reload refused: could not start a process to read the configuration: "
                "[Errno 11] Resource temporarily unavailable"
            )
        assert sorted(os.listdir(f"/proc/{proc.pid}/fd")) == before
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait() == 0


def _wait_record(proc: Proc, prefix: str) -> str:
    """The event of the next JSON record on proc's stdout that starts with prefix."""
    while True:
        event = str(json.loads(proc.readline())["event"])
        if event.startswith(prefix):
            return event
