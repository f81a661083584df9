"""initsup as PID 1 of a fresh PID namespace (reference scenarios A1, A6, B2, C1-C3).

unshare's own process ignores SIGTERM and SIGINT while it waits, so signals from outside
go to the namespace's PID 1 through its host pid: the child listed in
/proc/<unshare pid>/task/<unshare pid>/children.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    INITSUP,
    PYTHON,
    Proc,
    alive,
    descendants,
    env,
    helper,
    started,
    wait_for,
)
from tests.pid1.namespace import UNSHARE


def _as_pid1(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*UNSHARE, *INITSUP, *args], env=env(), capture_output=True, timeout=timeout
    )


def _init_host_pid(unshare: Proc) -> int:
    """The host pid of the namespace's PID 1 (initsup), once it exists."""
    path = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children")
    return int(wait_for(lambda: path.read_text().split())[0])


@pytest.mark.pid1
@pytest.mark.parametrize(
    ("script", "expected"),
    [("exit 7", 7), ("exit 0", 0), ("exit 255", 255), ("kill -TERM $$", 143), ("kill -9 $$", 137)],
)
def test_exit_code_as_pid1(script: str, expected: int) -> None:
    """As PID 1, initsup exits with the command's code or 128+signal (C1, C2)."""
    result = _as_pid1(["--", "sh", "-c", script])
    assert result.returncode == expected, result.stderr


@pytest.mark.pid1
def test_missing_command_as_pid1() -> None:
    """As PID 1, a missing command gives 127 with one line on stderr (C3)."""
    result = _as_pid1(["--", "/nonexistent"])
    assert result.returncode == 127
    assert result.stderr.decode().count("\n") == 1


@pytest.mark.pid1
def test_initsup_is_pid1_and_the_parent_of_the_command() -> None:
    """Inside the namespace initsup is PID 1, the command's parent, and warns about nothing."""
    result = _as_pid1(["--", "sh", "-c", 'echo "$PPID $(cat /proc/1/comm)"'])
    assert result.returncode == 0
    assert result.stdout.split()[0] == b"1"
    assert result.stderr == b""


@pytest.mark.pid1
def test_orphan_storm_as_pid1_leaves_no_zombie() -> None:
    """As PID 1, 2,000 orphans are all reaped; no zombie remains (A1, A4)."""
    result = _as_pid1(["--", *helper("orphan_maker", "2000", "60")], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"all 2000 orphans reaped" in result.stdout


@pytest.mark.pid1
def test_control_plain_python_as_pid1_leaves_zombies() -> None:
    """Control: a Python PID 1 that only waits for its child leaves zombies."""
    code = (
        f"import subprocess, sys; sys.exit(subprocess.call({helper('orphan_maker', '20', '1')!r}))"
    )
    result = subprocess.run(
        [*UNSHARE, PYTHON, "-c", code], env=env(), capture_output=True, timeout=60
    )
    assert result.returncode == 1
    assert b"zombies: [" in result.stdout


@pytest.mark.pid1
def test_kill_term_1_from_inside_reaches_the_command() -> None:
    """`kill -TERM 1` from inside the namespace reaches the command, which exits 7 (B2)."""
    script = "trap 'exit 7' TERM; kill -TERM 1; while :; do sleep 0.05; done"
    assert _as_pid1(["--", "sh", "-c", script]).returncode == 7


@pytest.mark.pid1
@pytest.mark.parametrize(("signum", "expected"), [(signal.SIGTERM, 143), (signal.SIGUSR1, 138)])
def test_signal_to_pid1_from_outside(signum: int, expected: int) -> None:
    """A signal sent to PID 1 from the host (as `docker kill` does) reaches the command."""
    with started([*UNSHARE, *INITSUP, "--", "sh", "-c", "echo ready; exec sleep 1000"]) as ns:
        assert ns.readline() == "ready"
        os.kill(_init_host_pid(ns), signum)
        assert ns.wait() == expected


@pytest.mark.pid1
def test_each_signal_reaches_the_command_as_pid1() -> None:
    """As PID 1, forwarded signals arrive at the command with their own numbers (B1)."""
    with started([*UNSHARE, *INITSUP, "--", *helper("print_signals")]) as ns:
        assert ns.readline().startswith("ready ")
        init = _init_host_pid(ns)
        for signum in (
            signal.SIGHUP,
            signal.SIGINT,
            signal.SIGUSR1,
            signal.SIGWINCH,
            signal.SIGTERM,
        ):
            os.kill(init, signum)
            assert ns.readline() == str(int(signum))


@pytest.mark.pid1
def test_namespace_ends_with_the_command() -> None:
    """initsup exits at once with the command's code; the rest of the namespace dies (A6)."""
    script = "trap '' TERM; sleep 1000 & echo ready; read line; exit 4"
    with started([*UNSHARE, *INITSUP, "--", "sh", "-c", script], stdin=subprocess.PIPE) as ns:
        assert ns.readline() == "ready"
        # Until it has exec'd, the background job is still a forked sh.
        left_behind = wait_for(lambda: [p for p in descendants(ns.pid) if _comm(p) == "sleep"])
        assert ns.popen.stdin is not None
        ns.popen.stdin.write(b"go\n")
        ns.popen.stdin.flush()
        assert ns.wait() == 4
        wait_for(lambda: not any(alive(pid) for pid in left_behind))


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
