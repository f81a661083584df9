"""initsup's exit code, told as stories: whose end ends the run, and with which code.

An essential program that ends for good ends initsup with its own code (128+N when
signal N killed it, 127 when it could never start), after the other programs stopped; so
does the main program given after `--`.  A requested shutdown exits 0, or 137 when a
program had to be killed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]
HELPER = "[program:helper]\ncommand=sleep 30\nstartsecs=0\n"


def test_an_essential_program_ends_initsup_with_its_own_code(story: Story) -> None:
    s = story(f"[program:job]\ncommand=sh -c 'exit 5'\nessential=true\nstartsecs=0\n{HELPER}")
    s.start()
    assert s.finish() == 5
    assert s.events("job")[-1] == "PROCESS_STATE_EXITED"
    assert s.find("shutting down: essential program job ended (EXITED)")
    assert s.events("helper")[-2:] == ["PROCESS_STATE_STOPPING", "PROCESS_STATE_STOPPED"]


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGKILL, 137), (signal.SIGTERM, 143), (signal.SIGUSR1, 138)]
)
def test_an_essential_program_killed_by_a_signal_ends_initsup_with_128_plus_n(
    story: Story, signum: int, code: int
) -> None:
    s = story(f"[program:app]\ncommand=sleep 30\nessential=true\nstartsecs=0\n{HELPER}").start()
    s.until(lambda: s.state("app") == "RUNNING" and s.state("helper") == "RUNNING")

    s.kill("app", signum)  # from outside initsup: the OOM killer, a `kill` by hand
    assert s.finish() == code
    exited = s.find("PROCESS_STATE_EXITED", program="app")
    assert exited is not None and exited["exit_code"] == code
    assert s.events("helper")[-1] == "PROCESS_STATE_STOPPED"


def test_an_essential_program_that_cannot_start_ends_initsup_with_127(story: Story) -> None:
    s = story(
        f"[program:app]\ncommand=/nonexistent/app\nessential=true\nstartretries=0\n{HELPER}"
    ).start()
    assert s.finish() == 127
    assert s.events("app")[-1] == "PROCESS_STATE_FATAL"


def test_the_main_program_ends_initsup_with_its_code(story: Story) -> None:
    s = story(HELPER, main=["sh", "-c", "exit 7"]).start()
    assert s.finish() == 7
    assert s.events("main")[-1] == "PROCESS_STATE_EXITED"
    assert s.events("helper")[-1] == "PROCESS_STATE_STOPPED"


def test_a_requested_shutdown_exits_0_even_with_an_essential_program(story: Story) -> None:
    s = story(f"[program:app]\ncommand=sleep 30\nessential=true\nstartsecs=0\n{HELPER}").start()
    s.until(lambda: s.state("app") == "RUNNING" and s.state("helper") == "RUNNING")

    s.signal(signal.SIGTERM)
    assert s.finish() == 0  # app was stopped by initsup: its 143 is not initsup's
    stopped = s.find("PROCESS_STATE_STOPPED", program="app")
    assert stopped is not None and stopped["exit_code"] == 143


def test_a_shutdown_that_had_to_kill_exits_137(story: Story) -> None:
    stubborn = "sh -c \"trap '' TERM; echo ready; exec sleep 30\""
    s = story(f"[program:stubborn]\ncommand={stubborn}\nstopwaitsecs=1\n").start()
    s.until_record("ready", program="stubborn")

    s.signal(signal.SIGTERM)
    s.until_record("PROCESS_STATE_STOPPING", program="stubborn")
    s.advance(1)
    assert s.finish() == 137
