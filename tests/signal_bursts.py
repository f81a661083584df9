"""Signals by the thousand to a real initsup, and what tests/bin/count_signals.py took.

The child takes each delivery with sigwaitinfo and prints its number, so its lines are
exactly the deliveries that reached it, in order.  Two ways of sending:

- paced: each signal is sent once the child has printed the previous one.  Standard
  signals merge while pending (in the kernel, under any init), so only pacing lets a
  test say that none of them was lost.
- a burst: real-time signals back to back, without waiting.  The kernel queues every one,
  so as many must reach the child as were sent, whatever initsup does in between.  The
  test counts the child's lines until there are as many as were sent: nothing marks the
  burst's end, since nothing keeps a later signal behind an earlier one of another
  number.  A process that takes signals with handlers gets them stacked: the kernel
  delivers the next unblocked one (a higher number) while the handler of a lower one has
  yet to run, so initsup's event loop can see a SIGRTMAX before a SIGRTMIN sent earlier.
  A paced marker then shows that nothing else was on its way.
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
# Six real-time numbers for the burst; the marker that follows it, paced.
REALTIME: list[int] = [RTMIN, RTMIN + 1, RTMIN + 3, RTMIN + 7, RTMAX - 3, RTMAX]
MARKER = signal.SIGUSR1

# Single-command mode's output modes.  inherit (the default): the command writes to
# initsup's own stdout; json, text and raw: initsup relays what it writes.
MODES = ["inherit", "json", "text", "raw"]
# Supervisor mode: the forward_signals of count_signals.py as the program `counter`.
FORWARDED: list[int] = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, RTMIN, RTMIN + 3]


def counter_ini() -> str:
    """The configuration of a supervised count_signals.py with FORWARDED."""
    return (
        f"[program:counter]\ncommand={PYTHON} {BIN / 'count_signals.py'}\n"
        "forward_signals=USR1,USR2,WINCH,RTMIN,RTMIN+3\n"
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
    """Send count signals cycling over kinds back to back; return how many of each number
    the child took in its first count lines (each within 5 s of the last), then check
    that the marker, sent once they are in, is the next line: nothing else was coming."""
    for i in range(count):
        send(kinds[i % len(kinds)])
    taken: Counter[int] = Counter()
    for _ in range(count):
        try:
            taken[int(next_line(5.0))] += 1
        except AssertionError as exc:
            raise AssertionError(f"the child took {dict(taken)} of {count}: {exc}") from None
    send(MARKER)
    assert next_line(5.0) == str(int(MARKER)), "the child took more after the burst"
    return taken


def send_burst_uncounted(
    send: Send, next_line: NextLine, kinds: Sequence[int], count: int = COUNT
) -> None:
    """Send count signals cycling over kinds back to back, then the marker; return once
    the child has taken the marker (within 20 s), however many of the burst it took."""
    for i in range(count):
        send(kinds[i % len(kinds)])
    send(MARKER)
    read_until(next_line, str(int(MARKER)), 20.0)


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


def counts_at_term(pid: int, next_line: NextLine) -> Counter[int]:
    """SIGTERM to pid (initsup, which passes it on): the child's counts when TERM ends it,
    TERM left out, after checking that TERM was all it took meanwhile."""
    os.kill(pid, signal.SIGTERM)
    lines, counts = final_counts(next_line)
    assert lines == [str(int(signal.SIGTERM))]
    assert counts[signal.SIGTERM] == 1
    del counts[signal.SIGTERM]
    return counts
