"""Scenario 9, event listeners.

Events per second through one event-listener pool of one listener.  The same config file
serves both systems (initsup reads `[supervisord]` as its own section):

- `[program:source]`, `python source.py N` (startsecs=0, autorestart=false,
  `stdout_capture_maxbytes=1MB`, stdout and stderr NONE): writes N
  capture blocks `<!--XSUPERVISOR:BEGIN-->i<!--XSUPERVISOR:END-->` (i = 1..N) to its
  stdout in one go, so each system turns them into N PROCESS_COMMUNICATION_STDOUT events
  as fast as it reads them.  Each block is padded with spaces, outside the capture, to 512
  bytes: supervisord's capture parser recurses once per token within one read, and a
  64 KiB pipe full of short blocks takes it past Python's recursion limit (it then drops
  the channel, and events with it).  `stdout_logfile=NONE`: only the captures matter.
- `[eventlistener:counter]`, `python listener.py N FIFO`, subscribed to
  PROCESS_COMMUNICATION, with `buffer_size` N + 10 so that no event can overflow the pool:
  a `supervisor.childutils` listener that answers OK at once and checks that event k's
  payload is k (so none was dropped, repeated or reordered).  At its Nth event it writes
  the CLOCK_MONOTONIC times of its first and Nth events to a FIFO the harness waits on.
- initsup: `initsup -c FILE`; supervisord: `supervisord -n -c FILE`, with `nodaemon`,
  `silent` and its log in the scratch directory.  Stopped with SIGTERM afterwards.

Figure: (N - 1) / (time of the Nth event - time of the first), at the listener.
"""

from __future__ import annotations

import os
import select
import shlex
import signal
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import DEVNULL

from bench.configs import config_command, write_config
from bench.core import Figure, Medians, Sample, Target, Tools
from bench.proc import check_gone, snapshot, started, tail

SIZES = {"full": 20_000, "tiny": 20}
BLOCK = 512  # bytes per capture block, padding included

SOURCE = f"""\
import os
import sys

BEGIN, END = b"<!--XSUPERVISOR:BEGIN-->", b"<!--XSUPERVISOR:END-->"
count = int(sys.argv[1])
data = b"".join(
    (BEGIN + str(i).encode() + END).ljust({BLOCK - 1}) + b"\\n" for i in range(1, count + 1)
)
view = memoryview(data)
while view:
    view = view[os.write(1, view) :]
"""

LISTENER = """\
import os
import sys
import time

from supervisor import childutils

count, fifo = int(sys.argv[1]), sys.argv[2]


def tell(text):
    # One write of less than PIPE_BUF bytes: the harness reads it whole.
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


first = 0.0
seen = 0
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    now = time.monotonic()
    seen += 1
    if seen == 1:
        first = now
    body = payload.partition("\\n")[2]
    if seen <= count and (headers["eventname"] != "PROCESS_COMMUNICATION_STDOUT"
                          or body != str(seen)):
        tell(f"error: event {seen} was {headers['eventname']} {body[:80]!r}\\n")
        childutils.listener.fail(sys.stdout)
        sys.exit(1)
    childutils.listener.ok(sys.stdout)
    if seen == count:
        tell(f"{count} {first!r} {now!r}\\n")
"""


class Events:
    name = "events"
    title = "Event listeners"
    figures = (Figure("events", "events through one listener pool", "events/s", False),)
    # The listener and the pool answer each other once per event: the rate swings with
    # what else the two CPUs run, so more runs than most.
    runs = {"full": 7, "tiny": 1}

    def describe(self) -> str:
        return (
            "A program writes 20,000 capture blocks at once; a one-listener pool subscribed "
            "to PROCESS_COMMUNICATION (a childutils listener answering OK at once) gets them "
            "all; events/s from its first to its last event.  Same config for initsup and "
            "supervisord."
        )

    def systems(self, tools: Tools) -> list[str]:
        wanted = ["initsup", "supervisord"]
        return [s for s in wanted if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        count = SIZES[size]
        limit = 300.0 if size == "full" else 60.0
        first, last = listen(system, count, tools, limit)
        return [Sample("events", system, (count - 1) / (last - first))]

    def targets(self, medians: Medians) -> list[Target]:
        return []  # none set: the figure is reported only


def listen(system: str, count: int, tools: Tools, limit: float) -> tuple[float, float]:
    """Run the pool on system; the listener's times of its first and last events."""
    scratch = tools.scratch
    fifo = scratch / "counted.fifo"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    config = pool_config(system, scratch, count, tools.python, fifo)
    command = config_command(system, tools, config)
    output = scratch / f"{system}.out"
    # Opened before the system starts, so the listener's non-blocking open finds a reader.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with open(output, "wb") as out:
            env = tools.env()
            with started(command, env=env, stdin=DEVNULL, stdout=out, stderr=out) as proc:
                report = wait_report(reader, proc.poll, system, limit, output)
                tree = snapshot(proc.pid)
                proc.send_signal(signal.SIGTERM)
                status = proc.wait(timeout=30)
    finally:
        os.close(reader)
    if status != 0:
        raise RuntimeError(f"{system} exited with {status} after SIGTERM: {tail(output)}")
    check_gone(tree, system)
    words = report.split()
    if words[:1] != [str(count)] or len(words) != 3:
        raise RuntimeError(f"{system}: the listener said {report!r}: {tail(output)}")
    return float(words[1]), float(words[2])


def wait_report(
    reader: int, exited: Callable[[], int | None], system: str, limit: float, output: Path
) -> str:
    """The listener's line from the FIFO; fails if the system ends first or time runs out."""
    poller = select.poll()
    poller.register(reader, select.POLLIN)
    deadline = time.monotonic() + limit
    while True:
        # Blocking in poll costs the measured systems no CPU; the short slices only let a
        # system that died early be noticed.
        if poller.poll(500):
            data = os.read(reader, 4096).decode()
            if data:
                return data
            # A writer opened and closed without writing: cannot happen; do not spin on it.
            raise RuntimeError(f"{system}: the listener closed the FIFO without a word")
        code = exited()
        if code is not None:
            raise RuntimeError(
                f"{system} exited with {code} before the listener was done: {tail(output)}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{system}: the listener did not see every event within {limit:g} s: {tail(output)}"
            )


def pool_config(system: str, scratch: Path, count: int, python: str, fifo: Path) -> Path:
    """The source and the listener, written to scratch, and the config running them."""
    source, listener = scratch / "source.py", scratch / "listener.py"
    source.write_text(SOURCE)
    listener.write_text(LISTENER)
    programs = {
        "source": {
            "command": shlex.join([python, str(source), str(count)]),
            "startsecs": "0",
            "autorestart": "false",
            "stdout_logfile": "NONE",
            "stdout_capture_maxbytes": "1MB",
            "stderr_logfile": "NONE",
        }
    }
    listeners = {
        "counter": {
            "command": shlex.join([python, str(listener), str(count), str(fifo)]),
            "events": "PROCESS_COMMUNICATION",
            "buffer_size": str(count + 10),
            "stderr_logfile": str(scratch / "counter.stderr"),
        }
    }
    silent = {"silent": "true"}
    return write_config(system, scratch, programs, listeners, supervisord=silent, shared=True)


SCENARIO = Events()
