"""Shutdown, told as stories: tiers in reverse priority, groups as one, SIGKILL when due.

Given programs that run, when a shutdown signal arrives, then initsup stops them highest
priority first, every program of one priority at once, and moves to the next tier only
when the last one has stopped; a program that ignores SIGTERM is killed after its
stopwaitsecs (on the fake clock), and a second signal kills everything at once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]
SLEEPER = "command=sleep 30\nstartsecs=0\n"
# Ignores SIGTERM (sleep inherits the ignored disposition through exec); says so first,
# so that no SIGTERM can come before the trap is set.
STUBBORN = "command=sh -c \"trap '' TERM; echo ready; exec sleep 30\"\nstartsecs=0\n"


def running(s: Scenario, *programs: str) -> None:
    s.until(lambda: all(s.state(p) == "RUNNING" for p in programs))


def test_programs_stop_in_reverse_priority_each_priority_together(story: Story) -> None:
    s = story(
        f"[program:db]\n{SLEEPER}priority=1\n"
        f"[program:api]\n{SLEEPER}priority=5\n"
        f"[program:web]\n{SLEEPER}priority=10\n"
        f"[program:cache]\n{SLEEPER}priority=10\n"
    ).start()
    running(s, "db", "api", "web", "cache")
    assert [p for _, p in s.transitions("STARTING")] == ["db", "api", "cache", "web"]

    s.signal(signal.SIGTERM)
    assert s.finish() == 0

    order = s.transitions("STOPPING", "STOPPED")
    assert sorted(order[:2]) == [("STOPPING", "cache"), ("STOPPING", "web")]  # together
    assert sorted(order[2:4]) == [("STOPPED", "cache"), ("STOPPED", "web")]
    assert order[4:] == [
        ("STOPPING", "api"),
        ("STOPPED", "api"),
        ("STOPPING", "db"),
        ("STOPPED", "db"),
    ]
    names = [r["event"] for r in s.records]
    assert names.index("shutting down: received SIGTERM") < names.index("PROCESS_STATE_STOPPING")


def test_a_group_priority_orders_its_whole_group(story: Story) -> None:
    # backend's own priority (50) decides when db and worker stop, not theirs (1, 900):
    # web (100) goes first, then both of backend's programs at once, worker asked first.
    s = story(
        f"[program:db]\n{SLEEPER}priority=1\n"
        f"[program:worker]\n{SLEEPER}priority=900\n"
        f"[program:web]\n{SLEEPER}priority=100\n"
        "[group:backend]\nprograms=db,worker\npriority=50\n"
    ).start()
    running(s, "backend:db", "backend:worker", "web")

    s.signal(signal.SIGTERM)
    assert s.finish() == 0

    order = s.transitions("STOPPING", "STOPPED")
    assert order[:2] == [("STOPPING", "web"), ("STOPPED", "web")]
    assert order[2:4] == [("STOPPING", "worker"), ("STOPPING", "db")]
    assert sorted(order[4:]) == [("STOPPED", "db"), ("STOPPED", "worker")]


def test_a_program_ignoring_sigterm_is_killed_after_stopwaitsecs(story: Story) -> None:
    s = story(f"[program:stubborn]\n{STUBBORN}stopwaitsecs=5\n").start()
    s.until_record("ready", program="stubborn")

    s.signal(signal.SIGTERM)
    stopping = s.until_record("PROCESS_STATE_STOPPING", program="stubborn")
    assert stopping["message"].endswith("SIGKILL after 5 s")
    s.advance(4.9)
    assert s.state("stubborn") == "STOPPING"
    assert not any(r["event"].startswith("killing") for r in s.records)

    s.advance(0.1)
    assert s.find(f"killing 'stubborn' ({stopping['pid']}) with SIGKILL", level="warning")
    assert s.finish() == 137  # something had to be killed
    stopped = s.find("PROCESS_STATE_STOPPED", program="stubborn")
    assert stopped is not None
    assert stopped["signal"] == "SIGKILL" and stopped["level"] == "warning"


def test_a_second_shutdown_signal_kills_everything_now(story: Story) -> None:
    s = story(
        f"[program:stubborn]\n{STUBBORN}stopwaitsecs=60\npriority=10\n"
        f"[program:later]\n{STUBBORN}stopwaitsecs=60\npriority=1\n"
    ).start()
    s.until_record("ready", program="stubborn")
    s.until_record("ready", program="later")

    s.signal(signal.SIGTERM)
    s.until_record("PROCESS_STATE_STOPPING", program="stubborn")
    assert s.state("later") == "RUNNING"  # the next tier waits for stubborn's end

    s.signal(signal.SIGINT)  # no time passes: nobody waits for stopwaitsecs
    assert s.find("received SIGINT while shutting down: killing every program now")
    assert s.finish() == 137
    assert s.events("stubborn")[-1] == "PROCESS_STATE_STOPPED"
    assert s.events("later")[-2:] == ["PROCESS_STATE_STOPPING", "PROCESS_STATE_STOPPED"]
    killed = [r["program"] for r in s.records if r.get("signal") == "SIGKILL"]
    assert sorted(killed) == ["later", "stubborn"]


def test_a_program_waiting_to_be_retried_is_stopped_not_given_up(story: Story) -> None:
    s = story(
        "[program:flaky]\ncommand=sh -c 'exit 1'\nstartsecs=5\nstartretries=3\n"
        f"[program:steady]\n{SLEEPER}"
    ).start()
    s.until(lambda: s.state("flaky") == "BACKOFF" and s.state("steady") == "RUNNING")

    s.signal(signal.SIGTERM)
    assert s.finish() == 0
    assert s.events("flaky")[-1] == "PROCESS_STATE_STOPPED"  # not FATAL, as supervisord has it
    s.advance(10)  # the retry it was waiting for never comes
    assert s.events("flaky").count("PROCESS_STATE_STARTING") == 1


SILENT_LISTENER = (
    # READY, then it takes one event and never answers: it holds that event for good.
    "[eventlistener:mute]\ncommand=sh -c 'echo READY; read header; exec sleep 30'\n"
    "events=PROCESS_STATE\nstartsecs=0\n"
)


def test_a_listener_that_never_answers_holds_the_shutdown_at_most_the_grace(
    story: Story,
) -> None:
    """Listeners are stopped after the stops before theirs are heard, but one that never
    answers is given LISTENER_GRACE (2 s) and then stopped all the same."""
    s = story(SILENT_LISTENER + f"[program:web]\n{SLEEPER}").start()
    running(s, "mute", "web")

    s.signal(signal.SIGTERM)
    s.until_record("PROCESS_STATE_STOPPED", program="web")
    s.advance(1.9)
    assert s.state("mute") == "RUNNING"  # still given the time to hear web's stop
    s.advance(0.2)
    s.until_record("PROCESS_STATE_STOPPING", program="mute")
    assert s.finish() == 0
