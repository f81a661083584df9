"""Scenario 7, signal forwarding: SIGUSR1 to the init until the child's handler has run.

How it is measured, the way a container meets it:

- Every system runs as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`)
  and is sent SIGUSR1 from the host, one signal at a time, 10 ms apart, 100 per run (5 at
  the tiny size).
- The child, the same Python program under every system, takes `time.monotonic_ns()` as
  the first statement of its SIGUSR1 handler and writes it to a FIFO; the harness reads the
  same clock just before kill().  The latency is the difference, so neither side's reading
  of a pipe is in it (CLOCK_MONOTONIC is one clock for the machine, namespaces included).
- Each run gives the median and the minimum over its signals; the tables show the median
  of those over the runs.

Systems: initsup `initsup -- python child.py` (inherited output: initsup takes signals with
sigwait, no loop); tini `tini -- python child.py`; dumb-init `dumb-init python child.py`;
floor: the child itself as PID 1, signalled directly, the child's own share.  supervisord
does not pass signals on to its programs, so it is not here.

Two more rows, the same way:
- to a program: initsup in supervisor mode as PID 1, the child a `[program:]` with
  `forward_signals=USR1` (initsup's event loop takes the signal).
- as a child subreaper: every system started by the harness, not as PID 1 (tini with
  `-s`), as under a shell or `docker run --init`; the scenario's method before the PID-1
  rows, kept because the PID-1 case is not the only one users have.
"""

from __future__ import annotations

import os
import select
import signal
import statistics
import subprocess
import time
from pathlib import Path

from bench.configs import config_command, write_config
from bench.core import Figure, Medians, Sample, Target, Tools, ratio_target
from bench.proc import children, started, wait_for

CHILD = """
import os, signal, sys, time

fifo = os.open(sys.argv[1], os.O_WRONLY)


def stamp(signum, frame):
    now = time.monotonic_ns()
    os.write(fifo, b"%d\\n" % now)


signal.signal(signal.SIGUSR1, stamp)
os.write(fifo, b"ready\\n")
while True:
    signal.pause()
"""
SIGNALS = {"full": 100, "tiny": 5}
GAP = 0.01  # seconds between signals: each finds the init and the child asleep
PEERS = ("initsup", "tini", "dumb-init", "floor")


class Signals:
    name = "signals"
    title = "Signal forwarding"
    figures = (
        Figure("usr1", "SIGUSR1 to PID 1 until the child's handler ran, median", "µs"),
        Figure("usr1_min", "the same, minimum", "µs"),
        Figure("usr1_program", "SIGUSR1 to PID 1 until a program's handler ran, median", "µs"),
        Figure("usr1_program_min", "the same, minimum", "µs"),
        Figure("usr1_subreaper", "SIGUSR1 to a subreaper until the handler ran, median", "µs"),
    )
    runs = {"full": 7, "tiny": 1}

    def describe(self) -> str:
        return (
            f"every system as PID 1 of a fresh PID namespace, SIGUSR1 from the host "
            f"{SIGNALS['full']} times, {GAP * 1000:.0f} ms apart, until the child's handler "
            "took the time (its first statement); median and minimum of each run. Also: "
            "initsup in supervisor mode passing it on to a program (forward_signals), and "
            "every system as a child subreaper (tini -s). floor: the child signalled directly."
        )

    def systems(self, tools: Tools) -> list[str]:
        peers = [s for s in PEERS if s not in tools.missing]
        subreapers = [f"{s}:subreaper" for s in peers]
        if tools.unshare is None:
            return subreapers  # PID 1 of a namespace of our own needs root and unshare
        return [*peers, "initsup:program", *subreapers]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        peer, _, variant = system.partition(":")
        fifo = tools.scratch / "signals.fifo"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        keeper = os.open(fifo, os.O_WRONLY)  # no EOF while the child starts or restarts
        try:
            command = self._command(peer, variant, tools, fifo)
            with started(
                command, env=tools.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ) as proc:
                lines = Lines(reader)
                if lines.next(30) != b"ready":
                    raise RuntimeError(f"{system}: the child did not start")
                target = proc.pid if variant == "subreaper" else _namespace_init(proc.pid)
                latencies = _latencies(target, lines, SIGNALS[size], system)
        finally:
            os.close(reader)
            os.close(keeper)
        figure = {"": "usr1", "program": "usr1_program", "subreaper": "usr1_subreaper"}[variant]
        samples = [Sample(figure, peer, statistics.median(latencies))]
        if variant != "subreaper":
            samples.append(Sample(figure + "_min", peer, min(latencies)))
        return samples

    def _command(self, peer: str, variant: str, tools: Tools, fifo: Path) -> list[str]:
        script = tools.scratch / "signals_child.py"
        script.write_text(CHILD)
        child = [tools.python, str(script), str(fifo)]
        if variant == "program":
            program = {"command": " ".join(child), "forward_signals": "USR1", "startsecs": "0"}
            command = config_command(
                "initsup", tools, write_config("initsup", tools.scratch, {"child": program})
            )
        else:
            subreaper = variant == "subreaper"
            command = {
                "initsup": tools.initsup("--", *child),
                "tini": [str(tools.tini), *(["-s"] if subreaper else []), "--", *child],
                "dumb-init": [str(tools.dumb_init), *child],
                "floor": child,
            }[peer]
        if variant == "subreaper":
            return command
        assert tools.unshare is not None
        return [tools.unshare, "--pid", "--fork", "--mount-proc", *command]

    def targets(self, medians: Medians) -> list[Target]:
        return [
            ratio_target("usr1", medians, "tini", 1.5, "tini"),
            ratio_target("usr1_min", medians, "tini", 2, "tini"),
        ]


def _namespace_init(unshare: int) -> int:
    """The host pid of the namespace's PID 1: unshare's one child."""
    found = wait_for(lambda: children(unshare), 30, "the namespace's PID 1")
    return found[0]


def _latencies(target: int, lines: Lines, count: int, system: str) -> list[float]:
    """Send SIGUSR1 to target count times; each time, µs until the child's handler ran."""
    latencies = []
    for _ in range(count):
        time.sleep(GAP)
        sent = time.monotonic_ns()
        os.kill(target, signal.SIGUSR1)
        line = lines.next(10)
        if not line.isdigit():
            raise RuntimeError(f"{system}: SIGUSR1 did not reach the child ({line!r})")
        latencies.append((int(line) - sent) / 1000)
    return latencies


class Lines:
    """Lines from a non-blocking fd, each waited for with a deadline."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def next(self, timeout: float) -> bytes:
        """The next line without its newline; b"" if none comes within timeout seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                return b""
            self._buffer += os.read(self._fd, 4096)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


SCENARIO = Signals()
