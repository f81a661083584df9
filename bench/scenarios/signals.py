"""Scenario 7, signal forwarding: SIGUSR1 to the init until the child's handler has run.

The child (the same for every system) is a Python program whose SIGUSR1 handler writes
one byte to its stdout, a pipe the harness reads; it waits in signal.pause().  One run
starts the system with that child, then sends SIGUSR1 to the system's process and times
each until its byte arrives, one signal at a time; the run's figure is the median of
those latencies.

- initsup: `initsup -- python child.py` (the default inherit mode: the child writes to
  the pipe itself).
- tini: `tini -s -- python child.py`; dumb-init: `dumb-init python child.py`.
- floor: the child alone, signalled directly: the child's own share of the latency.
- supervisord does not forward signals to its programs, so it is not in this scenario.
"""

from __future__ import annotations

import os
import select
import signal
import statistics
import subprocess
import time

from bench.core import Figure, Medians, Sample, Target, Tools, ratio_target
from bench.proc import started

CHILD = """
import os, signal
signal.signal(signal.SIGUSR1, lambda *_: os.write(1, b"!"))
os.write(1, b"ready\\n")
while True:
    signal.pause()
"""
SIGNALS = {"full": 200, "tiny": 5}


class Signals:
    name = "signals"
    title = "Signal forwarding"
    figures = (Figure("usr1", "SIGUSR1 until the child's handler ran", "µs"),)
    runs = {"full": 7, "tiny": 1}

    def describe(self) -> str:
        return (
            "SIGUSR1 to the init, one at a time, until the child's handler has written a "
            "byte to the harness's pipe (median of each run); floor: the child signalled "
            "directly."
        )

    def systems(self, tools: Tools) -> list[str]:
        return [s for s in ("initsup", "tini", "dumb-init", "floor") if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        child = [tools.python, "-c", CHILD]
        command = {
            "initsup": tools.initsup("--", *child),
            "tini": [str(tools.tini), "-s", "--", *child],
            "dumb-init": [str(tools.dumb_init), *child],
            "floor": child,
        }[system]
        with started(
            command, env=tools.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ) as proc:
            assert proc.stdout is not None
            out = proc.stdout.fileno()
            if read_within(out, 6, 30) != b"ready\n":
                raise RuntimeError(f"{system}: the child did not start")
            latencies = []
            for _ in range(SIGNALS[size]):
                began = time.perf_counter()
                os.kill(proc.pid, signal.SIGUSR1)
                if read_within(out, 1, 10) != b"!":
                    raise RuntimeError(f"{system}: SIGUSR1 did not reach the child")
                latencies.append(time.perf_counter() - began)
        return [Sample("usr1", system, statistics.median(latencies) * 1e6)]

    def targets(self, medians: Medians) -> list[Target]:
        return [ratio_target("usr1", medians, "tini", 2, "tini")]


def read_within(fd: int, count: int, timeout: float) -> bytes:
    """Exactly `count` bytes from fd, or fewer if `timeout` seconds pass first."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, count - len(data))
        if not chunk:
            break
        data += chunk
    return data


SCENARIO = Signals()
