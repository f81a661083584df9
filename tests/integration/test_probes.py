"""Kubernetes' probes of a real initsup: /livez, /readyz and /startupz on [inet_http_server]
(with credentials, which the probes do not need) and on the control socket's HTTP side,
and `initsup ctl health --live | --ready | --startup` as an exec probe runs it."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import free_port, wait_for
from tests.supervised import Supervised

USER, PASSWORD = "admin", "s3cret"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}

INI = """\
[inet_http_server]
port=127.0.0.1:{port}
username={user}
password={password}

[program:web]
command=sleep 1000
startsecs=0

[program:slow]
command=sleep 1000
startsecs=60

[program:migrate]
command=sh -c 'exit 0'
startsecs=0
autorestart=false

[program:tool]
command=sleep 1000
autostart=false
"""


class Probed:
    """One initsup with an [inet_http_server]: slow stays STARTING for a minute, migrate
    is done at once."""

    def __init__(self, start: Callable[..., Supervised], more: str = "") -> None:
        self.port = free_port()
        self.initsup = start(ini=INI.format(port=self.port, user=USER, password=PASSWORD) + more)
        self.initsup.wait("PROCESS_STATE_RUNNING", program="web")
        self.initsup.wait("PROCESS_STATE_EXITED", program="migrate")
        self.initsup.wait("PROCESS_STATE_STARTING", program="slow")

    def get(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, str]:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            client.request(method, path, headers=headers or {})
            response = client.getresponse()
            return response.status, response.read().decode()
        finally:
            client.close()

    def over_socket(self, path: str) -> tuple[int, str]:
        return over_socket(self.initsup.socket, path)


def over_socket(control: str, path: str) -> tuple[int, str]:
    """GET path on the control socket's HTTP side (no credentials configured there)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(control)
        conn.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


@pytest.fixture
def probed(supervise: Callable[..., Supervised]) -> Iterator[Probed]:
    yield Probed(supervise)


def test_endpoints_without_credentials_give_statuses_only(probed: Probed) -> None:
    assert probed.get("/livez") == (200, "ok")
    assert probed.get("/readyz") == (503, "readyz check failed\n")
    assert probed.get("/startupz") == (503, "startupz check failed\n")
    assert probed.get("/readyz/web") == (200, "ok")
    assert probed.get("/readyz/migrate") == (200, "ok")  # done counts as ready
    assert probed.get("/livez/slow") == (200, "ok")  # starting is live
    assert probed.get("/readyz/tool")[0] == 503
    assert probed.get("/readyz/nosuch")[0] == 404
    assert probed.get("/readyz?verbose")[0] == 401
    assert probed.get("/livez", method="POST")[0] == 405
    assert probed.get("/readyz", method="HEAD") == (503, "")
    assert probed.get("/livez", method="HEAD") == (200, "")
    assert probed.get("/RPC2", method="POST")[0] == 401  # nothing else opens up


def test_credentials_give_kube_apiserver_s_verbose_listing(probed: Probed) -> None:
    assert probed.get("/readyz", AUTH) == (
        503,
        "[+]program:migrate ok\n"
        "[-]program:slow failed: STARTING, not ready\n"
        "[+]program:web ok\n"
        "[+]shutdown ok\n"
        "readyz check failed\n",
    )
    assert probed.get("/readyz?verbose&exclude=program:slow", AUTH) == (
        200,
        "[+]program:migrate ok\n[+]program:web ok\n[+]shutdown ok\nreadyz check passed\n",
    )
    assert probed.get("/livez?verbose", AUTH)[1].endswith("livez check passed\n")


def test_the_control_socket_serves_the_probes_too(probed: Probed) -> None:
    status, body = probed.over_socket("/readyz")
    assert status == 503 and "[-]program:slow failed: STARTING, not ready\n" in body
    assert probed.over_socket("/livez/web") == (200, "ok")


def test_ctl_health_flags_for_exec_probes(probed: Probed) -> None:
    initsup = probed.initsup
    live = initsup.ctl("health", "--live")
    assert (live.returncode, live.stdout) == (0, "live: 3 program(s)\n")
    ready = initsup.ctl("health", "--ready")
    assert (ready.returncode, ready.stderr) == (1, "not ready: slow: STARTING, not ready\n")
    startup = initsup.ctl("health", "--startup")
    assert (startup.returncode, startup.stderr) == (
        1,
        "not started: slow: STARTING, not ready\n",
    )
    one = initsup.ctl("health", "--ready", "web")
    assert (one.returncode, one.stdout) == (0, "ready: web\n")
    assert initsup.ctl("health", "--ready", "migrate").returncode == 0
    missing = initsup.ctl("health", "--live", "nosuch")
    assert (missing.returncode, missing.stdout) == (4, "nosuch: ERROR (no such process)\n")
    assert initsup.ctl("health", "--alive").returncode == 2
    plain = initsup.ctl("health")
    assert (plain.returncode, plain.stderr) == (1, "unhealthy: slow is STARTING\n")
    assert "health --ready [<name>]" in initsup.ctl("help", "health").stdout


