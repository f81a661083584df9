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


@pytest.mark.parametrize("command", [["check"], []])
def test_start_and_check_on_a_fifo_give_up_at_the_deadline(
    tmp_path: Path, command: list[str]
) -> None:
    """Start-up and `initsup check` stop waiting for the reader at the deadline: exit 2,
    the reason on stderr, nothing started."""
    site = short_deadline(tmp_path, 1)
    ini = tmp_path / "r.ini"
    ini.write_text(fifo_include(tmp_path))
    os.mkfifo(tmp_path / "conf.d" / "stuck.conf")
    result = subprocess.run(
        [*INITSUP, *command, "-c", str(ini)],
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
import os, resource, runpy, sys
# Everything a run needs, imported while the interpreter's files are still readable.
import initsup.cli, initsup.config, initsup.supervisor, initsup.control
import initsup.loader, initsup.reloads, initsup.linux, configparser, glob, shlex, marshal
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
