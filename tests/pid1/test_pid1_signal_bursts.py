"""Signals by the thousand from the host to initsup as PID 1 of a fresh PID namespace:
none lost, none invented, none out of order, in single-command mode (every output mode)
and through supervisor mode's forward_signals.  See tests/signal_bursts.py."""

from __future__ import annotations

import contextlib
import signal
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import INITSUP, Proc, helper, started
from tests.pid1.namespace import UNSHARE, init_pid
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
    program_lines,
    send_burst,
    send_paced,
    sender,
    sent_counts,
    wait_ready,
)
from tests.supervised import Supervised


@contextlib.contextmanager
def _pid1(mode: str) -> Iterator[tuple[Proc, int, NextLine]]:
    """unshare ... initsup -- count_signals.py in an output mode, ready; with the host pid
    of the namespace's PID 1, where the signals go."""
    log_format = [] if mode == "inherit" else ["--log-format", mode]
    argv = [*UNSHARE, *INITSUP, *log_format, "--", *helper("count_signals")]
    with started(argv) as ns:
        next_line = child_lines(ns, mode)
        wait_ready(next_line)
        yield ns, init_pid(ns), next_line


@pytest.mark.pid1
@pytest.mark.parametrize("mode", MODES)
def test_paced_mixed_signals_as_pid1(mode: str) -> None:
    """As PID 1, 1,000 standard and real-time signals of the 21 kinds of MIXED from the
    host, each sent once the last has been taken, reach the command as themselves and in
    order; TERM ends it, and its 0 is the namespace's exit code."""
    with _pid1(mode) as (ns, init, next_line):
        send_paced(sender(init), next_line, MIXED)
        assert counts_at_term(init, next_line) == sent_counts(MIXED)
        assert ns.wait() == 0


@pytest.mark.pid1
@pytest.mark.parametrize("mode", MODES)
def test_realtime_burst_as_pid1(mode: str) -> None:
    """As PID 1, 1,000 real-time signals of six numbers from the host, back to back, reach
    the command exactly as many of each as were sent."""
    with _pid1(mode) as (ns, init, next_line):
        sent = sent_counts(REALTIME)
        assert send_burst(sender(init), next_line, REALTIME) == sent
        assert counts_at_term(init, next_line) == sent + Counter({int(MARKER): 1})
        assert ns.wait() == 0


def _supervised_pid1(supervise: Callable[..., Supervised]) -> tuple[Supervised, int, NextLine]:
    s = supervise(prefix=UNSHARE, ini=counter_ini())
    next_line = program_lines(s, "counter")
    wait_ready(next_line)
    return s, init_pid(s), next_line


@pytest.mark.pid1
def test_forward_signals_paced_as_pid1(supervise: Callable[..., Supervised]) -> None:
    """Supervisor mode as PID 1: 1,000 signals over the five of forward_signals, paced,
    reach the program one for one and in order; SIGTERM then stops everything with 0."""
    s, init, next_line = _supervised_pid1(supervise)
    send_paced(sender(init), next_line, FORWARDED)
    assert counts_at_term(init, next_line) == sent_counts(FORWARDED)
    assert s.finish() == 0


@pytest.mark.pid1
def test_forward_signals_realtime_burst_as_pid1(supervise: Callable[..., Supervised]) -> None:
    """Supervisor mode as PID 1: 1,000 signals over the real-time ones of forward_signals,
    back to back, reach the program exactly as many of each as were sent."""
    s, init, next_line = _supervised_pid1(supervise)
    burst = [n for n in FORWARDED if n >= signal.SIGRTMIN]
    sent = sent_counts(burst)
    assert send_burst(sender(init), next_line, burst) == sent
    assert counts_at_term(init, next_line) == sent + Counter({int(MARKER): 1})
    assert s.finish() == 0
