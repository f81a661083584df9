"""Unit tests for initsup.loop.EventLoop: timers on a fake clock, fds, errors, pass order."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from initsup.loop import EventLoop
from initsup.signals import SignalReceiver


class FakeClock:
    """A clock that only moves when the test says so."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Harness:
    """An EventLoop on a fake clock, with the errors it reported."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.errors: list[tuple[str, BaseException]] = []
        self.receiver = SignalReceiver()
        self.loop = EventLoop(self.receiver, on_error=self._on_error, clock=self.clock)

    def _on_error(self, where: str, exc: BaseException) -> None:
        self.errors.append((where, exc))

    def close(self) -> None:
        self.loop.close()
        self.receiver.close()


@pytest.fixture
def h() -> Iterator[Harness]:
    """A fresh loop harness, closed after the test."""
    harness = Harness()
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A non-blocking pipe (read end, write end), both closed after the test."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    try:
        yield r, w
    finally:
        os.close(r)
        os.close(w)


@contextlib.contextmanager
def restored_handler(signum: int) -> Iterator[None]:
    """Put back signum's Python-level handler after the with-block."""
    saved = signal.getsignal(signum)
    try:
        yield
    finally:
        signal.signal(signum, saved if saved is not None else signal.SIG_DFL)


def recorder(calls: list[str], name: str) -> Callable[[], None]:
    """A callback that appends name to calls."""

    def callback() -> None:
        calls.append(name)

    return callback


def guard_passes(monkeypatch: pytest.MonkeyPatch, loop: EventLoop, limit: int = 20) -> list[object]:
    """Make run() never block (timeout 0) and fail after limit passes; return the timeouts asked."""
    original = loop.run_once
    asked: list[object] = []

    def guarded(timeout: float | None) -> None:
        asked.append(timeout)
        if len(asked) > limit:
            raise AssertionError(f"run() did not return within {limit} passes")
        original(0)

    monkeypatch.setattr(loop, "run_once", guarded)
    return asked


# -- timers ----------------------------------------------------------------------------


def test_timers_fire_in_deadline_order(h: Harness) -> None:
    """Due timers run in order of their deadlines, not of scheduling."""
    calls: list[str] = []
    h.loop.call_at(103, recorder(calls, "c"))
    h.loop.call_at(101, recorder(calls, "a"))
    h.loop.call_at(102, recorder(calls, "b"))
    h.clock.now = 200
    h.loop.run_once(0)
    assert calls == ["a", "b", "c"]


def test_equal_deadlines_fire_in_insertion_order(h: Harness) -> None:
    """Timers with the same deadline run in the order they were scheduled."""
    calls: list[str] = []
    for name in "abcdefgh":
        h.loop.call_at(150, recorder(calls, name))
    h.clock.now = 150
    h.loop.run_once(0)
    assert calls == list("abcdefgh")


def test_cancelled_timer_never_fires(h: Harness) -> None:
    """A cancelled timer does not run, while its neighbours do."""
    calls: list[str] = []
    h.loop.call_at(101, recorder(calls, "a"))
    timer = h.loop.call_at(102, recorder(calls, "b"))
    h.loop.call_at(103, recorder(calls, "c"))
    timer.cancel()
    h.clock.now = 200
    h.loop.run_once(0)
    h.loop.run_once(0)
    assert calls == ["a", "c"]


def test_timer_cancelled_by_earlier_timer_in_same_pass(h: Harness) -> None:
    """A timer cancelled by a timer that ran just before it in the same pass does not run."""
    calls: list[str] = []
    later = h.loop.call_at(102, recorder(calls, "later"))

    def first() -> None:
        calls.append("first")
        later.cancel()

    h.loop.call_at(101, first)
    h.clock.now = 200
    h.loop.run_once(0)
    assert calls == ["first"]


def test_timer_fires_once(h: Harness) -> None:
    """A timer runs once only, and cancelling it afterwards changes nothing."""
    calls: list[str] = []
    timer = h.loop.call_later(1, recorder(calls, "t"))
    h.clock.now += 1
    h.loop.run_once(0)
    h.loop.run_once(0)
    timer.cancel()
    h.loop.run_once(0)
    assert calls == ["t"]


def test_run_once_follows_fake_clock(h: Harness) -> None:
    """A timer fires on the first pass at which the loop's clock has reached its deadline."""
    calls: list[str] = []
    timer = h.loop.call_later(5, recorder(calls, "t"))
    assert timer.deadline == 105
    h.loop.run_once(0)
    assert calls == []
    h.clock.now = 104.999
    h.loop.run_once(0)
    assert calls == []
    h.clock.now = 105
    h.loop.run_once(0)
    assert calls == ["t"]


