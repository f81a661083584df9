"""An idle initsup makes no wakeups at all (DESIGN section 2)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.helpers import INITSUP, proc_status, started
from tests.receivers import HttpReceiver
from tests.supervised import Supervised

WINDOW = 3.0  # seconds watched; a 1 s poll loop (tini, supervisord) would show 3 switches


@pytest.mark.parametrize("log_format", ["inherit", "json"])
def test_idle_initsup_does_not_wake_up(log_format: str) -> None:
    """Over a quiet window, initsup's voluntary context switch count does not move."""
    with started(
        [*INITSUP, "--log-format", log_format, "--", "sh", "-c", "echo up; exec sleep 1000"]
    ) as proc:
        proc.readline()
        time.sleep(0.2)  # let start-up finish; the assertion does not depend on this
        before = int(proc_status(proc.pid)["voluntary_ctxt_switches"])
        time.sleep(WINDOW)
        after = int(proc_status(proc.pid)["voluntary_ctxt_switches"])
    assert after == before


def test_idle_with_dependencies_and_a_long_interval_check_does_not_wake_up(
    supervise: Callable[..., Supervised],
) -> None:
    """Start order and a check between its runs cost no wakeup either."""
    s = supervise(
        ini=(
            "[program:db]\ncommand=sleep 1000\nstartsecs=0\n"
            "healthcheck=true\nhealthcheck_interval=3600\n"
            "[program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=db\n"
        )
    )
    s.wait("PROCESS_HEALTHY", program="db")
    s.wait("PROCESS_STATE_RUNNING", program="web")
    time.sleep(0.2)  # let start-up finish; the assertion does not depend on this
    before = int(proc_status(s.pid)["voluntary_ctxt_switches"])
    time.sleep(WINDOW)
    after = int(proc_status(s.pid)["voluntary_ctxt_switches"])
    assert after == before
    assert s.stop() == 0


def test_idle_after_an_alert_with_notifiers_does_not_wake_up(
    supervise: Callable[..., Supervised],
) -> None:
    """Notifiers cost no wakeup between alerts: once an alert is sent and its interval is
    long, nothing runs until the next event."""
    with HttpReceiver() as hook:
        s = supervise(
            ini=(
                "[program:once]\ncommand=sh -c 'exit 3'\nstartsecs=0\nautorestart=false\n"
                "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
                f"[notify:hook]\ntype=webhook\nurl={hook.url}\nalarm_interval=3600\n"
                "[notify:mail]\ntype=mail\nurl=smtp://127.0.0.1:9\nto=ops@example.com\n"
                "events=PROCESS_STATE_FATAL\n"
            )
        )
        s.wait("ALERT_SENT", notifier="hook")
        time.sleep(0.2)  # the courier has been reaped (ALERT_SENT comes after); settle
        before = int(proc_status(s.pid)["voluntary_ctxt_switches"])
        time.sleep(WINDOW)
        after = int(proc_status(s.pid)["voluntary_ctxt_switches"])
        assert after == before
        assert s.stop() == 0
