"""The main log: every record initsup writes as its own (messages and lifecycle events, as
rendered) is also kept in the feed that XML-RPC's readLog and `maintail` read; what the
programs write is not."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

from initsup.feeds import MAIN_LOG, RECENT_OUTPUT
from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]
CHATTY = "[program:chatty]\ncommand=sh -c 'echo hello-from-the-program; exec sleep 30'\n"


def main_log(s: Scenario) -> list[dict[str, object]]:
    text = s.supervisor.output.recent(MAIN_LOG).decode()
    return [json.loads(line) for line in text.splitlines()]


def test_the_main_log_holds_initsups_records_as_written_and_no_program_output(
    story: Story,
) -> None:
    s = story(CHATTY + "startsecs=0\n").start()
    s.until(lambda: s.find("hello-from-the-program") is not None)
    s.turn(lambda: s.supervisor.logger.info("a message of initsup's own"))

    kept = main_log(s)
    own = [r for r in s.records if r.get("program") is None or r["event"].startswith("PROCESS_")]
    assert kept == own  # byte for byte the records written, in order
    names = [r["event"] for r in kept]
    assert "PROCESS_STATE_RUNNING" in names and "a message of initsup's own" in names
    assert all("hello" not in json.dumps(r) for r in kept)
    written = s.supervisor.output.written(MAIN_LOG)
    assert written == len(s.supervisor.output.recent(MAIN_LOG))

    s.signal(signal.SIGTERM)
    assert s.finish() == 0
    assert main_log(s)[-1]["event"] == "PROCESS_STATE_STOPPED"


def test_the_main_log_is_bounded(story: Story) -> None:
    s = story("[program:idle]\ncommand=sleep 30\nstartsecs=0\n").start()

    def chatter() -> None:
        for _ in range(40):
            s.supervisor.logger.info("x" * 1000)

    for _ in range(3):
        s.turn(chatter)
    assert len(s.supervisor.output.recent(MAIN_LOG)) == RECENT_OUTPUT
    assert s.supervisor.output.written(MAIN_LOG) > RECENT_OUTPUT
    s.signal(signal.SIGTERM)
    assert s.finish() == 0
