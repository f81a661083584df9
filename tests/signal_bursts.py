"""Signals by the thousand to a real initsup, and what tests/bin/count_signals.py took.

The child takes each delivery with sigwaitinfo and prints its number, so its lines are
exactly the deliveries that reached it, in order.  Two ways of sending:

- paced: each signal is sent once the child has printed the previous one.  Standard
  signals merge while pending (in the kernel, under any init), so only pacing lets a
  test say that none of them was lost.
- a burst: real-time signals back to back, without waiting.  The kernel queues every one,
  so as many must reach the child as were sent, whatever initsup does in between.  A
  marker follows them: SIGRTMAX, numbered above every signal of the burst, so that the
  kernel hands it over after any of them still pending, at initsup and at the child
  alike; once the child prints it, everything that was sent before it has arrived.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence

from tests.helpers import BIN, PYTHON, Proc
from tests.supervised import Supervised

COUNT = 1_000
RTMIN, RTMAX = signal.SIGRTMIN, signal.SIGRTMAX
# Standard and real-time signals mixed.  Not TERM and INT, which end the child; not
# TTIN and TTOU, which initsup drops; not CHLD, which only wakes initsup.
MIXED: list[int] = [
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGHUP,
    signal.SIGWINCH,
    RTMIN,
    signal.SIGALRM,
    signal.SIGCONT,
    signal.SIGURG,
    RTMIN + 3,
    signal.SIGPWR,
    signal.SIGQUIT,
    signal.SIGPIPE,
    RTMAX,
    signal.SIGVTALRM,
    signal.SIGPROF,
    signal.SIGXCPU,
    RTMIN + 1,
    signal.SIGXFSZ,
    signal.SIGTSTP,
    signal.SIGIO,
    RTMAX - 1,
]
# Six real-time numbers for the burst, all below the marker.
REALTIME: list[int] = [RTMIN, RTMIN + 1, RTMIN + 3, RTMIN + 7, RTMAX - 3, RTMAX - 1]
MARKER = RTMAX

# Single-command mode's output modes.  inherit (the default): the command writes to
# initsup's own stdout; json, text and raw: initsup relays what it writes.
MODES = ["inherit", "json", "text", "raw"]
# Supervisor mode: the forward_signals of count_signals.py as the program `counter`, which
# lists the marker as well, for the bursts.
FORWARDED: list[int] = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, RTMIN, RTMIN + 3]


def counter_ini() -> str:
    """The configuration of a supervised count_signals.py with FORWARDED (and the marker)."""
    return (
        f"[program:counter]\ncommand={PYTHON} {BIN / 'count_signals.py'}\n"
        "forward_signals=USR1,USR2,WINCH,RTMIN,RTMIN+3,RTMAX\n"
        "startsecs=0\nautorestart=false\n"
    )


Send = Callable[[int], None]
NextLine = Callable[[float], str]


def sender(pid: int) -> Send:
    """Sending a signal to pid."""
    return lambda signum: os.kill(pid, signum)


def child_lines(proc: Proc, log_format: str) -> NextLine:
    """The child's next stdout line, read through initsup in log_format: inherit and raw
    pass it as it is, text as `program | line`, json as one record of the program's
    (initsup names the command after its first word's base name: the interpreter's)."""
    program = os.path.basename(PYTHON)

    def next_line(timeout: float) -> str:
        line = proc.readline(timeout)
        if log_format == "json":
            record = json.loads(line)
            assert (record["logger"], record["stream"]) == (program, "stdout"), record
            return str(record["event"])
        if log_format == "text":
            name, separator, text = line.partition(" | ")
            assert (name, separator) == (program, " | "), line
            return text
        return line

    return next_line


def program_lines(s: Supervised, program: str) -> NextLine:
    """A supervised program's next stdout line, from initsup's JSON records (initsup's
    own records and other programs' lines are passed over)."""

    def next_line(timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            record = s.next(max(0.0, deadline - time.monotonic()))
            if record.get("program") == program and record.get("stream") == "stdout":
                return str(record["event"])

    return next_line


def wait_ready(next_line: NextLine) -> int:
    """Read the child's `ready <pid>` line; its pid (as the child sees it)."""
    word, _, pid = next_line(20.0).partition(" ")
    assert word == "ready", word
    return int(pid)


def send_paced(send: Send, next_line: NextLine, kinds: Sequence[int], count: int = COUNT) -> None:
    """Send count signals cycling over kinds, each once the child has printed the last:
    the child must print exactly the numbers sent, one by one, in the order sent."""
    for i in range(count):
        signum = kinds[i % len(kinds)]
        send(signum)
        got = next_line(5.0)
        assert got == str(int(signum)), f"signal {i}: sent {signum!r}, the child took {got}"


def sent_counts(kinds: Sequence[int], count: int = COUNT) -> Counter[int]:
    """How many of each number count signals cycling over kinds are."""
    return Counter(int(kinds[i % len(kinds)]) for i in range(count))


def send_burst(
    send: Send, next_line: NextLine, kinds: Sequence[int], count: int = COUNT
) -> Counter[int]:
    """Send count signals cycling over kinds back to back, then the marker; return how
    many of each number the child took before the marker (bounded: 20 s in all)."""
    for i in range(count):
        send(kinds[i % len(kinds)])
    send(MARKER)
    return Counter(int(line) for line in read_until(next_line, str(int(MARKER)), 20.0))


def read_until(next_line: NextLine, wanted: str, timeout: float) -> list[str]:
    """The lines before the first that is wanted; fail unless it comes within timeout."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted!r} within {timeout} s, after {len(lines)} lines"
        line = next_line(remaining)
        if line == wanted:
            return lines
        lines.append(line)


def final_counts(next_line: NextLine) -> tuple[list[str], Counter[int]]:
    """The lines up to the child's closing `counts {...}` line (the signal that ends it),
    and those counts: every delivery it took in its whole life, by number."""
    deadline = time.monotonic() + 10.0
    lines: list[str] = []
    while True:
        line = next_line(max(0.0, deadline - time.monotonic()))
        if line.startswith("counts "):
            return lines, Counter({int(k): v for k, v in json.loads(line[7:]).items()})
        lines.append(line)
