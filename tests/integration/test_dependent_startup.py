"""supervisord-dependent-startup's users migrate unchanged: one file in the plugin's own
keys, with the plugin's own [eventlistener], runs under the real supervisord with the
real plugin (from PyPI) and under initsup, and the programs reach RUNNING in the same
order. Under initsup each also starts only once the one it waits for is ready (RUNNING)
or, for the one-shot `migrate` waited for with `:exited`, done.

The order is heard the same way on both: a listener of our own (tests/bin/listener.py)
in the same file records every PROCESS_STATE event, and initsup's JSON records say when
each program started.

Last, depends_on= on a notify=true program: its dependant waits for READY=1 (sd_notify),
not for RUNNING.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, PYTHON, env, kill_tree, wait_for
from tests.supervised import Record, Supervised, seconds

SUPERVISORD = Path(PYTHON).parent / "supervisord"

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("supervisord_dependent_startup") is None,
        reason="supervisord-dependent-startup is not installed (pip install"
        " supervisord-dependent-startup; the test extras have it)",
    ),
    pytest.mark.skipif(not SUPERVISORD.exists(), reason="supervisor is not installed"),
]

# c is written first and a last: the file's order is not the start order.
CONFIG = """\
[unix_http_server]
file=%(here)s/ctl.sock

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/ctl.sock

[eventlistener:dependentstartup]
command={python} -m supervisord_dependent_startup -c %(here)s/supervisord.conf
autostart=true
autorestart=unexpected
startretries=0
exitcodes=0,3
events=PROCESS_STATE

[eventlistener:recorder]
command={python} {listener}
environment=RECORD="%(here)s/events.jsonl"
events=PROCESS_STATE

[program:c]
command=sleep 1000
autostart=false
startsecs=1
dependent_startup=true
dependent_startup_wait_for=b:running

[program:b]
command=sleep 1000
autostart=false
startsecs=1
dependent_startup=true
dependent_startup_wait_for=a:running migrate:exited

[program:migrate]
command=sleep 0.5
autostart=false
autorestart=false
startsecs=0
dependent_startup=true
dependent_startup_wait_for=a:running

[program:a]
command=sleep 1000
autostart=false
startsecs=1
dependent_startup=true
"""
PROGRAMS = ("a", "migrate", "b", "c")
WAITS = {"migrate": ("a",), "b": ("a", "migrate"), "c": ("b",)}  # who waits for whom


def write_config(directory: Path) -> Path:
    directory.mkdir()
    path = directory / "supervisord.conf"
    path.write_text(CONFIG.format(python=PYTHON, listener=BIN / "listener.py"))
    return path


def heard(directory: Path) -> list[tuple[str, str]]:
    """(event, program) of every PROCESS_STATE event the recorder has written down."""
    try:
        lines = (directory / "events.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    result = []
    for line in lines:
        entry = json.loads(line)
        payload = dict(token.split(":", 1) for token in entry["payload"].split())
        result.append((entry["headers"]["eventname"], payload["processname"]))
    return result


def running_order(directory: Path) -> list[str]:
    return [name for event, name in heard(directory) if event == "PROCESS_STATE_RUNNING"]


def all_running(directory: Path) -> list[str] | None:
    order = [name for name in running_order(directory) if name in PROGRAMS]
    return order if len(order) == len(PROGRAMS) else None


def test_supervisord_with_the_plugin_starts_in_dependency_order(tmp_path: Path) -> None:
    """The reference, and a check that the file means what the test says it does."""
    config = write_config(tmp_path / "supervisord")
    log = (tmp_path / "supervisord.out").open("wb")
    proc = subprocess.Popen(
        [str(SUPERVISORD), "-n", "-c", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env(),
        start_new_session=True,
    )
    try:
        order = wait_for(lambda: all_running(config.parent), timeout=30)
        assert order == list(PROGRAMS)
        events = heard(config.parent)
        assert_each_waited(events)
    finally:
        stop(proc)
        log.close()


def test_initsup_runs_the_same_file_in_the_same_order(tmp_path: Path) -> None:
    config = write_config(tmp_path / "initsup")
    run = Supervised(tmp_path, args=["-c", str(config)])
    try:
        order = wait_for(lambda: all_running(config.parent), timeout=30)
        assert order == list(PROGRAMS)
        assert_each_waited(heard(config.parent))
        run.read_available()
        records = run.records
        # nothing starts twice: the plugin's listener is not run, and said so
        assert not [r for r in records if r.get("program") == "dependentstartup"]
        starts = [r["program"] for r in records if r["event"] == "PROCESS_STATE_STARTING"]
        assert sorted(p for p in starts if p in PROGRAMS) == sorted(PROGRAMS)
        assert_started_after_ready(records)
    finally:
        run.close()


def assert_each_waited(events: list[tuple[str, str]]) -> None:
    """In the recorder's order: each program STARTING only after what it waits for is
    RUNNING (or, for migrate, EXITED)."""
    position = {(event, name): i for i, (event, name) in reversed(list(enumerate(events)))}
    for program, waits in WAITS.items():
        started = position[("PROCESS_STATE_STARTING", program)]
        for dependency in waits:
            ready = "PROCESS_STATE_EXITED" if dependency == "migrate" else "PROCESS_STATE_RUNNING"
            assert position[(ready, dependency)] < started, (program, dependency, events)


def assert_started_after_ready(records: list[Record]) -> None:
    """initsup's own records, by their timestamps: a start follows its dependencies."""

    def first(event: str, program: str) -> float:
        for record in records:
            if record["event"] == event and record.get("program") == program:
                return seconds(record["timestamp"])
        raise AssertionError(f"no {event} of {program} in {records}")

    for program, waits in WAITS.items():
        started = first("PROCESS_STATE_STARTING", program)
        for dependency in waits:
            ready = "PROCESS_STATE_EXITED" if dependency == "migrate" else "PROCESS_STATE_RUNNING"
            assert first(ready, dependency) <= started, (program, dependency)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


NOTIFY_CONFIG = """\
[program:api]
command=/bin/sh -c '"{python}" "{notify_ready}" 0.5; true'
notify=true
startsecs=0

[program:worker]
command=sleep 1000
startsecs=0
depends_on=api
"""


def test_a_dependant_waits_for_ready_1_not_for_running(tmp_path: Path) -> None:
    """depends_on= on a notify=true program: the dependant starts at READY=1, which here
    comes from the program's child (sh runs notify-ready), half a second after RUNNING."""
    ini = NOTIFY_CONFIG.format(python=PYTHON, notify_ready=BIN / "notify-ready")
    run = Supervised(tmp_path, ini)
    try:
        running = run.wait("PROCESS_STATE_RUNNING", program="api")
        ready = run.wait("PROCESS_READY", program="api")
        started = run.wait("PROCESS_STATE_STARTING", program="worker")
        assert ready["check"] == "notify"
        assert seconds(ready["timestamp"]) - seconds(running["timestamp"]) >= 0.5
        assert seconds(started["timestamp"]) >= seconds(ready["timestamp"])
        assert run.records.index(started) > run.records.index(ready)
        notify_socket = Path(run.socket + ".notify")
        assert notify_socket.exists()
        assert run.stop() == 0
        assert not notify_socket.exists()  # removed at exit
    finally:
        run.close()
