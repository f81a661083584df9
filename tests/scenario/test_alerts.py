"""Alerts, told as stories on the fake clock: what reaches a webhook, and how often.

The notifier is real (its courier is a child process that POSTs to a receiver on
loopback); the clock is the story's, so an alarm_interval of 60 s passes when the story
says so and not before.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers import wait_for
from tests.receivers import HttpReceiver
from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]


class Receiver:
    """A webhook receiver on loopback: every JSON body it got, in order."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    yield got
    got.close()


def crash_loop(tmp_path: Any, crashes: int) -> str:
    """A program that crashes `crashes` times (a line on stderr each), then stays up."""
    return (
        "[program:crash]\n"
        "command=sh -c 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count;"
        f" [ $n -gt {crashes} ] && exec sleep 1000; echo boom $n >&2; exit 3'\n"
        f"directory={tmp_path}\nstartsecs=0\nbackoff_max=0\n"
    )


def sent(s: Scenario) -> list[dict[str, Any]]:
    return [r for r in s.records if r["event"] == "ALERT_SENT"]


def test_twenty_crashes_in_one_alarm_interval_make_one_alert_and_one_summary(
    story: Story, receiver: Receiver, tmp_path: Any
) -> None:
    notify = f"[notify:hook]\ntype=webhook\nurl={receiver.url}\nalarm_interval=60\n"
    s = story(crash_loop(tmp_path, 20) + notify).start()
    s.until(lambda: s.events("crash").count("PROCESS_STATE_EXITED") == 20, timeout=20)
    s.until(lambda: len(sent(s)) == 1)
    held = [r for r in s.records if r["event"] == "ALERT_SUPPRESSED"]
    assert [r["suppressed"] for r in held] == list(range(1, 20))
    [first] = receiver.bodies
    assert (first["event"], first["program"], first["suppressed"]) == (
        "PROCESS_STATE_EXITED",
        "crash",
        0,
    )
    assert (first["exit_code"], first["expected"], first["stderr_tail"]) == (3, False, "boom 1")

    s.advance(59.9)
    assert len(receiver.bodies) == 1  # the interval is not over
    s.advance(0.1)
    s.until(lambda: len(sent(s)) == 2)
    summary = receiver.bodies[1]
    assert summary["suppressed"] == 19
    assert summary["stderr_tail"].splitlines()[-1] == "boom 20"
    assert sent(s)[1]["suppressed"] == 19

    s.advance(120)  # quiet intervals send nothing more
    s.step()
    assert len(receiver.bodies) == 2


def test_expected_exits_and_other_programs_do_not_alert(
    story: Story, receiver: Receiver, tmp_path: Any
) -> None:
    s = story(
        "[program:done]\ncommand=sh -c 'exit 0'\nstartsecs=0\nautorestart=unexpected\n"
        "[program:other]\ncommand=sh -c 'exit 4'\nstartsecs=0\nautorestart=false\n"
        "[program:watched]\ncommand=sh -c 'sleep 0.2; exit 5'\nstartsecs=0\nautorestart=false\n"
        f"[notify:hook]\ntype=webhook\nurl={receiver.url}\nprograms=done,watched\n"
    ).start()
    s.until(lambda: len(sent(s)) == 1, timeout=10)
    assert [b["program"] for b in receiver.bodies] == ["watched"]
    assert receiver.bodies[0]["exit_code"] == 5


def test_the_essential_programs_end_is_told_before_initsup_exits(
    story: Story, receiver: Receiver
) -> None:
    s = story(
        "[program:main]\ncommand=sh -c 'exit 7'\nstartsecs=0\nautorestart=false\nessential=true\n"
        f"[notify:hook]\ntype=webhook\nurl={receiver.url}\nevents=ESSENTIAL_EXIT\n"
    ).start()
    assert s.finish(timeout=10) == 7
    wait_for(lambda: len(receiver.bodies) == 1)
    [body] = receiver.bodies
    assert (body["event"], body["program"], body["exit_code"]) == ("ESSENTIAL_EXIT", "main", 7)
    assert s.find("ALERT_SENT", alert="ESSENTIAL_EXIT") is not None