def test_next_timeout_none_without_timers(h: Harness) -> None:
    """With no timers the loop's wait has no timeout: an idle loop blocks until an event."""
    assert h.loop.next_timeout() is None


def test_next_timeout_none_when_all_cancelled(h: Harness) -> None:
    """Cancelled timers do not count: with only those the wait has no timeout."""
    h.loop.call_later(1, recorder([], "x")).cancel()
    h.loop.call_later(2, recorder([], "y")).cancel()
    assert h.loop.next_timeout() is None


def test_next_timeout_follows_clock(h: Harness) -> None:
    """The wait lasts until the earliest live deadline by the loop's clock, never below 0."""
    h.loop.call_later(7, recorder([], "late"))
    first = h.loop.call_later(5, recorder([], "early"))
    assert h.loop.next_timeout() == 5.0
    h.clock.now = 103
    assert h.loop.next_timeout() == 2.0
    first.cancel()
    assert h.loop.next_timeout() == 4.0
    h.clock.now = 500
    assert h.loop.next_timeout() == 0.0


def test_run_passes_next_timeout(
    h: Harness, pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """run() waits with no timeout when idle and until the next deadline otherwise."""
    asked = guard_passes(monkeypatch, h.loop)
    r, w = pipe

    def on_read() -> None:  # first pass: schedule a timer (and wake again); then stop
        os.read(r, 1)
        if len(asked) == 1:
            h.loop.call_at(110, recorder([], "t"))
            os.write(w, b"x")
        else:
            h.loop.stop()

    h.loop.add_reader(r, on_read)
    os.write(w, b"x")
    h.loop.run()
    assert asked == [None, 10.0]


# -- fds -------------------------------------------------------------------------------


def test_reader_called_when_readable(h: Harness, pipe: tuple[int, int]) -> None:
    """A reader runs only when its fd has data, and no more once removed."""
    r, w = pipe
    got: list[bytes] = []
    h.loop.add_reader(r, lambda: got.append(os.read(r, 100)))
    h.loop.run_once(0)
    assert got == []
    os.write(w, b"hello")
    h.loop.run_once(0)
    assert got == [b"hello"]
    h.loop.remove_reader(r)
    os.write(w, b"again")
    h.loop.run_once(0)
    assert got == [b"hello"]
    assert os.read(r, 100) == b"again"


def test_writer_called_when_writable(h: Harness, pipe: tuple[int, int]) -> None:
    """A writer runs on every pass while its fd is writable, and no more once removed."""
    _, w = pipe
    calls: list[str] = []
    h.loop.add_writer(w, recorder(calls, "w"))
    h.loop.run_once(0)
    h.loop.run_once(0)
    assert calls == ["w", "w"]
    h.loop.remove_writer(w)
    h.loop.run_once(0)
    assert calls == ["w", "w"]


def test_remove_unwatched_is_noop(h: Harness, pipe: tuple[int, int]) -> None:
    """Removing a reader or writer that was never added (or twice) does nothing."""
    r, w = pipe
    h.loop.remove_reader(r)
    h.loop.remove_writer(w)
    h.loop.add_reader(r, recorder([], "r"))
    h.loop.remove_reader(r)
    h.loop.remove_reader(r)
    h.loop.run_once(0)
    assert h.errors == []


def test_replacing_reader(h: Harness, pipe: tuple[int, int]) -> None:
    """Adding a reader for an fd that has one replaces the callback."""
    r, w = pipe
    calls: list[str] = []
    h.loop.add_reader(r, recorder(calls, "old"))
    h.loop.add_reader(r, recorder(calls, "new"))
    os.write(w, b"x")
    h.loop.run_once(0)
    assert calls == ["new"]


def test_reader_and_writer_on_same_fd(h: Harness) -> None:
    """One fd can have a reader and a writer; removing one leaves the other working."""
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        fd = a.fileno()
        calls: list[str] = []

        def on_read() -> None:
            calls.append("r")
            a.recv(100)

        h.loop.add_reader(fd, on_read)
        h.loop.add_writer(fd, recorder(calls, "w"))
        h.loop.run_once(0)
        assert calls == ["w"]
        calls.clear()
        b.send(b"x")
        h.loop.run_once(0)
        assert calls == ["r", "w"]
        calls.clear()
        h.loop.remove_writer(fd)
        b.send(b"x")
        h.loop.run_once(0)
        assert calls == ["r"]
        calls.clear()
        h.loop.add_writer(fd, recorder(calls, "w"))
        h.loop.remove_reader(fd)
        b.send(b"x")
        h.loop.run_once(0)
        assert calls == ["w"]
        calls.clear()
        h.loop.remove_writer(fd)
        h.loop.run_once(0)
        assert calls == []
        assert a.recv(100) == b"x"  # the last byte was never read by a removed reader
    finally:
        a.close()
        b.close()


def test_reader_and_writer_on_same_pipe_end(h: Harness, pipe: tuple[int, int]) -> None:
    """A pipe's write end can carry a reader and a writer; each is removed independently."""
    _, w = pipe
    calls: list[str] = []
    h.loop.add_reader(w, recorder(calls, "r"))
    h.loop.add_writer(w, recorder(calls, "w"))
    h.loop.run_once(0)
    assert calls == ["w"]
    h.loop.remove_reader(w)
    h.loop.run_once(0)
    assert calls == ["w", "w"]
    h.loop.add_reader(w, recorder(calls, "r"))
    h.loop.remove_writer(w)
    h.loop.run_once(0)
    assert calls == ["w", "w"]
    h.loop.remove_reader(w)
    assert h.errors == []


def test_callback_removed_earlier_in_pass_not_called(h: Harness) -> None:
    """When two fds are ready and the first callback removes the other's, only one runs."""
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        calls: list[str] = []

        def first() -> None:
            calls.append("1")
            h.loop.remove_reader(r2)

        def second() -> None:
            calls.append("2")
            h.loop.remove_reader(r1)

        h.loop.add_reader(r1, first)
        h.loop.add_reader(r2, second)
        os.write(w1, b"x")
        os.write(w2, b"x")
        h.loop.run_once(0)
        assert calls in (["1"], ["2"])
        assert h.errors == []
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


def test_writer_removed_by_reader_of_same_fd_not_called(h: Harness) -> None:
    """A writer removed by the same fd's reader earlier in the pass does not run."""
    a, b = socket.socketpair()
    try:
        fd = a.fileno()
        calls: list[str] = []

        def on_read() -> None:
            calls.append("r")
            h.loop.remove_writer(fd)

        h.loop.add_reader(fd, on_read)
        h.loop.add_writer(fd, recorder(calls, "w"))
        b.send(b"x")
        h.loop.run_once(0)
        assert calls == ["r"]
    finally:
        a.close()
        b.close()


def test_writer_for_regular_file_raises_and_leaves_loop_consistent(
    h: Harness, tmp_path: Path, pipe: tuple[int, int]
) -> None:
    """add_writer on a regular file raises PermissionError and leaves nothing registered."""
    fd = os.open(tmp_path / "file", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        calls: list[str] = []
        with pytest.raises(PermissionError):
            h.loop.add_writer(fd, recorder(calls, "file"))
        h.loop.remove_writer(fd)
        h.loop.remove_reader(fd)
        with pytest.raises(PermissionError):  # still not registered: the same error again
            h.loop.add_writer(fd, recorder(calls, "file"))
        with pytest.raises(PermissionError):
            h.loop.add_reader(fd, recorder(calls, "file"))
        h.loop.remove_writer(fd)
        r, w = pipe
        h.loop.add_reader(r, recorder(calls, "pipe"))
        os.write(w, b"x")
        h.loop.run_once(0)
        assert calls == ["pipe"]
        assert h.errors == []
    finally:
        os.close(fd)


# -- errors and stopping ---------------------------------------------------------------


def test_exception_in_timer_goes_to_on_error(h: Harness) -> None:
    """A timer that raises is reported to on_error and the next timer still runs."""
    calls: list[str] = []
    error = ValueError("boom")

    def boom() -> None:
        raise error

    h.loop.call_at(101, boom)
    h.loop.call_at(102, recorder(calls, "after"))
    h.clock.now = 200
    h.loop.run_once(0)
    assert calls == ["after"]
    assert len(h.errors) == 1
    where, exc = h.errors[0]
    assert exc is error
    assert where.endswith("boom")


def test_exception_in_each_kind_of_callback(h: Harness, pipe: tuple[int, int]) -> None:
    """Exceptions from on_signal, reap, readers and timers are all reported; the loop goes on."""
    r, w = pipe

    def fail(name: str) -> Callable[..., None]:
        def callback(*_: object) -> None:
            raise RuntimeError(name)

        return callback

    with restored_handler(signal.SIGCHLD):
        h.receiver.catch({signal.SIGCHLD})
        h.loop.on_signal = fail("signal")
        h.loop.reap = fail("reap")
        h.loop.add_reader(r, fail("fd"))
        h.loop.call_at(100, fail("timer"))
        os.write(w, b"x")
        signal.raise_signal(signal.SIGCHLD)
        h.loop.run_once(0)
        assert [str(exc) for _, exc in h.errors] == ["signal", "reap", "fd", "timer"]
        h.loop.run_once(0)  # the loop is still usable; the unread byte fails the reader again
        assert [str(exc) for _, exc in h.errors[4:]] == ["fd"]


def test_stop_makes_run_return(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """stop() from a timer makes run() return after that pass."""
    guard_passes(monkeypatch, h.loop)
    calls: list[str] = []

    def stop() -> None:
        calls.append("stop")
        h.loop.stop()

    h.loop.call_at(101, recorder(calls, "before"))
    h.loop.call_at(102, stop)
    h.loop.call_at(102, recorder(calls, "same pass"))
    h.loop.call_at(103, recorder(calls, "later"))
    h.clock.now = 102
    h.loop.run()
    assert calls == ["before", "stop", "same pass"]


def test_stop_from_reader(
    h: Harness, pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """stop() from an fd callback makes run() return, and run() can be entered again."""
    asked = guard_passes(monkeypatch, h.loop)
    r, w = pipe

    def on_read() -> None:
        os.read(r, 10)
        h.loop.stop()

    h.loop.add_reader(r, on_read)
    os.write(w, b"x")
    h.loop.run()
    assert len(asked) == 1
    os.write(w, b"x")
    h.loop.run()
    assert len(asked) == 2


# -- order within one pass -------------------------------------------------------------


def test_pass_order_signals_reap_fds_timers(h: Harness, pipe: tuple[int, int]) -> None:
    """One pass handles signals, then reaping (after a SIGCHLD), then ready fds, then due
    timers."""
    r, w = pipe
    calls: list[str] = []
    with restored_handler(signal.SIGUSR1), restored_handler(signal.SIGCHLD):
        h.receiver.catch({signal.SIGUSR1, signal.SIGCHLD})
        h.loop.on_signal = lambda signum: calls.append(f"signal {signum}")
        h.loop.reap = recorder(calls, "reap")

        def on_read() -> None:
            os.read(r, 10)
            calls.append("fd")

        h.loop.add_reader(r, on_read)
        h.loop.call_at(100, recorder(calls, "timer"))
        os.write(w, b"x")
        signal.raise_signal(signal.SIGUSR1)
        signal.raise_signal(signal.SIGCHLD)
        h.loop.run_once(0)
        usr1, chld = int(signal.SIGUSR1), int(signal.SIGCHLD)
        assert calls == [f"signal {usr1}", f"signal {chld}", "reap", "fd", "timer"]
        calls.clear()
        h.loop.run_once(0)
        assert calls == []  # the signals were handled once; no SIGCHLD, no reaping
        signal.raise_signal(signal.SIGUSR1)
        h.loop.run_once(0)
        assert calls == [f"signal {usr1}"]  # other signals do not reap
    assert h.errors == []


def test_signals_in_arrival_order(h: Harness) -> None:
    """Several signals recorded before a pass reach on_signal in the order they arrived."""
    got: list[int] = []
    with restored_handler(signal.SIGUSR1), restored_handler(signal.SIGUSR2):
        h.receiver.catch({signal.SIGUSR1, signal.SIGUSR2})
        h.loop.on_signal = got.append
        signal.raise_signal(signal.SIGUSR2)
        signal.raise_signal(signal.SIGUSR1)
        signal.raise_signal(signal.SIGUSR2)
        h.loop.run_once(0)
    assert got == [signal.SIGUSR2, signal.SIGUSR1, signal.SIGUSR2]


def test_a_deadline_weeks_away_is_waited_for_in_bounded_steps(h: Harness) -> None:
    """D3: epoll raises OverflowError past 2**31-1 ms; each wait is capped, the timer kept."""
    waits: list[float] = []
    real = h.loop._epoll

    class Recording:
        def poll(self, timeout: float) -> list[tuple[int, int]]:
            waits.append(timeout)
            return real.poll(0)

    h.loop._epoll = Recording()  # type: ignore[assignment]
    ran: list[bool] = []
    h.loop.call_later(3_000_000.0, lambda: ran.append(True))
    h.loop.run_once(h.loop.next_timeout())
    assert 0 < waits[0] < 2**31 / 1000
    h.clock.now += 3_000_000.0
    h.loop.run_once(h.loop.next_timeout())
    assert ran == [True]
    h.loop._epoll = real
