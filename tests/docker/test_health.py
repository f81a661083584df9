"""Health checks, start order and the Kubernetes endpoints in a real container.

Docker's own HEALTHCHECK runs `initsup ctl health --ready`, as a Kubernetes exec probe
would, and `/readyz` is read from inside the container over [inet_http_server]'s port:
both turn good only once the chain has come up in order, and `docker stop` drains,
then stops a program before what it depends on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.docker import engine
from tests.docker.engine import Box

INI = """
[initsup]
drain=1

[inet_http_server]
port=127.0.0.1:9001

[program:db]
command=sh -c 'sleep 1; exec python3 -m http.server --bind 127.0.0.1 8000'
startsecs=0
healthcheck_url=http://127.0.0.1:8000/
healthcheck_interval=5

[program:api]
command=sh -c 'sleep 0.5; touch /tmp/api-up; exec sleep 1000'
startsecs=0
depends_on=db
healthcheck=test -f /tmp/api-up

[program:web]
command=sleep 1000
startsecs=0
depends_on=api
"""
READYZ = (
    "import urllib.request, urllib.error\n"
    "try:\n"
    "    r = urllib.request.urlopen('http://127.0.0.1:9001/readyz?verbose', timeout=5)\n"
    "    print(r.status, r.read().decode())\n"
    "except urllib.error.HTTPError as e:\n"
    "    print(e.code, e.read().decode())\n"
)


def test_the_chain_comes_up_in_order_and_docker_sees_it_ready(
    run: Callable[..., Box], image: str, tmp_path: Path
) -> None:
    config = tmp_path / "initsup.ini"
    config.write_text(INI)
    box = run(
        image,
        volumes={str(config): {"bind": "/etc/initsup.ini", "mode": "ro"}},
        healthcheck={
            "test": ["CMD", "initsup", "ctl", "health", "--ready"],
            "interval": 200_000_000,
            "start_period": 60_000_000_000,
        },
    )
    box.wait_record("PROCESS_STATE_RUNNING", program="web", timeout=60)
    events = [(r["event"], r.get("program")) for r in box.records()]
    order = [
        events.index(("PROCESS_READY", "db")),
        events.index(("PROCESS_STATE_STARTING", "api")),
        events.index(("PROCESS_READY", "api")),
        events.index(("PROCESS_STATE_STARTING", "web")),
    ]
    assert order == sorted(order), events
    engine.poll(lambda: box.health() == "healthy", 30, "docker reporting it healthy")
    code, out = box.exec("python3", "-c", READYZ)
    assert code == 0 and out.startswith("200 "), out
    assert "[+]program:web ok" in out and "readyz check passed" in out, out

    box.stop()
    assert box.exit_code() == 0
    records = box.records()
    drained = next(i for i, r in enumerate(records) if str(r["event"]).startswith("draining"))
    stopped = [r["program"] for r in records[drained:] if r["event"] == "PROCESS_STATE_STOPPED"]
    assert stopped == ["web", "api", "db"], stopped
