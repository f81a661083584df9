"""Health checks, start order and the drain with initsup as PID 1 of a fresh namespace."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from tests.pid1.namespace import UNSHARE, init_pid
from tests.supervised import Supervised

Start = Callable[..., Supervised]


@pytest.mark.pid1
def test_checks_that_leave_orphans_still_gate_the_start_order(supervise: Start) -> None:
    """A check command that leaves a background child behind passes, its orphan is
    reaped as PID 1's, and the dependant starts only after the check passed."""
    s = supervise(
        prefix=UNSHARE,
        ini=(
            "[program:db]\ncommand=sleep 1000\nstartsecs=0\n"
            "healthcheck=sh -c '(sleep 0.1 &); exit 0'\nhealthcheck_interval=0.2\n"
            "[program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=db\n"
        ),
    )
    ready = s.wait("PROCESS_READY", program="db")
    started = s.wait("PROCESS_STATE_STARTING", program="web")
    assert s.records.index(ready) < s.records.index(started)
    s.wait_prefix("reaped unknown pid", timeout=20)  # the check's own orphan
    os.kill(init_pid(s), signal.SIGTERM)
    assert s.finish() == 0
    stopped = [r["program"] for r in s.records if r["event"] == "PROCESS_STATE_STOPPED"]
    assert stopped == ["web", "db"]


@pytest.mark.pid1
def test_readiness_fails_at_sigterm_while_the_drain_holds_the_stops(supervise: Start) -> None:
    s = supervise(
        prefix=UNSHARE,
        ini="[initsup]\ndrain=60\n[program:web]\ncommand=sleep 1000\nstartsecs=0\n",
    )
    s.wait("PROCESS_STATE_RUNNING", program="web")
    assert s.ctl("health", "--ready").returncode == 0
    os.kill(init_pid(s), signal.SIGTERM)
    s.wait_prefix("draining for 60 s")
    probe = s.ctl("health", "--ready")
    assert probe.returncode == 1, probe
    assert "shutting down" in probe.stdout + probe.stderr
    assert s.ctl("health", "--live").returncode == 0  # draining is not dead
    assert s.ctl("status", "web").stdout.split()[1] == "RUNNING"  # not stopped yet
    os.kill(init_pid(s), signal.SIGTERM)  # a second signal ends the drain
    s.wait_prefix("received SIGTERM while draining")
    assert s.finish() == 0
    assert "PROCESS_STATE_STOPPED" in s.events("web")
