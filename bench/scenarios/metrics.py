"""Scenario 14, metrics: one Prometheus scrape of 1,000 programs (and of 100).

1,000 programs (tiny: 10) of `sleep`, startsecs=0, as in the scale scenario, and a second
start of the system with 100 (tiny: 5), each with `[inet_http_server]` on 127.0.0.1 at a
free port (and `[rpcinterface:supervisor]` for supervisord).  Once every program is
RUNNING, a client in a process of its own on the bench's interpreter keeps one
connection open (as Prometheus does), makes one request to warm up, then SCRAPES timed
requests, each from the request's first byte to the answer's last (no parsing on
either side):

- initsup: `GET /metrics` in the text format, as a plain client asks (`scrape`); and as
  Prometheus asks, OpenMetrics gzipped (`prometheus`);
- supervisord, which has no /metrics: the `supervisor.getAllProcessInfo` XML-RPC call
  that supervisord_exporter and node_exporter's supervisord collector make for every
  scrape (POST /RPC2): the least an exporter beside supervisord must wait for, before it
  writes a line of its own.

Figures: the median of the run's requests, in ms; the answer's size, in kB (initsup's
text and its gzipped OpenMetrics, supervisord's XML).  The Go port of supervisord, which
serves a /metrics of its own, is not built here (no Go toolchain, no network).  Target
(the issue's): a scrape of 1,000 programs under 100 ms.
"""

from __future__ import annotations

import json
import socket
import subprocess

from bench.core import Figure, Medians, Sample, Target, Tools, bound_target
from bench.supervised import Supervised, supervisor_command, unique_sleep

PROGRAMS = {"full": (1000, 100), "tiny": (10, 5)}
READY_TIMEOUT = {"full": 180.0, "tiny": 30.0}
SCRAPES = {"full": 30, "tiny": 3}
TARGET_MS = 100.0

# Runs in a process of its own: argv is the port, what to ask ("text", "prometheus" or
# "xmlrpc") and how many times; prints {"ms": [...], "bytes": N}.
CLIENT = r"""
import http.client, json, sys, time
port, kind, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
if kind == "xmlrpc":
    body = (b"<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo"
            b"</methodName><params></params></methodCall>")
    ask = ("POST", "/RPC2", body, {"Content-Type": "text/xml"})
elif kind == "prometheus":
    accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    ask = ("GET", "/metrics", None, {"Accept": accept, "Accept-Encoding": "gzip"})
else:
    ask = ("GET", "/metrics", None, {})
times, size = [], 0
for n in range(count + 1):
    began = time.perf_counter()
    conn.request(ask[0], ask[1], ask[2], ask[3])
    response = conn.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - began
    if response.status != 200:
        sys.exit(f"{kind}: HTTP {response.status}: {data[:200]!r}")
    if n:  # the first warms up
        times.append(elapsed * 1000)
    size = len(data)
print(json.dumps({"ms": times, "bytes": size}))
"""


class Metrics:
    name = "metrics"
    title = "Metrics"
    figures = (
        Figure("scrape", "one scrape, 1,000 programs (supervisord: getAllProcessInfo)", "ms"),
        Figure("prometheus", "one scrape as Prometheus asks (OpenMetrics, gzip)", "ms"),
        Figure("scrape_100", "one scrape, 100 programs (supervisord: getAllProcessInfo)", "ms"),
        Figure("size", "answer's size, 1,000 programs", "kB"),
        Figure("size_gzip", "answer's size as Prometheus asks, 1,000 programs", "kB"),
    )
    runs = {"full": 3, "tiny": 1}

    def describe(self) -> str:
        return (
            f"{PROGRAMS['full'][0]:,} (and {PROGRAMS['full'][1]}) RUNNING `sleep` programs "
            "behind `[inet_http_server]`: initsup's `GET /metrics` (text; OpenMetrics "
            "gzipped as Prometheus asks) against supervisord's getAllProcessInfo, what its "
            "exporters call per scrape; median of 30 requests on a kept-alive connection."
        )

    def systems(self, tools: Tools) -> list[str]:
        return [s for s in ("initsup", "supervisord") if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        many, few = PROGRAMS[size]
        samples = []
        kind = "xmlrpc" if system == "supervisord" else "text"
        with _Serving(system, tools, many, size) as port:
            times, length = _ask(tools, port, kind, size)
            samples += [Sample("scrape", system, ms) for ms in times]
            samples.append(Sample("size", system, length / 1000))
            if system == "initsup":
                times, length = _ask(tools, port, "prometheus", size)
                samples += [Sample("prometheus", system, ms) for ms in times]
                samples.append(Sample("size_gzip", system, length / 1000))
        with _Serving(system, tools, few, size) as port:
            times, _ = _ask(tools, port, kind, size)
            samples += [Sample("scrape_100", system, ms) for ms in times]
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [
            bound_target("scrape", medians, TARGET_MS, "ms"),
            bound_target("prometheus", medians, TARGET_MS, "ms"),
        ]


class _Serving:
    """The system with `programs` programs and an [inet_http_server], all RUNNING: its port."""

    def __init__(self, system: str, tools: Tools, programs: int, size: str) -> None:
        self.port = _free_port()
        more = {"inet_http_server": {"port": f"127.0.0.1:{self.port}"}}
        if system == "supervisord":
            more["rpcinterface:supervisor"] = {
                "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
            }
        marker = unique_sleep()
        command = supervisor_command(system, tools, marker, programs, more)
        self.run = Supervised(system, command, tools, programs, marker)
        self.size = size

    def __enter__(self) -> int:
        self.run.__enter__()
        try:
            self.run.wait_running(READY_TIMEOUT[self.size])
        except BaseException:
            self.run.__exit__(None, None, None)
            raise
        return self.port

    def __exit__(self, *exc: object) -> None:
        self.run.__exit__(*exc)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ask(tools: Tools, port: int, kind: str, size: str) -> tuple[list[float], int]:
    """(each timed request's milliseconds, the answer's bytes) of the client's requests."""
    argv = [tools.python, "-c", CLIENT, str(port), kind, str(SCRAPES[size])]
    done = subprocess.run(argv, env=tools.env(), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} client failed: {done.stderr.strip()[-500:]}")
    answer = json.loads(done.stdout)
    return [float(ms) for ms in answer["ms"]], int(answer["bytes"])


SCENARIO = Metrics()
