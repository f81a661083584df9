"""Supervisor mode as PID 1 of a fresh PID namespace (reference scenarios A5, B7, D8)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import INITSUP, env
from tests.pid1.namespace import UNSHARE, init_pid
from tests.supervised import Supervised

Start = Callable[..., Supervised]


@pytest.mark.pid1
def test_term_from_the_host_stops_everything_in_order(supervise: Start) -> None:
    """SIGTERM to PID 1 shuts down in reverse priority and exits 0 (B7, D8)."""
    s = supervise(
        prefix=UNSHARE,
        ini="[program:db]\ncommand=sleep 1000\npriority=1\n[program:web]\ncommand=sleep 1000\n",
    )
    s.wait("PROCESS_STATE_RUNNING", program="db")
    s.wait("PROCESS_STATE_RUNNING", program="web")
    os.kill(init_pid(s), signal.SIGTERM)
    assert s.finish() == 0
    stopped = [r["program"] for r in s.records if r["event"] == "PROCESS_STATE_STOPPED"]
    assert stopped == ["web", "db"]


@pytest.mark.pid1
def test_orphans_are_reaped_as_pid1(supervise: Start) -> None:
    """A program's orphan is re-parented to PID 1 and reaped, with a log line (A5)."""
    s = supervise(
        prefix=UNSHARE,
        ini="[program:parent]\ncommand=sh -c '(sleep 0.2 &); exec sleep 1000'\n",
    )
    while not str(s.next()["event"]).startswith("reaped unknown pid"):
        pass
    os.kill(init_pid(s), signal.SIGTERM)
    assert s.finish() == 0


@pytest.mark.pid1
def test_hup_reloads_as_pid1(tmp_path: Path, supervise: Start) -> None:
    """SIGHUP to PID 1 re-reads the configuration and starts a new program (B7)."""
    s = supervise(prefix=UNSHARE, ini="[program:one]\ncommand=sleep 1000\n")
    s.wait("PROCESS_STATE_RUNNING", program="one")
    (tmp_path / "initsup.ini").write_text(
        "[program:one]\ncommand=sleep 1000\n[program:two]\ncommand=sleep 1000\n"
    )
    os.kill(init_pid(s), signal.SIGHUP)
    s.wait("PROCESS_STATE_RUNNING", program="two")
    os.kill(init_pid(s), signal.SIGTERM)
    assert s.finish() == 0


@pytest.mark.pid1
def test_essential_program_ends_the_namespace_with_its_code(supervise: Start) -> None:
    """As PID 1, an essential program killed with SIGKILL ends initsup with 137."""
    s = supervise(
        prefix=UNSHARE,
        variables={
            "INITSUP_PROGRAM_APP": "sleep 1000",
            "INITSUP_PROGRAM_APP__ESSENTIAL": "1",
            "INITSUP_PROGRAM_LOG": "sleep 1000",
        },
    )
    pid_in_ns = s.wait("PROCESS_STATE_RUNNING", program="app")["pid"]
    host_pid = next(
        int(name)
        for name in os.listdir("/proc")
        if name.isdigit() and _ns_pid(int(name)) == pid_in_ns and _in_tree(int(name), s.pid)
    )
    os.kill(host_pid, signal.SIGKILL)
    assert s.finish() == 137


def _ns_pid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except OSError:
        return None
    return None


def _in_tree(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        except OSError:
            return False
    return False


@pytest.mark.pid1
def test_main_program_exit_code_as_pid1(supervise: Start) -> None:
    """`initsup -c FILE -- CMD` as PID 1 exits with CMD's code after stopping the rest."""
    s = supervise(
        prefix=UNSHARE,
        ini="[program:side]\ncommand=sleep 1000\n",
        args=["--", "sh", "-c", "sleep 0.3; exit 42"],
    )
    assert s.finish() == 42
    assert s.events("side")[-1] == "PROCESS_STATE_STOPPED"


@pytest.mark.pid1
def test_ctl_from_inside_the_namespace_like_docker_exec(supervise: Start) -> None:
    """`initsup ctl status` and `health` work from a process nsenter'ed into the namespace,
    with no flags and no INITSUP_SOCKET: the socket is found where initsup put it."""
    s = supervise(
        prefix=UNSHARE,
        ini="[program:web]\ncommand=sleep 1000\nstartsecs=0\n",
        variables={"INITSUP_SOCKET": ""},  # the default place, as in a container
    )
    s.wait("PROCESS_STATE_RUNNING", program="web")
    client_env = env()
    del client_env["INITSUP_SOCKET"]
    enter = ["nsenter", "--target", str(init_pid(s)), "--pid", "--mount", *INITSUP, "ctl"]
    status = subprocess.run(
        [*enter, "status"], env=client_env, capture_output=True, text=True, timeout=30
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("web") and "RUNNING   pid " in status.stdout
    health = subprocess.run([*enter, "health"], env=client_env, capture_output=True, timeout=30)
    assert health.returncode == 0
    pid = subprocess.run([*enter, "pid"], env=client_env, capture_output=True, timeout=30)
    assert pid.stdout.strip() == b"1"  # initsup's pid as the namespace sees it
    os.kill(init_pid(s), signal.SIGTERM)
    assert s.finish() == 0