def test_a_reload_moves_alerts_to_the_new_notifier(story: Story, tmp_path: Any) -> None:
    first, second = Receiver(), Receiver()
    try:
        program = "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
        s = story(program + f"[notify:hook]\ntype=webhook\nurl={first.url}\n").start()
        s.until(lambda: s.state("web") == "RUNNING")
        s.kill("web", signal.SIGKILL)
        s.until(lambda: len(sent(s)) == 1, timeout=10)
        s.path.write_text(program + f"[notify:hook]\ntype=webhook\nurl={second.url}\n")
        s.signal(signal.SIGHUP)
        s.until_record("configuration reloaded: 0 added, 0 changed, 0 removed")
        s.until(lambda: s.state("web") == "RUNNING")
        s.kill("web", signal.SIGKILL)
        s.until(lambda: len(sent(s)) == 2, timeout=10)
        assert [b["signal"] for b in first.bodies + second.bodies] == ["SIGKILL", "SIGKILL"]
        assert (len(first.bodies), len(second.bodies)) == (1, 1)
    finally:
        first.close()
        second.close()


WEB = "[program:web]\ncommand=sleep 1000\nstartsecs=0\nbackoff_max=0\n"


def crash(s: Scenario, times: int = 1) -> None:
    """Kill web `times` times, each once it runs again (it restarts at once)."""

    def exits() -> int:
        return s.events("web").count("PROCESS_STATE_EXITED")

    wanted = exits()
    for _ in range(times):
        wanted += 1
        s.until(lambda: s.state("web") == "RUNNING")
        s.kill("web", signal.SIGKILL)
        s.until(lambda: exits() >= wanted)  # noqa: B023 (used at once, in this pass)


def named(s: Scenario, event: str) -> list[dict[str, Any]]:
    return [r for r in s.records if r["event"] == event]


def test_a_failed_send_is_retried_after_1_then_2_s(story: Story) -> None:
    with HttpReceiver(status=[503, 503, 200]) as hook:
        s = story(WEB + f"[notify:hook]\ntype=webhook\nurl={hook.url}\n").start()
        crash(s)
        s.until(lambda: len(named(s, "ALERT_FAILED")) == 1)
        assert named(s, "ALERT_FAILED")[0]["retry_in"] == 1
        s.advance(0.99)
        assert len(hook.requests) == 1
        s.advance(0.01)
        s.until(lambda: len(named(s, "ALERT_FAILED")) == 2)
        assert named(s, "ALERT_FAILED")[1]["retry_in"] == 2
        s.advance(2)
        s.until(lambda: len(sent(s)) == 1)
        assert (sent(s)[0]["attempt"], sent(s)[0]["status"]) == (3, 200)
        assert [r.status for r in hook.requests] == [503, 503, 200]


def test_a_rate_limit_delays_what_is_over_it(story: Story) -> None:
    with HttpReceiver() as hook:
        s = story(WEB + f"[notify:hook]\ntype=webhook\nurl={hook.url}\nrate_limit=2\n").start()
        crash(s, 3)
        s.until(lambda: len(sent(s)) == 2)
        s.advance(29)  # a token comes every 30 s
        s.step(0.2)
        assert len(sent(s)) == 2
        s.advance(1.1)
        s.until(lambda: len(sent(s)) == 3)
        assert len(hook.requests) == 3


def test_a_batch_is_one_send(story: Story) -> None:
    with HttpReceiver() as hook:
        s = story(WEB + f"[notify:hook]\ntype=webhook\nurl={hook.url}\nbatch=10\n").start()
        crash(s, 3)
        s.step(0.2)
        assert hook.requests == []
        s.advance(10)
        s.until(lambda: len(sent(s)) == 1)
        [request] = hook.requests
        assert request.json["count"] == 3
        assert [a["signal"] for a in request.json["alerts"]] == ["SIGKILL"] * 3
        assert sent(s)[0]["count"] == 3


