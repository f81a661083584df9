"""superlance's memmon and httpok, unchanged from PyPI, restart programs under initsup as
PID 1 of a real container: they find initsup's XML-RPC server through
SUPERVISOR_SERVER_URL and call getAllProcessInfo, stopProcess and startProcess on it.

One base (bookworm, with procps for memmon's `ps`): what is tested is the XML-RPC surface
these clients use, not the Python version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker import engine
from tests.docker.engine import Box

CONFIG = """
[unix_http_server]
file=/run/supervisor.sock

[supervisorctl]
serverurl=unix:///run/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

{programs}
"""

MEMMON = """
[program:hog]
command=python3 /opt/initsup-tests/bin/hog.py 64
startsecs=0

[eventlistener:memmon]
command=python3 -m superlance.memmon -p hog=16MB
events=TICK_5
"""

HTTPOK = """
[program:web]
command=python3 /opt/initsup-tests/bin/answer_then_hang.py 8080 2
startsecs=0

[eventlistener:httpok]
command=python3 -m superlance.httpok -p web -t 2 http://127.0.0.1:8080/
events=TICK_5
"""


@pytest.fixture(scope="module")
def superlance_image(client: Any) -> Iterator[str]:
    tag = engine.make_superlance_image(client)
    yield tag
    engine.remove_images(client, [tag])


def container(run: Callable[..., Box], image: str, tmp_path: Path, programs: str) -> Box:
    config = tmp_path / "supervisord.conf"
    config.write_text(CONFIG.format(programs=programs))
    volumes = {str(config): {"bind": "/etc/supervisord.conf", "mode": "ro"}}
    return run(image, ["-n", "-c", "/etc/supervisord.conf"], volumes=volumes)


def pids(box: Box, program: str) -> list[int]:
    return [
        r["pid"]
        for r in box.records()
        if r["event"] == "PROCESS_STATE_RUNNING" and r.get("program") == program
    ]


def test_memmon_restarts_a_program_that_outgrows_its_limit(
    run: Callable[..., Box], superlance_image: str, tmp_path: Path
) -> None:
    box = container(run, superlance_image, tmp_path, MEMMON)
    box.wait_record("PROCESS_STATE_RUNNING", program="hog")
    # TICK_5 comes every 5 s; memmon stops and starts hog over XML-RPC on the first one.
    engine.poll(lambda: len(set(pids(box, "hog"))) >= 2 or None, 60, "hog restarted")
    assert any("Restarting hog" in r.get("event", "") for r in box.records()), box.logs()
    assert box.status() == "running"


def test_httpok_restarts_a_program_whose_url_stops_answering(
    run: Callable[..., Box], superlance_image: str, tmp_path: Path
) -> None:
    box = container(run, superlance_image, tmp_path, HTTPOK)
    box.wait_record("PROCESS_STATE_RUNNING", program="web")
    box.wait_record("hanging", program="web", timeout=60)
    engine.poll(lambda: len(set(pids(box, "web"))) >= 2 or None, 60, "web restarted")
    assert box.status() == "running"
