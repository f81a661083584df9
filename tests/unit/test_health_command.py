"""`initsup ctl health` with and without --live/--ready/--startup, and the words a
process's health facts add to `ctl status`, its JSON and XML-RPC descriptions: in-process
over a fake clock (tests/integration/test_probes.py runs the same against a real initsup)."""

from __future__ import annotations

import time

from initsup.control import api, commands, rpcmethods
from initsup.health.facts import Facts, Result
from initsup.process import Process
from tests.control_host import ControlHost, Recorder


def _run(host: ControlHost, *args: str) -> Recorder:
    reply = Recorder()
    commands.COMMANDS["health"](host, host.feed, reply, list(args))
    return reply


def _err(reply: Recorder) -> list[str]:
    return [value for kind, value in reply.lines if kind == "err"]


def _host() -> tuple[ControlHost, Process, Process]:
    """web RUNNING; db STARTING (startsecs 10)."""
    host = ControlHost()
    host.clock.now = 100.0
    web = host.add("web")
    db = host.add("db", startsecs=10)
    web.start()
    db.start()
    host.advance(1)
    return host, web, db


def test_flags_answer_each_question_with_the_program_and_why() -> None:
    host, _, _ = _host()
    live = _run(host, "--live")
    assert (live.code, live.out_lines()) == (0, ["live: 2 program(s)"])
    ready = _run(host, "--ready")
    assert ready.code == 1 and ready.out_lines() == []
    assert _err(ready) == ["not ready: db: STARTING, not ready"]
    assert _err(_run(host, "--startup")) == ["not started: db: STARTING, not ready"]
    host.advance(10)
    assert _run(host, "--ready").code == 0
    assert _run(host, "--startup").out_lines() == ["started: 2 program(s)"]


def test_a_flag_with_a_name_asks_about_that_program_only() -> None:
    host, _, _ = _host()
    web = _run(host, "--ready", "web")
    assert (web.code, web.out_lines()) == (0, ["ready: web"])
    assert _run(host, "--ready", "db").code == 1
    missing = _run(host, "--ready", "nope")
    assert (missing.code, missing.out_lines()) == (4, ["nope: ERROR (no such process)"])


def test_ready_fails_while_shutting_down_but_live_does_not() -> None:
    host, _, _ = _host()
    host.advance(10)
    host.shutting_down = True
    ready = _run(host, "--ready")
    assert (ready.code, _err(ready)) == (1, ["not ready: initsup is shutting down"])
    assert _run(host, "--live").code == 0


def test_an_unhealthy_program_is_not_live() -> None:
    host, web, _ = _host()
    web.facts = Facts("command")
    web.facts.healthy = False
    web.facts.failures = 3
    web.facts.last = Result(False, "exit 1")
    live = _run(host, "--live", "web")
    assert (live.code, _err(live)) == (1, ["not live: web: unhealthy: exit 1 (3 failed checks)"])


def test_bad_flags_are_usage_errors() -> None:
    host, _, _ = _host()
    for args in (["--nope"], ["--live", "--ready"], ["web"]):
        reply = _run(host, *args)
        assert reply.code == 2, args
        assert reply.out_lines()[0].startswith("Error: health takes one of")


def test_plain_health_counts_a_finished_one_shot_as_done() -> None:
    """The issue's case: a `migrate` step that exited 0 with autorestart=false is done,
    not down; one that failed is down."""
    host, _, _ = _host()
    host.advance(10)
    migrate = host.add("migrate", autorestart="false")
    migrate.start()
    host.advance(1)
    host.exit("migrate", 0)
    reply = _run(host)
    assert (reply.code, reply.out_lines()) == (
        0,
        ["healthy: 2 autostart program(s) RUNNING, 1 done"],
    )
    assert _run(host, "--ready").code == 0
    migrate.start()
    host.advance(1)
    host.exit("migrate", 2)
    failed = _run(host)
    assert (failed.code, _err(failed)) == (1, ["unhealthy: migrate is EXITED"])


def test_plain_health_lines_are_unchanged_without_one_shots() -> None:
    host, _, _ = _host()
    host.advance(10)
    assert _run(host).out_lines() == ["healthy: 2 autostart program(s) RUNNING"]


def test_facts_words_follow_the_description() -> None:
    host, web, db = _host()
    now = time.time()
    plain = api.describe(web, now)
    assert plain.startswith("pid ") and "ready" not in plain
    web.facts = Facts("http")
    web.facts.ready = True
    assert api.describe(web, now) == plain + ", ready"
    assert rpcmethods.process_info(web, now)["description"].endswith(", ready")
    waiting = host.add("late")
    waiting.facts = Facts(None)
    waiting.facts.waiting_for = ["db"]
    assert api.describe(waiting, now) == "Not started, waiting for db"
    db.facts = Facts("tcp")
    assert api.describe(db, now) == ""  # STARTING, no check run yet: nothing to say
    db.facts.last = Result(False, "connection refused")
    assert api.describe(db, now) == "not ready: connection refused"
    db.facts.healthy = False
    db.facts.failures = 3
    assert api.describe(db, now) == "unhealthy (3 failed checks: connection refused)"


def test_info_has_ready_and_healthy() -> None:
    host, web, db = _host()
    now = time.time()
    assert (api.info(web, now)["ready"], api.info(web, now)["healthy"]) == (True, None)
    assert api.info(db, now)["ready"] is False
    db.facts = Facts("http")
    db.facts.ready = True
    db.facts.healthy = True
    assert (api.info(db, now)["ready"], api.info(db, now)["healthy"]) == (True, True)
    status = Recorder()
    commands.COMMANDS["status"](host, host.feed, status, ["--json"])
    rows = next(value for kind, value in status.lines if kind == "json")
    assert {row["name"]: row["ready"] for row in rows} == {"db": True, "web": True}
