"""Live, ready, started and done (initsup.health.verdicts) on processes driven through a
fake host, with hand-made Facts where a monitor would keep them."""

from __future__ import annotations

from typing import Any

import pytest

from initsup.health.facts import Facts, Result
from initsup.health.verdicts import QUESTIONS, done, live, ready, started, watched
from initsup.model import ProcessConfig
from initsup.process import Process
from initsup.states import ProcessState
from tests.fakes import FakeClock, FakeHost, exited

S = ProcessState


def make(name: str = "web", **options: Any) -> tuple[FakeHost, Process]:
    """A STOPPED process on a fake host whose clock does not start at 0 (as monotonic
    time never is)."""
    options.setdefault("startsecs", 1)
    host = FakeHost(FakeClock(100.0))
    return host, Process(ProcessConfig(name, ["/bin/true"], **options), host)


def running(**options: Any) -> tuple[FakeHost, Process]:
    host, proc = make(**options)
    proc.start()
    host.advance(proc.config.startsecs)
    assert proc.state == S.RUNNING
    return host, proc


def state_of(proc: Process) -> ProcessState:
    """A call, so that mypy does not narrow the state across transitions."""
    return proc.state


def verdicts(proc: Process) -> dict[str, tuple[bool, str]]:
    return {name: question(proc) for name, question in QUESTIONS.items()}


def test_without_facts_running_is_live_ready_and_started() -> None:
    _, proc = running()
    assert verdicts(proc) == {"live": (True, ""), "ready": (True, ""), "started": (True, "")}


def test_without_facts_starting_is_live_but_neither_ready_nor_started() -> None:
    _, proc = make()
    proc.start()
    assert live(proc) == (True, "")
    assert ready(proc) == (False, "STARTING, not ready")
    assert started(proc) == (False, "STARTING, not ready")


def test_a_stopped_program_that_ran_stays_started_but_not_ready() -> None:
    _, proc = running()
    proc.stop()
    proc.exited(exited(0))
    assert proc.state == S.STOPPED
    assert ready(proc) == (False, "STOPPED")
    assert started(proc) == (True, "")
    assert live(proc) == (True, "")


def test_a_crash_restart_is_live_and_stays_started_but_not_ready() -> None:
    # startupProbe asks once per container: a program inside it that restarts has
    # started already, and only readiness says it is coming back.
    host, proc = running(startretries=3)
    host.advance(1)
    proc.exited(exited(1))  # unexpected: restarted at once (initsup's first restart)
    assert proc.state in (S.STARTING, S.BACKOFF, S.EXITED)
    assert live(proc)[0]
    assert started(proc) == (True, "")
    assert ready(proc) == (False, f"{proc.state.name}, not ready")
    host.advance(5)
    assert state_of(proc) == S.RUNNING
    assert ready(proc) == (True, "")


def test_fatal_is_not_live() -> None:
    _, proc = make(startretries=0)
    proc.start()
    proc.exited(exited(1))
    assert proc.state == S.FATAL
    assert verdicts(proc) == {
        "live": (False, "FATAL"),
        "ready": (False, "FATAL"),
        "started": (False, "FATAL"),
    }


def test_a_one_shot_that_exited_as_expected_is_done_and_counts_as_up() -> None:
    _, proc = running(autorestart="false")
    proc.exited(exited(0))
    assert proc.state == S.EXITED
    assert done(proc)
    assert verdicts(proc) == {"live": (True, ""), "ready": (True, ""), "started": (True, "")}


def test_an_unexpected_exit_is_not_done() -> None:
    _, proc = running(autorestart="false")
    proc.exited(exited(3))
    assert proc.state == S.EXITED and not done(proc)
    assert ready(proc) == (False, "EXITED (exit status 3)")


def test_an_expected_exit_that_restarts_is_not_done() -> None:
    _, proc = running(autorestart="true")
    proc.exited(exited(0))
    assert not done(proc)


def test_a_passed_check_makes_a_process_ready_even_while_starting() -> None:
    _, proc = make()
    proc.start()
    proc.facts = Facts("http")
    proc.facts.ready = proc.facts.ever_ready = True
    proc.facts.healthy = True
    assert verdicts(proc) == {"live": (True, ""), "ready": (True, ""), "started": (True, "")}


def test_running_without_a_passed_check_is_not_ready_and_says_why() -> None:
    _, proc = running()
    proc.facts = Facts("http")
    proc.facts.last = Result(False, "HTTP 503")
    proc.facts.failures = 1
    assert ready(proc) == (False, "RUNNING, not ready: HTTP 503")
    assert started(proc) == (False, "RUNNING, not ready: HTTP 503")
    assert live(proc) == (True, "")  # no verdict yet: healthy is None


def test_unhealthy_is_not_live_nor_ready_but_stays_started() -> None:
    _, proc = running()
    proc.facts = Facts("http")
    proc.facts.ever_ready = True
    proc.facts.healthy = False
    proc.facts.failures = 3
    proc.facts.last = Result(False, "HTTP 503")
    assert live(proc) == (False, "unhealthy: HTTP 503 (3 failed checks)")
    assert ready(proc) == (False, "RUNNING, not ready: HTTP 503")
    assert started(proc) == (True, "")


def test_ready_facts_of_a_process_no_longer_alive_do_not_count() -> None:
    _, proc = running()
    proc.facts = Facts("notify")
    proc.facts.ready = True
    proc.stop()
    assert proc.state == S.STOPPING
    assert ready(proc) == (False, "STOPPING")


def test_a_waiting_process_says_what_it_waits_for() -> None:
    _, proc = make()
    proc.facts = Facts(None)
    proc.facts.waiting_for = ["db (not ready: HTTP 503)", "cache"]
    assert ready(proc) == (False, "waiting for db (not ready: HTTP 503), cache")
    assert started(proc) == (False, "waiting for db (not ready: HTTP 503), cache")
    assert live(proc) == (True, "")


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        ({"a": {}, "b": {}, "c": {"autostart": False}}, ["a", "b"]),
        ({"a": {}, "b": {"essential": True}, "c": {"autostart": False}}, ["b"]),
        ({"a": {"essential": True, "autostart": False}, "b": {}}, ["a"]),
        ({"a": {"autostart": False}}, []),
    ],
)
def test_watched_are_the_essential_ones_else_every_autostart_one(
    marks: dict[str, dict[str, Any]], expected: list[str]
) -> None:
    host = FakeHost()
    processes = [Process(ProcessConfig(n, ["/bin/true"], **o), host) for n, o in marks.items()]
    assert [p.name for p in watched(processes)] == expected