ONE_SHOTS = """\
[program:web]
command=sleep 1000
startsecs=0

[program:migrate]
command=sh -c 'exit 0'
startsecs=0
autorestart=false

[program:seed]
command=sh -c 'exit 0'
startsecs=0
autorestart=false
exitcodes=3
"""


def test_a_finished_one_shot_is_done_not_down(supervise: Callable[..., Supervised]) -> None:
    """The issue's new user: plain `ctl health` with a migrate step that exited 0 is
    healthy; a step that exited with a code it does not expect is down."""
    initsup = supervise(ini=ONE_SHOTS)
    initsup.wait("PROCESS_STATE_RUNNING", program="web")
    initsup.wait("PROCESS_STATE_EXITED", program="migrate")
    initsup.wait("PROCESS_STATE_EXITED", program="seed")
    plain = initsup.ctl("health")
    assert (plain.returncode, plain.stderr) == (1, "unhealthy: seed is EXITED\n")
    assert initsup.ctl("health", "--ready", "migrate").returncode == 0
    assert initsup.ctl("health", "--ready", "seed").returncode == 1
    initsup.ctl("remove", "seed")
    plain = initsup.ctl("health")
    assert (plain.returncode, plain.stdout) == (
        0,
        "healthy: 1 autostart program(s) RUNNING, 1 done\n",
    )


STUBBORN = """
[program:stubborn]
command=sh -c 'trap "" TERM; while :; do sleep 0.05; done'
startsecs=0
stopwaitsecs=30
"""


def test_readyz_fails_from_the_first_sigterm(supervise: Callable[..., Supervised]) -> None:
    """While a shutdown waits on a program, /readyz is 503 naming the shutdown and
    `ctl health --ready` fails; /livez stays 200 (nothing to restart)."""
    probed = Probed(supervise, STUBBORN)
    probed.initsup.wait("PROCESS_STATE_RUNNING", program="stubborn")
    assert probed.get("/readyz/web") == (200, "ok")
    os.kill(probed.initsup.pid, signal.SIGTERM)
    probed.initsup.wait("PROCESS_STATE_STOPPING", program="stubborn")
    status, body = wait_for(lambda: probed.get("/readyz", AUTH))
    assert status == 503
    assert "[-]shutdown failed: initsup is shutting down\n" in body
    assert probed.get("/livez/stubborn") == (200, "ok")
    ready = probed.initsup.ctl("health", "--ready")
    assert (ready.returncode, ready.stderr.splitlines()[-1]) == (
        1,
        "not ready: initsup is shutting down",
    )


WAITING = """\
[program:slow]
command=sleep 1000
startsecs=60

[program:web]
command=sleep 1000
startsecs=0
depends_on=slow
"""


def test_a_waiting_program_says_what_it_waits_for(supervise: Callable[..., Supervised]) -> None:
    """A dependency that is not ready holds its dependant back, and every front end says
    why: `ctl status`, `ctl health --ready`, /readyz over the control socket."""
    initsup = supervise(ini=WAITING)
    initsup.wait("PROCESS_STATE_STARTING", program="slow")
    why = "waiting for slow (STARTING, not ready)"

    def line() -> str:
        text: str = initsup.ctl("status", "web").stdout.rstrip()
        return text if why in text else ""

    assert wait_for(line).split(None, 2)[1:] == ["STOPPED", f"Not started, {why}"]
    ready = initsup.ctl("health", "--ready", "web")
    assert (ready.returncode, ready.stderr) == (1, f"not ready: web: {why}\n")
    assert over_socket(initsup.socket, "/readyz/web") == (
        503,
        f"[-]program:web failed: {why}\nreadyz check failed\n",
    )
    rows = json.loads(initsup.ctl("status", "--json").stdout)
    assert {row["name"]: (row["ready"], row["healthy"]) for row in rows} == {
        "slow": (False, None),
        "web": (False, None),
    }


def test_during_the_drain_readyz_fails_while_programs_still_run(
    supervise: Callable[..., Supervised],
) -> None:
    """[initsup] drain=: from the first SIGTERM /readyz is 503 and says why, while every
    program still runs and answers (/readyz/web 200) until the drain is over."""
    probed = Probed(supervise, "\n[initsup]\ndrain=30\n")
    os.kill(probed.initsup.pid, signal.SIGTERM)
    probed.initsup.wait_prefix("draining for 30 s")
    status, body = probed.get("/readyz", AUTH)
    assert status == 503 and "[-]shutdown failed: initsup is shutting down\n" in body
    assert probed.get("/readyz/web") == (200, "ok")
    assert probed.get("/livez") == (200, "ok")
    assert probed.initsup.ctl("status", "web").stdout.split()[:2] == ["web", "RUNNING"]
    os.kill(probed.initsup.pid, signal.SIGTERM)  # a second signal ends the drain
    assert probed.initsup.finish() == 0
