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
  control scenario's): the same, for `initsup ctl status --json`'s document;
- the page in a browser: headless Debian chromium through chromium-driver (selenium),
  from the navigation's start to its load event as the browser's Navigation Timing has
  it, a reload each time (left out when chromium, chromium-driver or selenium is not
  there).

The size of each page with 1,000 programs is reported too.  The system is stopped with
SIGKILL by the harness (bench.supervised.Supervised), and none of the run's processes may
be left.  tini and dumb-init have no page.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import tempfile
import time
from typing import Any

from bench.core import Figure, Medians, Sample, Target, Tools, ratio_target
from bench.supervised import Supervised, supervisor_command, unique_sleep

PROGRAMS = {"full": (50, 1000), "tiny": (5, 10)}
READY_TIMEOUT = {"full": 180.0, "tiny": 30.0}
REQUESTS = {"full": 5, "tiny": 2}
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# The page's load as the browser timed it: navigation start to the end of the load event.
LOAD_TIME = (
    "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime;"
)


class Page:
    name = "page"
    title = "Status page"
    figures = (
        Figure("page_50", "`GET /`, 50 programs", "ms"),
        Figure("page_1000", "`GET /`, 1,000 programs", "ms"),
        Figure("api_50", "`GET /api/status`, 50 programs", "ms"),
        Figure("api_1000", "`GET /api/status`, 1,000 programs", "ms"),
        Figure("size_1000", "the page's size, 1,000 programs", "KiB"),
        Figure("browser_50", "loaded in chromium, 50 programs", "ms"),
        Figure("browser_1000", "loaded in chromium, 1,000 programs", "ms"),
    )
    runs = {"full": 3, "tiny": 1}

    def describe(self) -> str:
        return (
            "50 and 1,000 RUNNING `sleep` programs behind `[inet_http_server]`: `GET /` "
            "(initsup's status page, supervisord's web page) and initsup's "
            "`GET /api/status`, connect to last byte, 5 requests each per run; the page "
            "loaded 5 times in headless chromium (navigation start to the load event)."
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
        samples += [
            Sample(f"browser_{key}", system, ms) for ms in _browser_loads(port, REQUESTS[size])
        ]
    return samples


def _browser_loads(port: int, count: int) -> list[float]:
    """Milliseconds from navigation start to the load event of count loads of the page in
    headless chromium ([] when the browser or selenium is missing)."""
    if not all(os.access(p, os.X_OK) for p in (CHROMIUM, CHROMEDRIVER)):
        return []
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return []
    options: Any = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    profile = tempfile.mkdtemp(prefix="initsup-bench-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(120)
        loads = []
        for _ in range(count):
            driver.get(f"http://127.0.0.1:{port}/")
            loads.append(float(driver.execute_script(LOAD_TIME)))
        return loads
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


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
