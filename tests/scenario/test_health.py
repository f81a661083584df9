"""Health checks and liveness's action, told as stories on the fake clock.

Given a program whose check is a real command (`test -f FLAG`, so the story decides
when it passes), initsup counts failures against retries, once per interval before a
first pass and not at all in the start period, and with on_unhealthy stops or restarts
the program, the restarts backing off as its own restarts do.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]


def checked(flag: Path, extra: str = "") -> str:
    return (
        "[program:app]\ncommand=sleep 60\nstartsecs=0\n"
        f"healthcheck=test -f {flag}\nhealthcheck_interval=10\nhealthcheck_retries=2\n{extra}"
    )


def unhealthy(s: Scenario) -> int:
    return sum(1 for r in s.records if r["event"] == "PROCESS_UNHEALTHY")


def settle(s: Scenario) -> None:
    """Let the checks under way finish (real commands, reaped by the loop)."""
    facts = s.supervisor.processes["app:app"].facts
    assert facts is not None
    health = s.supervisor.health
    assert health is not None
    s.until(lambda: not any(t.probe and t.probe.running for t in health._tracked.values()))


def test_a_program_that_never_passes_turns_unhealthy_after_retries_intervals(
    story: Story, tmp_path: Path
) -> None:
    s = story(checked(tmp_path / "flag")).start()
    start = s.clock.now
    while not unhealthy(s) and s.clock.now - start < 40:
        s.advance(0.5)  # quick checks at 0.05, 0.1, 0.2 ... s, then every 10 s: all fail
        settle(s)
    # Two failures counted, one interval apart, the first an interval after the start.
    assert 20 <= s.clock.now - start <= 30
    record = s.until_record("PROCESS_UNHEALTHY", program="app")
    assert record["failures"] == 2 and record["detail"] == "exit 1"
    assert s.state("app") == "RUNNING"  # on_unhealthy=none: reported only
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_failures_in_the_start_period_do_not_count(story: Story, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    s = story(checked(flag, "healthcheck_start_period=100\n")).start()
    s.advance(0.1)
    settle(s)
    s.until_record("PROCESS_HEALTHY", program="app")
    flag.unlink()
    for _ in range(5):
        s.advance(10)
        settle(s)
    assert unhealthy(s) == 0
    facts = s.supervisor.processes["app:app"].facts
    assert facts is not None and facts.failures == 0 and facts.ready
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_on_unhealthy_stop_stops_it(story: Story, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    s = story(checked(flag, "on_unhealthy=stop\n")).start()
    s.advance(0.1)
    settle(s)
    s.until_record("PROCESS_READY", program="app")
    flag.unlink()
    s.advance(10)
    settle(s)
    s.advance(10)
    settle(s)
    s.until(lambda: s.state("app") == "STOPPED")
    assert s.find("PROCESS_NOT_READY", program="app") is not None
    s.advance(120)
    assert s.state("app") == "STOPPED"  # and it stays so
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_on_unhealthy_restart_backs_off_as_its_restarts_do(story: Story, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    s = story(checked(flag, "on_unhealthy=restart\nhealthcheck_retries=1\n")).start()
    s.advance(0.1)
    settle(s)
    s.until_record("PROCESS_HEALTHY", program="app")
    flag.unlink()
    for restarts in (1, 2):
        s.advance(10.1)  # the interval after the latest pass: one failure is unhealthy
        settle(s)
        s.until(lambda n=restarts: unhealthy(s) == n)  # type: ignore[misc]
        s.until(lambda n=restarts: len(s.transitions("STOPPED")) == n)  # type: ignore[misc]
        if restarts == 1:
            s.until(lambda: len(s.transitions("STARTING")) == 2)  # the first: at once
            flag.touch()
            s.advance(0.1)
            settle(s)
            s.until_record("PROCESS_HEALTHY", program="app")
            flag.unlink()
    said = s.until_record("app: restarting in 1 s (unhealthy 2 times in a row)")
    assert said["delay"] == 1
    assert len(s.transitions("STARTING")) == 2
    s.advance(1)
    s.until(lambda: len(s.transitions("STARTING")) == 3)
    s.signal(signal.SIGTERM)
    assert s.finish() == 0
