"""Reaping as a child subreaper (reference scenarios A2, A4; tini T3, T4)."""

from __future__ import annotations

import re
import subprocess

from tests.helpers import INITSUP, PYTHON, env, helper, started, state, wait_for


def test_orphan_is_reparented_to_initsup_and_reaped() -> None:
    """An orphaned grandchild gets initsup as its parent, and is gone once it exits (A2)."""
    # The subshell starts the sleep and exits at once, orphaning it.
    script = "(sleep 0.5 & echo $!); exec sleep 1000"
    with started([*INITSUP, "--", "sh", "-c", script]) as proc:
        orphan = int(proc.readline())
        wait_for(lambda: _ppid(orphan) in (proc.pid, None))
        assert _ppid(orphan) in (proc.pid, None)
        wait_for(lambda: state(orphan) is None)


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rpartition(")")[2].split()[1])
    except OSError:
        return None


def test_orphan_storm_leaves_no_zombie() -> None:
    """1,000 orphans are all reaped: none is left as a zombie (A4, tini T3)."""
    result = subprocess.run(
        [*INITSUP, "--", *helper("orphan_maker", "1000", "60")],
        env=env(),
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"all 1000 orphans reaped" in result.stdout
    assert b"zombie reaping won't work" not in result.stderr


def test_control_without_a_reaper_leaves_zombies() -> None:
    """Control: a subreaper that never reaps leaves zombies, so the check can fail."""
    code = (
        "import ctypes, subprocess, sys; "
        "ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); "
        f"sys.exit(subprocess.call({helper('orphan_maker', '20', '1')!r}))"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 1
    assert b"zombies: [" in result.stdout


def test_warn_on_reap_logs_each_orphan() -> None:
    """With -w, each reaped orphan gets one line on stderr (A4, tini T4)."""
    result = subprocess.run(
        [*INITSUP, "-w", "--", *helper("orphan_maker", "10", "30")],
        env=env(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0
    lines = re.findall(rb"reaped zombie process pid=\d+", result.stderr)
    assert len(lines) == 10, result.stderr


def test_no_reaping_warning_when_subreaper_works() -> None:
    """Not being PID 1, initsup registers as a child subreaper and prints nothing about it."""
    result = subprocess.run([*INITSUP, "--", "true"], env=env(), capture_output=True, timeout=30)
    assert result.returncode == 0
    assert result.stderr == b""
