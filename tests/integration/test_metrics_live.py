"""/metrics of a real initsup: on [inet_http_server]'s TCP port behind its credentials, and
on the control socket; parsed by prometheus_client; a program killed shows its restart
and its up flipping 1 -> 0 -> 1; Accept and Accept-Encoding chosen as the client asks."""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

from initsup import __version__
from tests.helpers import free_port, imported_by, wait_for
from tests.supervised import Supervised

USER, PASSWORD = "prom", "s3cret"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)

INI = """\
[inet_http_server]
port=127.0.0.1:{port}
username={user}
password={password}

[program:web]
command=sleep 1000
startsecs=0

[program:crashy]
command=sleep 1000
startsecs=1
autorestart=true

[program:talker]
command=sh -c 'echo one; echo two; echo three >&2; exec sleep 1000'
startsecs=0
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Scraped:
    """One initsup with an [inet_http_server] behind credentials, all programs RUNNING."""

    def __init__(self, start: Callable[..., Supervised]) -> None:
        self.port = free_port()
        self.initsup = start(ini=INI.format(port=self.port, user=USER, password=PASSWORD))
        for program in ("web", "crashy", "talker"):
            self.initsup.wait("PROCESS_STATE_RUNNING", program=program)

    def get(
        self, path: str = "/metrics", headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            client.request(method, path, headers=headers or {})
            response = client.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            client.close()

    def samples(self, accept: str = "") -> Samples:
        status, headers, body = self.get(headers={**AUTH, "Accept": accept})
        assert status == 200, body
        openmetrics = headers["Content-Type"].startswith("application/openmetrics-text")
        return parse(body, openmetrics)

    def until_up(self, name: str, value: int) -> Samples:
        """The first scrape (polled) where the program's initsup_program_up is value."""

        def scrape() -> Samples:
            samples = self.samples()
            return samples if program(samples, "initsup_program_up", name) == value else {}

        return wait_for(scrape)


def parse(body: bytes, openmetrics: bool) -> Samples:
    families = (openmetrics_families if openmetrics else text_families)(body.decode())
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def program(samples: Samples, name: str, program: str) -> float | None:
    return samples.get((name, frozenset({("program", program), ("group", program)})))


@pytest.fixture
def scraped(supervise: Callable[..., Supervised]) -> Iterator[Scraped]:
    yield Scraped(supervise)


