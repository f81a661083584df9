"""Health checks, readiness and start order with initsup run as users run it.

Each program here becomes ready on its own terms (an HTTP server that starts listening
late, a file a command check looks for, READY=1 through NOTIFY_SOCKET), and the JSON
stream, one ordered record at a time, shows every dependant spawned only after the
record that its dependency became ready.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, wait_for
from tests.supervised import Supervised, seconds

Start = Callable[..., Supervised]
NOTIFY_READY = ROOT / "tests" / "bin" / "notify-ready"


def position(s: Supervised, event: str, **fields: object) -> int:
    """The index of the first record read with this event and fields."""
    for index, record in enumerate(s.records):
        if record["event"] == event and all(record.get(k) == v for k, v in fields.items()):
            return index
    raise AssertionError(f"no {event} {fields} in {[r['event'] for r in s.records]}")


def test_a_chain_starts_in_dependency_order_each_after_the_one_before_is_ready(
    supervise: Start, tmp_path: Path
) -> None:
    port = free_port()
    flag = tmp_path / "api-ready"
    s = supervise(
        ini=(
            # db listens only after 0.5 s: its HTTP check fails until then.
            f"[program:db]\ncommand=sh -c 'sleep 0.5; exec {sys.executable} -m http.server"
            f" --bind 127.0.0.1 {port}'\nstartsecs=0\n"
            f"healthcheck_url=http://127.0.0.1:{port}/\nhealthcheck_interval=30\n"
            # api's command check passes once api has made its file.
            f"[program:api]\ncommand=sh -c 'sleep 0.3; touch {flag}; exec sleep 60'\n"
            f"startsecs=0\ndepends_on=db\nhealthcheck=test -f {flag}\n"
            # web says READY=1 itself, 0.3 s after its start.
            f"[program:web]\ncommand={sys.executable} {NOTIFY_READY} 0.3 60\nstartsecs=0\n"
            "depends_on=api\nnotify=true\n"
            "[program:front]\ncommand=sleep 60\nstartsecs=0\ndepends_on=web\n"
        )
    )
    s.wait("PROCESS_STATE_RUNNING", program="front", timeout=20)
    ready = {p: position(s, "PROCESS_READY", program=p) for p in ("db", "api", "web")}
    spawned = {p: position(s, "PROCESS_STATE_STARTING", program=p) for p in ("api", "web")}
    front = position(s, "PROCESS_STATE_STARTING", program="front")
    assert ready["db"] < spawned["api"] < ready["api"] < spawned["web"] < ready["web"] < front
    db_ready = s.records[ready["db"]]
    assert db_ready["check"] == "http"
    healthy = s.wait("PROCESS_HEALTHY", program="db")
    assert healthy["detail"].startswith("HTTP 2") and healthy["target"].endswith(f":{port}/")
    assert s.stop() == 0


def test_a_program_that_stops_answering_its_check_is_restarted(
    supervise: Start, tmp_path: Path
) -> None:
    flag = tmp_path / "alive"
    s = supervise(
        ini=(
            f"[program:app]\ncommand=sh -c 'touch {flag}; exec sleep 60'\nstartsecs=0\n"
            f"healthcheck=test -f {flag} && echo fine || {{ echo gone; exit 1; }}\n"
            "healthcheck_interval=0.2\nhealthcheck_retries=2\non_unhealthy=restart\n"
        )
    )
    s.wait("PROCESS_HEALTHY", program="app", timeout=20)
    first = s.wait("PROCESS_STATE_RUNNING", program="app")["pid"]
    flag.unlink()
    unhealthy = s.wait("PROCESS_UNHEALTHY", program="app", timeout=20)
    assert unhealthy["failures"] == 2 and unhealthy["detail"] == "exit 1"
    assert unhealthy["output"].strip() == "gone"
    s.wait("PROCESS_STATE_STOPPED", program="app", timeout=20)
    again = s.wait("PROCESS_STATE_RUNNING", program="app", timeout=20)
    assert again["pid"] != first
    s.wait("PROCESS_HEALTHY", program="app", timeout=20)  # it made its file again
    assert s.stop() == 0


def test_a_dependency_never_ready_blocks_its_dependant_and_status_says_why(
    supervise: Start,
) -> None:
    port = free_port()  # nothing listens there
    s = supervise(
        ini=(
            f"[program:db]\ncommand=sleep 60\nstartsecs=0\nhealthcheck_tcp=127.0.0.1:{port}\n"
            "healthcheck_interval=0.2\nhealthcheck_retries=1\n"
            "[program:web]\ncommand=sleep 60\nstartsecs=0\ndepends_on=db\n"
        )
    )
    s.wait("PROCESS_UNHEALTHY", program="db", timeout=20)
    waiting = s.wait_prefix("web: waiting for db")
    assert "not ready" in waiting["event"]
    status = wait_for(lambda: _line(s.ctl("status").stdout, "web"))
    assert status is not None
    assert "STOPPED" in status and "waiting for db" in status
    assert "PROCESS_STATE_STARTING" not in s.events("web")
    assert s.stop() == 0


def _line(text: str, name: str) -> str | None:
    for line in text.splitlines():
        if line.split(" ", 1)[0] == name:
            return line
    return None


def test_a_notify_program_running_as_another_user_can_say_ready(
    supervise: Start, request: pytest.FixtureRequest
) -> None:
    if os.geteuid() != 0:
        pytest.skip("running a program as another user needs root")
    # The system's python3: the test environment's may live where nobody cannot reach.
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip(f"{python} is not there to run notify-ready as nobody")
    # The sockets in a directory nobody can reach (pytest's own is root's alone).
    shared = Path(tempfile.mkdtemp(prefix="initsup-notify-"))
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    shared.chmod(0o755)
    s = supervise(
        ini=(
            f"[program:web]\ncommand={python} {NOTIFY_READY} 0 60\nstartsecs=30\n"
            "notify=true\nuser=nobody\n"
        ),
        variables={"INITSUP_SOCKET": str(shared / "initsup.sock")},
    )
    ready = s.wait("PROCESS_READY", program="web", timeout=20)
    assert ready["check"] == "notify"
    assert "PROCESS_STATE_RUNNING" not in s.events("web")  # ready before startsecs
    assert s.stop() == 0


def test_the_drain_delays_the_stops_by_its_seconds(supervise: Start) -> None:
    s = supervise(ini="[initsup]\ndrain=1\n[program:web]\ncommand=sleep 60\nstartsecs=0\n")
    s.wait("PROCESS_STATE_RUNNING", program="web")
    os.kill(s.pid, signal.SIGTERM)
    drain = s.wait_prefix("draining for 1 s")
    stopping = s.wait("PROCESS_STATE_STOPPING", program="web", timeout=20)
    assert seconds(stopping["timestamp"]) - seconds(drain["timestamp"]) >= 0.99
    assert s.finish() == 0
