"""Scenario 13, page: the status page's load time, against supervisord's own web page.

Two sizes of one configuration: 50 and 1,000 programs (tiny: 5 and 10) of `sleep`,
startsecs=0, as in the scale scenario, plus `[inet_http_server]` on 127.0.0.1 and a port
free a moment before, and (for supervisord, whose web page is built on it)
`[rpcinterface:supervisor]`.  Once every program is RUNNING, the harness (the bench's
interpreter, http.client, a new connection each time) asks REQUESTS times:

- `GET /`: initsup's status page, supervisord's web page: from the connect to the last
  byte of the body.  The page must list every program (initsup: one row per program;
  supervisord: the last program's name in it);
- `GET /api/status` (initsup only: supervisord has no JSON view; its XML-RPC is the
  control scenario's): the same, for `initsup ctl status --json`'s document.

The size of each page with 1,000 programs is reported too.  The system is stopped with
SIGKILL by the harness (bench.supervised.Supervised), and none of the run's processes may
be left.  tini and dumb-init have no page.
"""

from __future__ import annotations

import http.client
import socket
import time

from bench.core import Figure, Medians, Sample, Target, Tools, ratio_target
from bench.supervised import Supervised, supervisor_command, unique_sleep

PROGRAMS = {"full": (50, 1000), "tiny": (5, 10)}
READY_TIMEOUT = {"full": 180.0, "tiny": 30.0}
REQUESTS = {"full": 5, "tiny": 2}


class Page:
    name = "page"
    title = "Status page"
    figures = (
        Figure("page_50", "`GET /`, 50 programs", "ms"),
        Figure("page_1000", "`GET /`, 1,000 programs", "ms"),
        Figure("api_50", "`GET /api/status`, 50 programs", "ms"),
        Figure("api_1000", "`GET /api/status`, 1,000 programs", "ms"),
        Figure("size_1000", "the page's size, 1,000 programs", "KiB"),
    )
    runs = {"full": 3, "tiny": 1}

    def describe(self) -> str:
        return (
            "50 and 1,000 RUNNING `sleep` programs behind `[inet_http_server]`: `GET /` "
            "(initsup's status page, supervisord's web page) and initsup's "
            "`GET /api/status`, connect to last byte, 5 requests each per run."
        )

    def systems(self, tools: Tools) -> list[str]:
        return [s for s in ("initsup", "supervisord") if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        small, large = PROGRAMS[size]
        samples = []
        for programs, key in ((small, "50"), (large, "1000")):
            samples += _measure(system, size, tools, programs, key)
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [ratio_target("page_1000", medians, "supervisord", 1.0, "supervisord's page")]


def _measure(system: str, size: str, tools: Tools, programs: int, key: str) -> list[Sample]:
    port = _free_port()
    more = {
        "inet_http_server": {"port": f"127.0.0.1:{port}"},
        "rpcinterface:supervisor": {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        },
    }
    marker = unique_sleep()
    command = supervisor_command(system, tools, marker, programs, more)
    samples = []
    with Supervised(system, command, tools, programs, marker) as run:
        run.wait_running(READY_TIMEOUT[size])
        for _ in range(REQUESTS[size]):
            milliseconds, body = _get(port, "/")
            _check_page(system, body, programs)
            samples.append(Sample(f"page_{key}", system, milliseconds))
            if system == "initsup":
                milliseconds, _ = _get(port, "/api/status")
                samples.append(Sample(f"api_{key}", system, milliseconds))
        if key == "1000":
            samples.append(Sample("size_1000", system, len(body) / 1024))
    return samples


def _get(port: int, path: str) -> tuple[float, bytes]:
    """(milliseconds from the connect to the body's last byte, the body) of one GET."""
    began = time.perf_counter()
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        client.request("GET", path)
        response = client.getresponse()
        body = response.read()
    finally:
        client.close()
    elapsed = (time.perf_counter() - began) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return elapsed, body


def _check_page(system: str, body: bytes, programs: int) -> None:
    if system == "initsup":
        rows = body.count(b'<tr data-name="p')
        if rows != programs:
            raise RuntimeError(f"initsup's page lists {rows} of {programs} programs")
    elif f"p{programs - 1}".encode() not in body:
        raise RuntimeError(f"supervisord's page does not list p{programs - 1}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SCENARIO = Page()
