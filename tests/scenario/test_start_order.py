"""Start order gated on readiness, stops in reverse, and the drain, told as stories.

Given programs that depend on each other (depends_on=, or supervisord-dependent-startup's
dependent_startup_wait_for=), initsup starts each only when what it depends on is ready
(here: RUNNING after startsecs on the fake clock) or done (a one-shot that exited as
expected); a dependency that cannot become ready blocks its dependants and says why;
shutdown stops a program before what it depends on; [initsup] drain= holds the stops.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from initsup.control import api
from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]
SLOW = "command=sleep 30\nstartsecs=2\n"  # ready 2 s (fake) after its spawn
QUICK = "command=sleep 30\nstartsecs=0\n"


def started(s: Scenario) -> list[str]:
    return [p for _, p in s.transitions("STARTING")]


def test_a_chain_starts_each_program_only_once_the_one_before_is_ready(story: Story) -> None:
    s = story(
        f"[program:web]\n{SLOW}depends_on=api\n"
        f"[program:api]\n{SLOW}depends_on=db\n"
        f"[program:db]\n{SLOW}\n"
    ).start()
    s.step()
    assert started(s) == ["db"]
    waiting = s.until_record("web: waiting for api (not started yet) before starting")
    assert waiting["program"] == "web"
    s.advance(1.9)
    assert started(s) == ["db"]  # db is STARTING, not yet RUNNING: not ready
    s.advance(0.2)
    s.until(lambda: started(s) == ["db", "api"])
    assert s.state("db") == "RUNNING"
    s.advance(2.1)
    s.until(lambda: started(s) == ["db", "api", "web"])
    assert [p for _, p in s.transitions("RUNNING")] == ["db", "api"]
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_a_finished_one_shot_counts_as_done_for_its_dependants(story: Story) -> None:
    s = story(
        "[program:migrate]\ncommand=true\nstartsecs=0\nautorestart=false\n"
        f"[program:web]\n{QUICK}depends_on=migrate\n"
    ).start()
    s.until(lambda: s.state("migrate") == "EXITED")
    s.until(lambda: s.state("web") == "RUNNING")
    assert started(s) == ["migrate", "web"]
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_a_dependency_that_fails_blocks_its_dependants_and_says_why(story: Story) -> None:
    s = story(
        f"[program:db]\ncommand=false\nstartretries=0\n[program:web]\n{QUICK}depends_on=db\n"
    ).start()
    s.until(lambda: s.state("db") == "FATAL")
    said = s.until_record(
        "web: waits for db, which is FATAL and will not become ready by itself"
        " (start it: initsup ctl start db)"
    )
    assert said["level"] == "warning"
    facts = s.supervisor.processes["web:web"].facts
    assert facts is not None and facts.waiting_for == ["db (FATAL, not ready)"]
    assert s.state("web") == "STOPPED"
    assert started(s) == ["db"]
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_the_plugins_keys_wait_for_the_states_they_name(story: Story) -> None:
    # supervisord-dependent-startup's own file: autostart=false, its listener present.
    s = story(
        "[program:migrate]\ncommand=sleep 1\nstartsecs=0\nautorestart=false\n"
        "[program:web]\ncommand=sleep 30\nstartsecs=0\nautostart=false\n"
        "dependent_startup=true\ndependent_startup_wait_for=migrate:exited\n"
        "[eventlistener:dependentstartup]\ncommand=python -m supervisord_dependent_startup\n"
        "autostart=true\nevents=PROCESS_STATE\n"
    ).start()
    assert "dependentstartup:dependentstartup" not in s.supervisor.processes
    s.until(lambda: s.state("migrate") == "RUNNING")
    s.step()
    assert s.state("web") == "STOPPED"  # migrate is RUNNING: web waits for EXITED
    s.until(lambda: s.state("migrate") == "EXITED", timeout=5)
    s.until(lambda: s.state("web") == "RUNNING")
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_shutdown_stops_a_program_before_what_it_depends_on(story: Story) -> None:
    # Priorities would stop db first (999 > 1); the dependency wins.
    s = story(
        f"[program:web]\n{QUICK}depends_on=db\npriority=1\n[program:db]\n{QUICK}priority=999\n"
    ).start()
    s.until(lambda: s.state("web") == "RUNNING")
    s.signal(signal.SIGTERM)
    assert s.finish() == 0
    assert s.transitions("STOPPING", "STOPPED") == [
        ("STOPPING", "web"),
        ("STOPPED", "web"),
        ("STOPPING", "db"),
        ("STOPPED", "db"),
    ]


def test_the_drain_holds_the_stops_and_a_second_signal_ends_it(story: Story) -> None:
    s = story(f"[initsup]\ndrain=5\n[program:web]\n{QUICK}").start()
    s.until(lambda: s.state("web") == "RUNNING")
    s.signal(signal.SIGTERM)
    s.until_record("draining for 5 s before stopping programs (readiness fails from now)")
    assert s.supervisor.shutting_down
    s.advance(4.9)
    assert s.state("web") == "RUNNING"
    s.advance(0.2)
    s.until(lambda: s.state("web") in ("STOPPING", "STOPPED"))
    assert s.finish() == 0


def test_a_second_signal_while_draining_stops_at_once(story: Story) -> None:
    s = story(f"[initsup]\ndrain=30\n[program:web]\n{QUICK}").start()
    s.until(lambda: s.state("web") == "RUNNING")
    s.signal(signal.SIGTERM)
    s.until_record("draining for 30 s before stopping programs (readiness fails from now)")
    s.signal(signal.SIGTERM)
    s.until_record("received SIGTERM while draining: stopping programs now")
    assert s.finish() == 0
    assert not s.supervisor.processes["web:web"].killed  # stopped, not killed


def test_a_stop_by_hand_calls_off_a_start_that_waits(story: Story) -> None:
    s = story(f"[program:web]\n{QUICK}depends_on=db\n[program:db]\n{SLOW}\n").start()
    s.until_record("web: waiting for db (STARTING, not ready) before starting")
    web = s.supervisor.processes["web:web"]
    refused: list[tuple[object, str]] = []

    def stop_web() -> None:
        api.stop(s.supervisor, [web], refused.append, lambda _: None, _raise)

    s.turn(stop_web)
    assert refused == [(web, api.NOT_RUNNING)]  # supervisorctl's answer stays the same
    s.advance(2.1)
    s.until(lambda: s.state("db") == "RUNNING")
    s.step()
    assert started(s) == ["db"]  # web's start was called off
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def _raise(exc: BaseException) -> None:
    raise exc


def test_a_reload_that_adds_the_first_dependency_waits_for_it(story: Story) -> None:
    # initsup started without any dependency (no health at all); the reload adds db and
    # web that depends on it: web starts only once db is ready.
    s = story(f"[program:old]\n{QUICK}").start()
    s.until(lambda: s.state("old") == "RUNNING")
    assert s.supervisor.health is None
    s.path.write_text(
        f"[program:old]\n{QUICK}[program:db]\n{SLOW}[program:web]\n{QUICK}depends_on=db\n"
    )
    s.signal(signal.SIGHUP)
    s.until(lambda: "web:web" in s.supervisor.processes and s.state("db") == "STARTING")
    s.step()
    assert s.state("web") == "STOPPED"
    s.advance(2.1)
    s.until(lambda: s.state("web") == "RUNNING")
    assert started(s) == ["old", "db", "web"]
    s.signal(signal.SIGTERM)
    assert s.finish() == 0
