"""The one event loop: epoll, a timer heap and a signal receiver, on one thread.

After every wakeup, in this order: handle the signals delivered since the last pass, reap
children until none is left (after a SIGCHLD), serve the fds that were ready, run the
timers that are due.
Signals first so that a shutdown request is seen before the output it may cause; reaping
before fds so that a program's exit is known before its last output is read.

epoll blocks until the next timer deadline, or forever when there is none: an idle loop
makes no wakeups at all.  (epoll directly rather than the selectors module, which costs a
millisecond of start-up for nothing initsup needs.)
"""

from __future__ import annotations

import itertools
import select
import time

try:
    # heapq's C half: the heapq module adds only Python versions of what it replaces.
    from _heapq import heappop, heappush
except Exception:  # an interpreter without it, or a different one: the public module
    from heapq import heappop, heappush

from initsup.signals import SignalReceiver, signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Callback = Callable[[], None]

READ, WRITE = select.EPOLLIN, select.EPOLLOUT
# The longest single wait: epoll takes at most 2**31 - 1 ms (24.8 days) and raises beyond
# it.  A deadline further away (startsecs=2200000, stopwaitsecs=3000000) is simply several
# waits; one wakeup a day costs nothing.
MAX_WAIT = 86400.0


def do_nothing(*_: object) -> None:
    """The callback for what needs none: a default, a pipe's end nobody waits for."""


class Timer:
    """A scheduled call; `cancel()` makes it never run."""

    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callback) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Drop this timer; the heap forgets it lazily."""
        self.cancelled = True


class _FdHandlers:
    __slots__ = ("reader", "writer")

    def __init__(self) -> None:
        self.reader: Callback | None = None
        self.writer: Callback | None = None

    def mask(self) -> int:
        return (READ if self.reader else 0) | (WRITE if self.writer else 0)


class EventLoop:
    """Runs callbacks for signals, child exits, ready fds and timers; never dies of one."""

    def __init__(
        self,
        signals: SignalReceiver,
        on_error: Callable[[str, BaseException], None],
        clock: Callable[[], float] = time.monotonic,
        on_signal: Callable[[int], None] = do_nothing,
        reap: Callback = do_nothing,
    ) -> None:
        """on_signal(signum) hears every signal received; reap() runs after a SIGCHLD."""
        self.clock = clock
        self.on_signal = on_signal
        self.reap = reap
        self.on_error = on_error  # settable: the loop's owner may be made after it
        self._signals = signals
        self._epoll = select.epoll()
        self._handlers: dict[int, _FdHandlers] = {}
        self._timers: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._stop_requested = False
        self._epoll.register(signals.fileno(), READ)

    # -- fds ---------------------------------------------------------------------------

    def add_reader(self, fd: int, callback: Callback) -> None:
        """Call `callback()` whenever fd is readable."""
        self._set_handler(fd, "reader", callback)

    def remove_reader(self, fd: int) -> None:
        """Stop watching fd for reading (no-op if not watched)."""
        self._set_handler(fd, "reader", None)

    def add_writer(self, fd: int, callback: Callback) -> None:
        """Call `callback()` whenever fd is writable."""
        self._set_handler(fd, "writer", callback)

    def remove_writer(self, fd: int) -> None:
        """Stop watching fd for writing (no-op if not watched)."""
        self._set_handler(fd, "writer", None)

    def _set_handler(self, fd: int, kind: str, callback: Callback | None) -> None:
        handlers = self._handlers.get(fd) or _FdHandlers()
        old_mask = handlers.mask()
        previous = getattr(handlers, kind)
        setattr(handlers, kind, callback)
        new_mask = handlers.mask()
        try:
            if not new_mask:
                if old_mask:
                    self._epoll.unregister(fd)
                self._handlers.pop(fd, None)
            elif not old_mask:
                # epoll refuses regular files and /dev/null with EPERM: the caller
                # decides what to do about an fd that cannot be watched.
                self._epoll.register(fd, new_mask)
                self._handlers[fd] = handlers
            elif new_mask != old_mask:
                self._epoll.modify(fd, new_mask)
        except BaseException:
            setattr(handlers, kind, previous)
            raise

    # -- timers ------------------------------------------------------------------------

    def call_at(self, deadline: float, callback: Callback) -> Timer:
        """Run `callback()` once the clock reaches deadline (a `clock()` value)."""
        timer = Timer(deadline, callback)
        heappush(self._timers, (deadline, next(self._sequence), timer))
        return timer

    def call_later(self, delay: float, callback: Callback) -> Timer:
        """Run `callback()` after delay seconds."""
        return self.call_at(self.clock() + delay, callback)

    def next_timeout(self) -> float | None:
        """Seconds until the next timer is due (0 when overdue), None when none is set."""
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heappop(timers)
        if not timers:
            return None
        return max(0.0, timers[0][0] - self.clock())

    def _run_due_timers(self) -> None:
        now = self.clock()
        timers = self._timers
        while timers and timers[0][0] <= now:
            timer = heappop(timers)[2]
            if not timer.cancelled:
                timer.cancelled = True
                self._call(timer.callback)

    # -- running -----------------------------------------------------------------------

    def run(self) -> None:
        """Serve events until `stop()` is called (at once if it was called before)."""
        while not self._stop_requested:
            self.run_once(self.next_timeout())
        self._stop_requested = False

    def stop(self) -> None:
        """Make `run()` return after the current pass, or at once if it is not running."""
        self._stop_requested = True

    def run_once(self, timeout: float | None) -> None:
        """Wait at most timeout seconds (None: forever), then do one full pass."""
        # The timeout is rounded up to whole milliseconds, so a timer due in less than one
        # does not make a busy loop; EINTR is retried with the time left (PEP 475).
        ready = self._epoll.poll(-1 if timeout is None else min(timeout, MAX_WAIT))
        wake = self._signals.fileno()
        for fd, _ in ready:
            if fd == wake:
                self._take_signals()
                break
        for fd, events in ready:
            handlers = self._handlers.get(fd)
            if handlers is None:
                continue  # removed by an earlier callback in this pass
            # Hang-ups and errors come whatever was asked for: they wake the reader and
            # the writer alike, which then see EOF or the error themselves.
            if events & ~WRITE and handlers.reader:
                self._call(handlers.reader)
            if events & ~READ and handlers.writer:
                self._call(handlers.writer)
        self._run_due_timers()

    def _take_signals(self) -> None:
        child_exited = False
        for signum in self._signals.take():
            child_exited = child_exited or signum == signal.SIGCHLD
            self._call(self.on_signal, signum)
        if child_exited:  # wait4 costs as much as a read: only when there is news
            self._call(self.reap)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        # The one guard that keeps PID 1 alive: a bug in any handler is logged with its
        # traceback and the loop goes on.
        try:
            callback(*args)
        except Exception as exc:
            self.on_error(getattr(callback, "__qualname__", repr(callback)), exc)

    def close(self) -> None:
        """Release the epoll fd."""
        self._epoll.close()
