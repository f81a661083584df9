"""Scenario 3, output relay.

A writer, `python3 writer.py N` on the interpreter initsup runs on, writes N lines of 100
bytes (full: 1,000,000, tiny: 2,000) to its stdout as fast as it can: a 100 kB chunk of
1,000 pre-built lines per `os.write`, so that the writer is never the bottleneck.  The same
writer runs under every system.  The harness reads the system's stdout (a pipe of the
default 64 KiB) with 1 MiB reads, counting bytes and newlines; each figure runs from spawn
until the Nth line has been read, and the harness then reads on to EOF to check that
exactly N lines (and, relayed raw, exactly 100 N bytes) came.

- initsup: `initsup --log-format json -- WRITER`, and the same with `text` and `raw`: three
  figures of the initsup column.
- supervisord: `supervisord -n -c FILE`, the writer a program with startsecs=0,
  autorestart=false, `stdout_logfile=/dev/stdout` and `stdout_logfile_maxbytes=0`;
  `[supervisord] nodaemon=true silent=true` (its own log goes to its logfile only, so its
  stdout carries nothing but the writer's bytes, relayed raw).  It never ends by itself:
  after the Nth line the harness sends SIGTERM and reads on to EOF.
- tini (`tini -s -- WRITER`) and dumb-init (`dumb-init WRITER`) do not relay: the writer
  writes to the harness's pipe through them.
- floor: the writer alone, writing straight into the harness's pipe.

Every system's own CPU time comes from /proc/PID/stat of its zombie, before it is reaped.
The raw relay is also timed from the first byte read to the Nth line, without the
start-up: supervisord spends about a second before it starts its program.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL, PIPE

from bench.configs import write_config
from bench.core import Figure, Medians, Sample, Target, Tools, bound_target
from bench.proc import check_gone, cpu_seconds, snapshot, started, tail, wait_exit_unreaped

SIZES = {"full": 1_000_000, "tiny": 2_000}
LINE = 100  # bytes per line, newline included
CHUNK = 1_000  # lines per write
MODES = ("json", "text", "raw")
READ = 1 << 20

# Every line is `NNNNNN ` (its index within the chunk) and filler; the harness checks the
# first and the last line it gets against line(0) and line(N - 1).
REQUEST = b"GET /api/v1/items?page=2&sort=name HTTP/1.1 200 1043 0.0021s agent=bench-relay/1.0 ok"
FILL = REQUEST.ljust(LINE - 8, b".")
WRITER = f"""\
import os
import sys

FILL = {FILL!r}
lines = int(sys.argv[1])
chunk = b"".join(b"%06d %s\\n" % (j, FILL) for j in range({CHUNK}))


