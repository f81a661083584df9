"""Restarts, told as stories on the fake clock: how long initsup waits, and when it gives up.

A program that crashes after RUNNING is restarted at once the first time, then after
1, 2, 4... s, capped at backoff_max (initsup's rule; supervisord restarts at once
forever).  A program that exits within startsecs is in BACKOFF, retried after 1, 2, 3 s
(supervisord's rule), and FATAL once startretries is used up.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]


def starts(s: Scenario, program: str) -> int:
    return s.events(program).count("PROCESS_STATE_STARTING")


def test_a_crash_loop_after_running_is_restarted_after_1_2_4_s_capped(story: Story) -> None:
    s = story("[program:crasher]\ncommand=sh -c 'exit 1'\nstartsecs=0\nbackoff_max=4\n")
    s.start()
    # The first crash is restarted at once; the second one waits.
    s.until_record("crasher: restarting in 1 s (ended 2 times in a row)")
    assert starts(s, "crasher") == 2
    assert s.state("crasher") == "EXITED"

    delays = [1, 2, 4, 4, 4]  # doubling, then capped at backoff_max
    for crash, (delay, following) in enumerate(zip(delays, delays[1:]), start=3):
        count = starts(s, "crasher")
        s.advance(delay - 0.01)
        assert starts(s, "crasher") == count, f"restarted before {delay} s"
        s.advance(0.01)
        assert starts(s, "crasher") == count + 1, f"not restarted after {delay} s"
        s.until_record(f"crasher: restarting in {following} s (ended {crash} times in a row)")
    logged = [r["delay"] for r in s.records if r["event"].startswith("crasher: restarting")]
    assert logged == delays


def test_quick_exits_back_off_1_2_3_s_then_fatal(story: Story) -> None:
    s = story("[program:flaky]\ncommand=sh -c 'exit 0'\nstartsecs=1\nstartretries=3\n").start()
    s.until(lambda: s.state("flaky") == "BACKOFF")
    assert starts(s, "flaky") == 1

    for delay in (1, 2, 3):
        s.advance(delay - 0.01)
        assert starts(s, "flaky") == delay, f"retried before {delay} s"
        s.advance(0.01)
        assert starts(s, "flaky") == delay + 1, f"not retried after {delay} s"
        s.until(lambda: s.state("flaky") in ("BACKOFF", "FATAL"))

    assert s.state("flaky") == "FATAL"
    tries = [r["tries"] for r in s.records if r["event"] == "PROCESS_STATE_BACKOFF"]
    assert tries == [1, 2, 3, 4]
    fatal = s.find("PROCESS_STATE_FATAL", program="flaky")
    assert fatal is not None and fatal["level"] == "error"
    s.advance(60)
    assert starts(s, "flaky") == 4  # FATAL is for good: no timer is left
