"""Signals by the thousand: none lost, none invented, none out of order, in every mode.

Single-command mode with inherited output and with each relaying format, and supervisor
mode's forward_signals, with initsup as a child subreaper.  The child is
tests/bin/count_signals.py, which prints each delivery it takes (see tests/signal_bursts.py
for paced sending, bursts and the marker that ends them).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import INITSUP, Proc, helper, started
from tests.signal_bursts import (
    FORWARDED,
    MARKER,
    MIXED,
    MODES,
    REALTIME,
    NextLine,
    child_lines,
    counter_ini,
    counts_at_term,
    final_counts,
    program_lines,
    send_burst,
    send_burst_uncounted,
    send_paced,
    sender,
    sent_counts,
    wait_ready,
)
from tests.supervised import Supervised


@contextlib.contextmanager
def _single(mode: str, *child_args: str) -> Iterator[tuple[Proc, NextLine]]:
    """initsup -- count_signals.py, in an output mode (inherit: initsup's default), ready."""
    log_format = [] if mode == "inherit" else ["--log-format", mode]
    with started([*INITSUP, *log_format, "--", *helper("count_signals", *child_args)]) as proc:
        next_line = child_lines(proc, mode)
        wait_ready(next_line)
        yield proc, next_line


@pytest.mark.parametrize("mode", MODES)
def test_paced_mixed_signals_arrive_one_for_one_in_order(mode: str) -> None:
    """1,000 standard and real-time signals of the 21 kinds of MIXED, each sent once the
    last has been taken, reach the child as themselves, in the order sent; TERM then ends
    the child, which has taken nothing else, and its exit code 0 is initsup's."""
    with _single(mode) as (proc, next_line):
        send_paced(sender(proc.pid), next_line, MIXED)
        assert counts_at_term(proc.pid, next_line) == sent_counts(MIXED)
        assert proc.wait() == 0


@pytest.mark.parametrize("mode", MODES)
def test_realtime_burst_arrives_whole(mode: str) -> None:
    """1,000 real-time signals of six numbers sent back to back: the child takes exactly as
    many of each number as were sent, nothing else before a paced marker, nor in all."""
    with _single(mode, "--exit", "3") as (proc, next_line):
        sent = sent_counts(REALTIME)
        assert send_burst(sender(proc.pid), next_line, REALTIME) == sent
        assert counts_at_term(proc.pid, next_line) == sent + Counter({int(MARKER): 1})
        assert proc.wait() == 3


RT_END = int(signal.SIGRTMIN + 2)
ENDINGS = [
    pytest.param(signal.SIGTERM, (), 0, id="TERM-exit-0"),
    pytest.param(signal.SIGTERM, ("--exit", "3"), 3, id="TERM-exit-3"),
    pytest.param(signal.SIGINT, ("--die-on", "INT"), 130, id="killed-by-INT"),
    pytest.param(RT_END, ("--die-on", str(RT_END)), 128 + RT_END, id="killed-by-RTMIN+2"),
]


@pytest.mark.parametrize(("ending", "child_args", "expected"), ENDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_exit_code_after_a_burst(
    mode: str, ending: int, child_args: tuple[str, ...], expected: int
) -> None:
    """After a burst of 1,000 real-time signals the child's end is still initsup's exit
    code: its own code when it exits, 128+N when signal N (forwarded) kills it."""
    with _single(mode, *child_args) as (proc, next_line):
        send_burst_uncounted(sender(proc.pid), next_line, REALTIME)
        os.kill(proc.pid, ending)
        lines, _ = final_counts(next_line)
        assert lines[-1:] == [str(int(ending))]
        assert proc.wait() == expected


def _supervised(supervise: Callable[..., Supervised]) -> tuple[Supervised, NextLine]:
    s = supervise(ini=counter_ini())
    next_line = program_lines(s, "counter")
    wait_ready(next_line)
    return s, next_line


def test_forward_signals_paced(supervise: Callable[..., Supervised]) -> None:
    """Supervisor mode: 1,000 signals over the five of forward_signals, paced, reach the
    program one for one and in order; SIGTERM then stops it (it took nothing else)."""
    s, next_line = _supervised(supervise)
    send_paced(sender(s.pid), next_line, FORWARDED)
    assert counts_at_term(s.pid, next_line) == sent_counts(FORWARDED)
    assert s.finish() == 0


def test_forward_signals_realtime_burst(supervise: Callable[..., Supervised]) -> None:
    """Supervisor mode: 1,000 signals over the real-time ones of forward_signals, back to
    back, reach the program exactly as many of each as were sent."""
    s, next_line = _supervised(supervise)
    burst = [n for n in FORWARDED if n >= signal.SIGRTMIN]
    sent = sent_counts(burst)
    assert send_burst(sender(s.pid), next_line, burst) == sent
    assert counts_at_term(s.pid, next_line) == sent + Counter({int(MARKER): 1})
    assert s.finish() == 0
