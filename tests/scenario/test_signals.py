"""Signals other than shutdown and reload, told as a story: who hears them.

A signal that programs asked for with forward_signals reaches those programs and no
others (initsup's addition: supervisord passes no signal on).
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Callable

from tests.helpers import helper
from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]
# Prints each signal number it gets (and `ready ...` first); SIGTERM ends it.
PRINTS = shlex.join(helper("print_signals", "--exit-on", str(int(signal.SIGTERM))))


def said(s: Scenario, program: str, prefix: str) -> bool:
    return any(r.get("program") == program and r["event"].startswith(prefix) for r in s.records)


def test_a_signal_reaches_the_programs_that_asked_for_it_and_no_others(story: Story) -> None:
    # deaf would die of a SIGUSR1 (its default action) the moment one reached it.
    s = story(
        f"[program:wants]\ncommand={PRINTS}\nstartsecs=0\nforward_signals=USR1\n"
        "[program:deaf]\ncommand=sleep 30\nstartsecs=0\n"
    ).start()
    s.until(lambda: said(s, "wants", "ready") and s.state("deaf") == "RUNNING")

    s.signal(signal.SIGUSR1)
    s.until_record(str(int(signal.SIGUSR1)), program="wants")
    s.step()  # reaps deaf, had it died of the signal
    assert s.events("deaf") == ["PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"]

    s.signal(signal.SIGTERM)
    assert s.finish() == 0
    stopped = s.find("PROCESS_STATE_STOPPED", program="deaf")
    assert stopped is not None and stopped["signal"] == "SIGTERM"