def test_past_its_queue_the_oldest_waiting_alert_is_dropped(story: Story) -> None:
    with HttpReceiver(mode="hang") as hook:
        config = f"[notify:hook]\ntype=webhook\nurl={hook.url}\nqueue=2\n"
        s = story(WEB + config).start()
        crash(s, 5)  # the first hangs in its courier; two wait; two are dropped
        s.until(lambda: len(named(s, "ALERT_DROPPED")) == 2)
        assert {r["reason"] for r in named(s, "ALERT_DROPPED")} == {"the queue is full"}
        s.step(0.2)
        assert len(named(s, "ALERT_DROPPED")) == 2
        # At shutdown the last alerts get the notifier's timeout + 2 s (7 s) at most; then
        # what is left is dropped, and initsup ends once the courier it killed is reaped.
        s.signal(signal.SIGTERM)
        s.until(lambda: s.state("web") == "STOPPED")
        s.advance(6.9)
        assert not s.ended
        s.advance(0.1)
        assert s.finish() == 0
        exiting = [r for r in named(s, "ALERT_DROPPED") if r["reason"] == "initsup is exiting"]
        assert len(exiting) == 3  # the one in its courier, and the two that waited


def test_a_courier_that_cannot_start_is_a_failed_attempt(
    story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    from initsup.alerts import courier

    monkeypatch.setattr(courier, "command", lambda: ["/nonexistent/python3"])
    s = story(WEB + "[notify:hook]\ntype=webhook\nurl=http://127.0.0.1:9/\nretries=1\n").start()
    crash(s)
    s.until(lambda: len(named(s, "ALERT_FAILED")) == 1)
    first = named(s, "ALERT_FAILED")[0]
    assert first["detail"].startswith("courier not started") and first["retry_in"] == 1
    s.advance(1)
    s.until(lambda: len(named(s, "ALERT_FAILED")) == 2)
    assert named(s, "ALERT_FAILED")[1]["final"] is True
    assert s.state("web") == "RUNNING"  # supervision goes on as ever


def test_every_subscriber_hears_of_a_crash_before_its_alerts_records(story: Story) -> None:
    with HttpReceiver() as hook:
        config = f"[notify:hook]\ntype=webhook\nurl={hook.url}\nalarm_interval=60\n"
        s = story(WEB + config).start()
        heard: list[str] = []
        s.turn(lambda: s.supervisor.bus.subscribe(lambda event: heard.append(event.name)))
        crash(s, 2)
        s.until(lambda: "ALERT_SUPPRESSED" in heard and "ALERT_SENT" in heard)
        names = [n for n in heard if n in ("PROCESS_STATE_EXITED", "ALERT_SUPPRESSED")]
        assert names == ["PROCESS_STATE_EXITED", "PROCESS_STATE_EXITED", "ALERT_SUPPRESSED"]
        s.signal(signal.SIGTERM)  # what alarm_interval holds goes out before initsup ends
        assert s.finish() == 0
        assert [r.json["suppressed"] for r in hook.requests] == [0, 1]


def test_no_pipe_for_a_courier_fails_each_send_in_turn(
    story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    from initsup.alerts import outbox

    def no_pipes(*args: object) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(outbox, "_Courier", no_pipes)
    config = "[notify:hook]\ntype=webhook\nurl=http://127.0.0.1:9/\nretries=0\nqueue=500\n"
    s = story(WEB + config).start()
    crash(s, 3)
    s.until(lambda: len(named(s, "ALERT_FAILED")) == 3)
    failed = named(s, "ALERT_FAILED")
    assert all(r["final"] and "Too many open files" in r["detail"] for r in failed)
    assert s.state("web") == "RUNNING"
