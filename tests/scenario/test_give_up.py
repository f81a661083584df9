"""The give-up policy, told as stories on the fake clock with real programs.

`max_tries=N`: at most N automatic restarts within `max_tries_window` seconds, so at most
1 + N spawns in any window; the exit that would need one more makes the program FATAL
(from EXITED, initsup's transition), with `gave_up` in the record.
`max_tries_if_coredumped=N` does the same counting only exits that dumped core; these
stories give the kernel's core bit to SIGSEGV deaths where they reap them (a real dump is
tests/integration/test_give_up_live.py's).  A start by hand counts afresh, and an
essential program that gives up ends initsup with its code.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from initsup import reaper
from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]
CRASHER = "[program:crasher]\ncommand=sh -c 'exit 1'\nstartsecs=0\nbackoff_max=0\n"
SEGV = "[program:segv]\ncommand=sh -c 'kill -SEGV $$'\nstartsecs=0\nbackoff_max=0\n"
HELPER = "[program:helper]\ncommand=sleep 30\nstartsecs=0\n"


def starts(s: Scenario, program: str) -> int:
    return s.events(program).count("PROCESS_STATE_STARTING")


def spawned(s: Scenario, program: str, count: int) -> Callable[[], bool]:
    """Whether program has been spawned count times (for Scenario.until)."""
    return lambda: starts(s, program) >= count


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SIGSEGV death is reaped with the kernel's core bit set, as after a dump."""
    real = reaper.reap_all

    def with_core_bit() -> list[tuple[int, int]]:
        return [
            (pid, status | 0x80)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV
            else (pid, status)
            for pid, status in real()
        ]

    monkeypatch.setattr(reaper, "reap_all", with_core_bit)


def test_max_tries_3_is_exactly_4_spawns_then_fatal(story: Story) -> None:
    s = story(CRASHER + "max_tries=3\n").start()
    fatal = s.until_record("PROCESS_STATE_FATAL", program="crasher")
    assert starts(s, "crasher") == 4
    assert s.events("crasher")[-2:] == ["PROCESS_STATE_EXITED", "PROCESS_STATE_FATAL"]
    assert fatal["from_state"] == "EXITED"
    assert fatal["gave_up"] == "max_tries"
    assert fatal["level"] == "error"
    assert fatal["message"] == (
        "gave up: crasher entered FATAL state, 4 restarts within 60 s (max_tries=3)"
    )
    s.advance(3600)
    assert starts(s, "crasher") == 4  # FATAL is for good
    assert s.state("crasher") == "FATAL"


def test_with_the_backoff_the_restarts_come_later_and_still_count(story: Story) -> None:
    """Restarts at once, then after 1 and 2 s (backoff_max=60): the 4th crash gives up."""
    s = story("[program:crasher]\ncommand=sh -c 'exit 1'\nstartsecs=0\nmax_tries=3\n").start()
    s.until_record("crasher: restarting in 1 s (ended 2 times in a row)")
    s.advance(1)
    s.until_record("crasher: restarting in 2 s (ended 3 times in a row)")
    s.advance(2)
    s.until_record("PROCESS_STATE_FATAL", program="crasher")
    assert starts(s, "crasher") == 4


def test_crashes_spread_beyond_the_window_keep_restarting(story: Story) -> None:
    s = story(
        "[program:app]\ncommand=sleep 30\nstartsecs=0\nbackoff_max=0\n"
        "max_tries=1\nmax_tries_window=10\n"
    ).start()
    for crash in range(1, 6):
        s.until(lambda: s.state("app") == "RUNNING")
        s.kill("app", signal.SIGKILL)
        s.until(spawned(s, "app", crash + 1))
        s.advance(10.5)  # the last restart is out of the window by the next crash
    assert s.find("PROCESS_STATE_FATAL", program="app") is None

    s.until(lambda: s.state("app") == "RUNNING")
    s.kill("app", signal.SIGKILL)  # two crashes within 10 s: the second is refused
    s.until(lambda: starts(s, "app") == 7 and s.state("app") == "RUNNING")
    s.advance(9.5)
    s.kill("app", signal.SIGKILL)
    fatal = s.until_record("PROCESS_STATE_FATAL", program="app")
    assert (
        fatal["message"] == "gave up: app entered FATAL state, 2 restarts within 10 s (max_tries=1)"
    )


@pytest.mark.usefixtures("cores")
def test_max_tries_if_coredumped_1_gives_up_after_the_second_dump(story: Story) -> None:
    s = story(SEGV + "max_tries_if_coredumped=1\n").start()
    fatal = s.until_record("PROCESS_STATE_FATAL", program="segv")
    assert starts(s, "segv") == 2
    ends = [r for r in s.records if r["event"] == "PROCESS_STATE_EXITED"]
    assert [(r["signal"], r["exit_code"], r["core_dumped"]) for r in ends] == [
        ("SIGSEGV", 139, True),
        ("SIGSEGV", 139, True),
    ]
    assert ends[0]["message"] == "exited: segv (terminated by SIGSEGV (core dumped); not expected)"
    assert fatal["gave_up"] == "max_tries_if_coredumped"
    assert fatal["message"] == (
        "gave up: segv entered FATAL state, 2 exits that dumped core within 60 s"
        " (max_tries_if_coredumped=1)"
    )


@pytest.mark.parametrize(
    "command", ["sh -c 'exit 1'", "sh -c 'kill -SEGV $$'"], ids=["exit", "segv-no-core"]
)
def test_ends_that_dumped_no_core_do_not_count_for_it(story: Story, command: str) -> None:
    s = story(
        f"[program:app]\ncommand={command}\nstartsecs=0\nbackoff_max=0\nmax_tries_if_coredumped=1\n"
    ).start()
    s.until(lambda: starts(s, "app") >= 10)
    assert s.find("PROCESS_STATE_FATAL", program="app") is None
    assert all("core_dumped" not in r for r in s.records)


def test_a_start_by_hand_after_fatal_counts_afresh(story: Story) -> None:
    s = story(CRASHER + "max_tries=3\n").start()
    s.until_record("PROCESS_STATE_FATAL", program="crasher")
    assert starts(s, "crasher") == 4

    process = s.supervisor.processes["crasher:crasher"]

    def start_by_hand() -> None:  # what `ctl start crasher` does, on the loop's thread
        assert process.start()

    s.turn(start_by_hand)
    s.until(lambda: s.events("crasher").count("PROCESS_STATE_FATAL") == 2)
    assert starts(s, "crasher") == 8
    assert process.restarts == 6


def test_an_essential_program_that_gives_up_ends_initsup_with_its_code(story: Story) -> None:
    s = story(
        "[program:app]\ncommand=sh -c 'exit 3'\nessential=true\nautorestart=true\n"
        f"startsecs=0\nbackoff_max=0\nmax_tries=2\n{HELPER}"
    ).start()
    assert s.finish() == 3
    assert starts(s, "app") == 3
    assert s.events("app")[-1] == "PROCESS_STATE_FATAL"
    assert s.find("shutting down: essential program app ended (FATAL)")
    assert s.events("helper")[-1] == "PROCESS_STATE_STOPPED"
