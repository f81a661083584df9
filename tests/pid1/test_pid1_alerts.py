"""Alerts with initsup as PID 1 of a fresh namespace: its couriers are its own children,
reaped through their owner (never as unknown pids), and the alert of the essential
program's end reaches its receiver before PID 1 exits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.pid1.namespace import UNSHARE
from tests.receivers import HttpReceiver
from tests.supervised import Supervised

Start = Callable[..., Supervised]


@pytest.mark.pid1
def test_pid1_tells_of_crashes_and_of_its_own_end(supervise: Start) -> None:
    with HttpReceiver() as hook:
        s = supervise(
            prefix=UNSHARE,
            ini=(
                "[program:flaky]\ncommand=sh -c 'echo no disk >&2; exit 4'\nstartsecs=0\n"
                "backoff_max=0\nmax_tries=2\nessential=true\nautorestart=true\n"
                f"[notify:hook]\ntype=webhook\nurl={hook.url}\n"
                "events=PROCESS_STATE_EXITED,ESSENTIAL_EXIT\n"
            ),
        )
        assert s.finish() == 4
        bodies = [r.json for r in hook.wait_for(4)]
        assert [b["event"] for b in bodies] == ["PROCESS_STATE_EXITED"] * 3 + ["ESSENTIAL_EXIT"]
        assert [b["restarts"] for b in bodies[:3]] == [0, 1, 2]
        assert bodies[-1]["exit_code"] == 4 and bodies[-1]["stderr_tail"].endswith("no disk")
        sent = [r for r in s.records if r["event"] == "ALERT_SENT"]
        assert len(sent) == 4
        assert not [r for r in s.records if str(r["event"]).startswith("reaped unknown pid")]