def test_a_scrape_parses_with_what_initsup_knows(scraped: Scraped) -> None:
    samples = scraped.samples()
    for name in ("web", "crashy", "talker"):
        assert program(samples, "initsup_program_up", name) == 1
        assert program(samples, "initsup_program_restarts_total", name) == 0
        assert program(samples, "initsup_program_ready", name) == 1
        started = program(samples, "initsup_program_start_time_seconds", name)
        assert started is not None and abs(started - time.time()) < 60
    assert samples[("initsup_build_info", frozenset({("version", __version__)}))] == 1
    own = samples[("initsup_start_time_seconds", frozenset())]
    assert abs(own - time.time()) < 60
    # the talker's three lines, and nothing counted as lost
    wait_for(lambda: scraped.samples()[("initsup_output_lines_total", frozenset())] >= 3)
    assert samples[("initsup_output_dropped_lines_total", frozenset())] == 0
    assert samples[("initsup_reaped_orphans_total", frozenset())] == 0
    # process_*: initsup's own process, as /proc shows it from outside
    assert samples[("process_start_time_seconds", frozenset())] == own
    pid = scraped.initsup.pid
    with open(f"/proc/{pid}/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    rss = samples[("process_resident_memory_bytes", frozenset())]
    assert 0.5 < rss / (kib * 1024) < 2
    fds = samples[("process_open_fds", frozenset())]
    assert abs(fds - len(os.listdir(f"/proc/{pid}/fd"))) <= 3  # the scrape's own socket


def test_a_killed_program_counts_a_restart_and_flips_up(scraped: Scraped) -> None:
    pid = int(scraped.initsup.ctl("pid", "crashy").stdout)
    os.kill(pid, signal.SIGKILL)
    # restarted at once, STARTING for startsecs=1: down meanwhile, after the exit 128+9
    down = scraped.until_up("crashy", 0)
    assert program(down, "initsup_program_restarts_total", "crashy") == 1
    assert program(down, "initsup_program_last_exit_code", "crashy") == 137
    key = ("initsup_program_state", frozenset({("program", "crashy"), ("group", "crashy")}))
    states = {k[1]: v for k, v in down.items() if k[0] == key[0] and key[1] <= k[1]}
    assert sum(states.values()) == 1  # one state at a time: STARTING or EXITED
    assert program(down, "initsup_program_up", "web") == 1
    up = scraped.until_up("crashy", 1)
    assert program(up, "initsup_program_restarts_total", "crashy") == 1
    assert program(up, "initsup_program_restarts_total", "web") == 0


def test_credentials_are_asked_on_metrics(scraped: Scraped) -> None:
    assert scraped.get()[0] == 401
    wrong = {"Authorization": "Basic " + base64.b64encode(b"prom:nope").decode()}
    assert scraped.get(headers=wrong)[0] == 401
    assert scraped.get(headers=AUTH)[0] == 200
    status, headers, body = scraped.get(headers=AUTH, method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) > 1000
    status, headers, _ = scraped.get(headers=AUTH, method="POST")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")


def test_accept_and_gzip_as_the_client_asks(scraped: Scraped) -> None:
    status, headers, body = scraped.get(headers={**AUTH, "Accept": PROMETHEUS_ACCEPT})
    assert status == 200
    assert headers["Content-Type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert body.endswith(b"# EOF\n")
    assert program(parse(body, True), "initsup_program_up", "web") == 1
    status, headers, _ = scraped.get(headers={**AUTH, "Accept": "text/plain"})
    assert (status, headers["Content-Type"]) == (200, "text/plain; version=0.0.4; charset=utf-8")
    status, headers, zipped = scraped.get(headers={**AUTH, "Accept-Encoding": "gzip"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert program(parse(gzip.decompress(zipped), False), "initsup_program_up", "web") == 1
    status, _, body = scraped.get("/metrics?compat=node_supervisord", AUTH)
    node = parse(body, False)
    assert node[("node_supervisord_up", frozenset({("name", "web"), ("group", "web")}))] == 1
    assert scraped.get("/metrics?compat=nodes", AUTH)[0] == 400


def over_socket(path: str, request: bytes) -> tuple[int, bytes]:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(path)
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_control_socket_serves_metrics(scraped: Scraped) -> None:
    status, body = over_socket(scraped.initsup.socket, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert status == 200
    assert program(parse(body, False), "initsup_program_up", "talker") == 1


def test_unix_http_server_credentials_hold_on_its_socket(
    supervise: Callable[..., Supervised], tmp_path: Path
) -> None:
    path = tmp_path / "http.sock"
    initsup = supervise(
        ini=f"[unix_http_server]\nfile={path}\nusername={USER}\npassword={PASSWORD}\n"
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
    )
    initsup.wait("PROCESS_STATE_RUNNING", program="web")
    request = b"GET /metrics HTTP/1.0\r\n"
    assert over_socket(str(path), request + b"\r\n")[0] == 401
    authorized = request + f"Authorization: {AUTH['Authorization']}\r\n\r\n".encode()
    status, body = over_socket(str(path), authorized)
    assert status == 200
    assert program(parse(body, False), "initsup_program_up", "web") == 1


SCRAPE_MODULES = {
    "initsup.control.metrics_families",
    "initsup.control.metrics_text",
    "initsup.control.metrics_process",
    "zlib",
}


def test_the_routes_load_only_the_request_reader_of_metrics() -> None:
    """Making the routes (the first HTTP client) loads /metrics' handler and its request
    reader; what writes the exposition waits for the first scrape."""
    modules = imported_by("from initsup.control import routes")
    assert {"initsup.control.metrics", "initsup.control.metrics_ask"} <= modules
    assert not modules & SCRAPE_MODULES