def write(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


whole, rest = divmod(lines, {CHUNK})
for _ in range(whole):
    write(chunk)
write(chunk[: rest * {LINE}])
"""


def line(index: int) -> bytes:
    """The writer's line number `index` (0-based), without its newline."""
    return b"%06d %s" % (index % CHUNK, FILL)


class Relay:
    name = "relay"
    title = "Output relay"
    figures = (
        Figure("json", "JSON relay", "lines/s", lower_is_better=False),
        Figure("json_mb", "JSON relay, input", "MB/s", lower_is_better=False),
        Figure("json_cpu", "JSON relay, the init's CPU", "s"),
        Figure("text", "text relay", "lines/s", lower_is_better=False),
        Figure("text_mb", "text relay, input", "MB/s", lower_is_better=False),
        Figure("text_cpu", "text relay, the init's CPU", "s"),
        Figure("raw", "raw relay (tini, dumb-init: no relay)", "lines/s", lower_is_better=False),
        Figure("raw_mb", "raw relay, input", "MB/s", lower_is_better=False),
        Figure("raw_cpu", "raw relay, the init's CPU", "s"),
        # Without the start-up (spawn to first byte): supervisord's is about a second.
        Figure("raw_flow", "raw relay, first byte to last line", "lines/s", False),
    )
    runs = {"full": 15, "tiny": 1}  # each run is ~0.1 s of raw relay: many, for a steady median

    def __init__(self) -> None:
        self._turn = 0  # rotates initsup's three modes from run to run

    def describe(self) -> str:
        return (
            "A Python writer puts 1,000,000 lines of 100 bytes on stdout in 100 kB writes; "
            "from spawn until the harness has read the last line: initsup `--log-format "
            "json|text|raw -- WRITER`, supervisord with the writer's `stdout_logfile="
            "/dev/stdout` (SIGTERM after the last line), `tini -s -- WRITER` and `dumb-init "
            "WRITER` (no relay), floor: the writer alone.  Raw also from first byte to last "
            "line; CPU: the init's own, from its zombie."
        )

    def systems(self, tools: Tools) -> list[str]:
        wanted = ["initsup", "supervisord", "tini", "dumb-init", "floor"]
        return [s for s in wanted if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        lines = SIZES[size]
        writer = tools.scratch / "writer.py"
        if not writer.exists():
            writer.write_text(WRITER)
        program = [tools.python, str(writer), str(lines)]
        runs: list[tuple[str, list[str], bool]] = []  # (mode, command, stop it at the end)
        if system == "initsup":
            turn, self._turn = self._turn, self._turn + 1
            modes = MODES[turn % 3 :] + MODES[: turn % 3]
            runs = [(m, tools.initsup("--log-format", m, "--", *program), False) for m in modes]
        elif system == "supervisord":
            config = supervisord_config(tools.scratch, program)
            runs = [("raw", tools.supervisord_command(config), True)]
        elif system == "tini":
            runs = [("raw", [str(tools.tini), "-s", "--", *program], False)]
        elif system == "dumb-init":
            runs = [("raw", [str(tools.dumb_init), *program], False)]
        elif system == "floor":
            runs = [("raw", program, False)]
        samples = []
        for mode, command, stop in runs:
            result = measure(command, system, mode, lines, stop, tools, timeout(size))
            samples += [
                Sample(mode, system, lines / result.seconds),
                Sample(f"{mode}_mb", system, lines * LINE / 1e6 / result.seconds),
            ]
            if system != "floor":
                samples.append(Sample(f"{mode}_cpu", system, result.cpu))
            if mode == "raw":
                samples.append(Sample("raw_flow", system, lines / result.flowing))
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [
            bound_target("json", medians, 1_000_000, "lines/s", at_least=True),
            at_least_target("raw", medians, "floor", 0.8, "floor"),
        ]


def at_least_target(
    figure: str, medians: Medians, reference: str, factor: float, what: str
) -> Target:
    """initsup >= factor x reference (higher is better)."""
    mine, theirs = medians.get(figure, "initsup"), medians.get(figure, reference)
    if mine is None or theirs is None:
        return Target(figure, f">= {factor:g}x {what}", False, f"{what} not measured")
    return Target(
        figure, f">= {factor:g}x {what}", mine >= factor * theirs, f"{mine / theirs:.2f}x {what}"
    )


def timeout(size: str) -> float:
    return 600.0 if size == "full" else 60.0


@dataclass
class Result:
    seconds: float  # spawn until the last line was read
    flowing: float  # first byte read until the last line was read
    cpu: float  # the system's own CPU seconds (its process only, not the writer)


def measure(
    command: list[str],
    system: str,
    mode: str,
    lines: int,
    stop: bool,
    tools: Tools,
    limit: float,
) -> Result:
    """Run command with its stdout on a pipe the harness drains; see the module docstring."""
    what = f"{system} ({mode})"
    errors_path = tools.scratch / f"{system}-{mode}.stderr"
    with open(errors_path, "wb") as errors:
        began = time.perf_counter()
        with started(command, env=tools.env(), stdin=DEVNULL, stdout=PIPE, stderr=errors) as proc:
            assert proc.stdout is not None
            try:
                stream = Stream(proc.stdout.fileno(), began + limit, what, errors_path)
                last = stream.read_lines(lines)
                tree = snapshot(proc.pid)
                if stop:
                    proc.send_signal(signal.SIGTERM)
                stream.read_to_eof()
                wait_exit_unreaped(proc.pid, 30)
                cpu = cpu_seconds(proc.pid)
                status = proc.wait(timeout=30)
            finally:
                proc.stdout.close()
    if status != 0:
        raise RuntimeError(f"{what} exited with {status}: {tail(errors_path)}")
    stream.check(mode, lines, what)
    check_gone(tree, what)
    return Result(last - began, last - stream.first, cpu)


class Stream:
    """The harness's end of a system's stdout: reads it all, counting bytes and lines."""

    def __init__(self, fd: int, deadline: float, what: str, errors: Path) -> None:
        self._fd = fd
        self._deadline = deadline
        self._what = what
        self._errors = errors
        self._buffer = bytearray(READ)
        self._poller = select.poll()
        self._poller.register(fd, select.POLLIN)
        self.bytes = 0
        self.lines = 0
        self.head = b""  # the first bytes, for checking the first line
        self.tail = b""  # the last bytes, for checking the last line
        self.eof = False
        self.first = 0.0  # perf_counter() when the first bytes came

    def _read(self) -> None:
        remaining = self._deadline - time.perf_counter()
        if remaining <= 0 or not self._poller.poll(remaining * 1000):
            raise TimeoutError(
                f"{self._what}: no EOF within the time limit after {self.lines:,} lines "
                f"({self.bytes:,} bytes): {tail(self._errors)}"
            )
        buffer = self._buffer
        n = os.readv(self._fd, [buffer])
        if n == 0:
            self.eof = True
            return
        if not self.bytes:
            self.first = time.perf_counter()
        self.bytes += n
        self.lines += buffer.count(b"\n", 0, n)
        if len(self.head) < 4096:
            self.head += buffer[: min(n, 4096 - len(self.head))]
        # Only the last few kB are kept: enough for the last line of any mode.
        self.tail = (
            bytes(buffer[max(0, n - 4096) : n]) if n >= 4096 else (self.tail + buffer[:n])[-4096:]
        )

    def read_lines(self, count: int) -> float:
        """Read until count lines have come; the perf_counter() time when they had."""
        while self.lines < count and not self.eof:
            self._read()
        if self.lines < count:
            raise RuntimeError(
                f"{self._what}: EOF after {self.lines:,} of {count:,} lines: {tail(self._errors)}"
            )
        return time.perf_counter()

    def read_to_eof(self) -> None:
        while not self.eof:
            self._read()

    def check(self, mode: str, lines: int, what: str) -> None:
        """Every line came, once, and the first and last are the writer's."""
        if self.lines != lines:
            raise RuntimeError(f"{what}: {self.lines:,} lines instead of {lines:,}")
        if mode == "raw" and self.bytes != lines * LINE:
            raise RuntimeError(f"{what}: {self.bytes:,} bytes instead of {lines * LINE:,}")
        first = self.head.split(b"\n", 1)[0]
        last = self.tail.rstrip(b"\n").rpartition(b"\n")[2]
        for got, index in ((first, 0), (last, lines - 1)):
            if relayed(got, mode) != line(index):
                raise RuntimeError(f"{what}: line {index} came as {got[:200]!r}")


def relayed(got: bytes, mode: str) -> bytes:
    """The writer's line inside what the system wrote for it in the given format."""
    if mode == "json":
        event = json.loads(got).get("event", "")
        return str(event).encode()
    if mode == "text":
        return got.partition(b" | ")[2]
    return got


def supervisord_config(scratch: Path, program: list[str]) -> Path:
    writer = {
        "command": shlex.join(program),
        "startsecs": "0",
        "autorestart": "false",
        "stdout_logfile": "/dev/stdout",
        "stdout_logfile_maxbytes": "0",
        "stderr_logfile": str(scratch / "writer.stderr"),
    }
    # Its own log lines would otherwise go to stdout as well, among the writer's.
    silent = {"silent": "true"}
    return write_config("supervisord", scratch, {"writer": writer}, supervisord=silent)


SCENARIO = Relay()
