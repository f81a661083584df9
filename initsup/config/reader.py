"""Reading the configuration in a forked child, with a deadline, without blocking the loop.

Why a child: configparser, shlex and initsup.config are most of half a MiB that a
supervisor running for months would keep only to read its file again on SIGHUP; and a
configuration can hang its reader (`[include]` matching a FIFO, /dev/stdin) or crash it,
which must never freeze or kill PID 1.  The child sends one marshal-able answer through
a pipe and exits (packing.py makes and reads that answer).

The parent reads that pipe either synchronously with a deadline (`read`: start-up and
`initsup check`, where nothing else runs yet) or through the event loop (`start` and
Watch: reloads), so a child that never answers costs PID 1 nothing but a timer: at
DEADLINE it is killed and reaped.

The child dies with its parent: PR_SET_PDEATHSIG, or where prctl cannot be had, a thread
that waits for the parent's end of the pipe to close.
"""

from __future__ import annotations

import os
import select

from initsup.errors import ConfigError
from initsup.signals import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.loop import EventLoop, Timer
    from initsup.model import Config

    Decode = Callable[[bytes], tuple[Config, list[str]]]
    Load = Callable[[], tuple[Config, list[str]]]

DEADLINE = 30.0  # seconds a configuration may take to read (tests lower it)
MAX_ANSWER = 256 << 20  # bytes: a larger answer is a runaway, not a configuration
READ_SIZE = 1 << 16


class LoadFailed(Exception):
    """The child gave no usable answer; str() says why, for `reload refused: ...`."""


def read(load: Load, meanwhile: Callable[[], object] = int) -> tuple[Config, list[str]]:
    """load() run in a forked child, waited for with a deadline: its config and warnings.

    `meanwhile()` runs in this process while the child reads: at start-up, the
    supervisor's own imports.  Raises ConfigError listing every problem (a child that
    hangs, crashes or cannot be started is one), or the UsageError load raised.
    """
    try:
        reading = start(load)
        try:
            meanwhile()
        except BaseException:
            reading.close()
            raise
        return reading.wait()
    except LoadFailed as exc:
        raise ConfigError([str(exc)]) from None


def start(load: Load) -> Loader:
    """A forked child running load() (raises LoadFailed if it cannot be started)."""
    from initsup.config import packing

    return Loader(lambda: packing.answer(load), packing.decode)


class Loader:
    """One forked child computing `produce()`; its bytes come back through a pipe, and
    `decode` turns them into the configuration (or raises what the child reported)."""

    def __init__(self, produce: Callable[[], bytes], decode: Decode) -> None:
        self._decode = decode
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
        except BaseException as exc:  # EAGAIN, ENOMEM: nothing may be left open
            os.close(read_fd)
            os.close(write_fd)
            if isinstance(exc, OSError):
                raise LoadFailed(
                    f"could not start a process to read the configuration: {exc}"
                ) from None
            raise
        if pid == 0:  # pragma: no cover - runs in the child, which always leaves by _exit
            _child(read_fd, write_fd, os.getppid(), produce)
        os.close(write_fd)
        self.pid = pid
        self.fd = read_fd
        self.status: int | None = None  # the child's wait status, once reaped
        self._chunks: list[bytes] = []
        self._size = 0
        self.eof = False
        self._closed = False

    @property
    def done(self) -> bool:
        """Whether the answer is complete and the child reaped."""
        return self.eof and self.status is not None

    def read_some(self) -> None:
        """Read what the pipe holds now (it may be non-blocking); note the end of it."""
        try:
            chunk = os.read(self.fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        if not chunk:
            self.eof = True
            return
        self._chunks.append(chunk)
        self._size += len(chunk)
        if self._size > MAX_ANSWER:  # the caller closes (and so kills) the reader
            raise LoadFailed(f"the configuration's reader sent more than {MAX_ANSWER} bytes")

    def result(self) -> tuple[Config, list[str]]:
        """The configuration and its warnings; raises what the child reported, or
        LoadFailed when it gave no answer."""
        return self._decode(self.answer())

    def answer(self) -> bytes:
        """The child's answer; raises LoadFailed when it gave none."""
        data = b"".join(self._chunks)
        if not data:
            status = "?" if self.status is None else str(self.status)
            raise LoadFailed(f"reading the configuration failed (wait status {status})")
        return data

    def wait(self, deadline: float | None = None) -> tuple[Config, list[str]]:
        """Read the whole answer, blocking at most deadline seconds, and reap the child."""
        deadline = DEADLINE if deadline is None else deadline
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        give_up = _now() + deadline
        try:
            while not self.eof:
                left = give_up - _now()
                if left <= 0 or not poller.poll(left * 1000):
                    raise LoadFailed(too_slow(deadline))
                self.read_some()
            self.reaped(os.waitpid(self.pid, 0)[1])
        finally:
            self.close()
        return self.result()

    def reaped(self, status: int) -> None:
        """Take the child's wait status (from whoever waited for it)."""
        self.status = status

    def close(self, wait: bool = True) -> None:
        """Kill the child unless it has been reaped, and close the pipe (idempotent)."""
        self.kill(wait)
        if not self._closed:
            self._closed = True
            os.close(self.fd)

    def kill(self, wait: bool = True) -> None:
        """End the child now and reap it (idempotent).  Without wait, a child that has not
        died yet (stuck in the kernel) is left for the loop's reaper: status stays None."""
        if self.status is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            pid, status = os.waitpid(self.pid, 0 if wait else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere already
            self.status = -1
            return
        if pid:
            self.status = status


class Watch:
    """A Loader read through the event loop: done(loader) runs once when it is complete,
    or failed(reason) once when it cannot be (deadline, runaway answer).  The owner passes
    the child's wait status to reaped() when the loop's reaper collects it."""

    def __init__(
        self,
        loader: Loader,
        loop: EventLoop,
        done: Callable[[Loader], None],
        failed: Callable[[str], None],
        deadline: float | None = None,
    ) -> None:
        self.loader = loader
        self._loop = loop
        self._done = done
        self._failed = failed
        self._deadline = DEADLINE if deadline is None else deadline
        self._finished = False
        os.set_blocking(loader.fd, False)
        loop.add_reader(loader.fd, self._readable)
        self._timer: Timer = loop.call_later(self._deadline, self._expired)

    def _readable(self) -> None:
        try:
            self.loader.read_some()
        except LoadFailed as exc:
            self._end(str(exc))
            return
        except OSError as exc:  # not expected of a pipe; the reload fails, PID 1 goes on
            self._end(f"reading the configuration's answer failed: {exc}")
            return
        if self.loader.eof:
            self._loop.remove_reader(self.loader.fd)
        self._maybe_done()

    def reaped(self, status: int) -> None:
        """The child has been waited for by the loop's reaper."""
        self.loader.reaped(status)
        self._maybe_done()

    def _maybe_done(self) -> None:
        if self.loader.done and not self._finished:
            self._close()
            self._done(self.loader)

    def _expired(self) -> None:
        self._end(too_slow(self._deadline))

    def cancel(self) -> None:
        """Kill the child and forget it, saying nothing (initsup is shutting down)."""
        if not self._finished:
            self._close()

    def _end(self, reason: str) -> None:
        if not self._finished:
            self._close()
            self._failed(reason)

    def _close(self) -> None:
        self._finished = True
        self._timer.cancel()
        self._loop.remove_reader(self.loader.fd)
        self.loader.close(wait=False)  # PID 1 never waits for a child to die


def too_slow(deadline: float) -> str:
    return f"reading the configuration took longer than {deadline:g} s; its reader was killed"


def _now() -> float:
    import time

    return time.monotonic()


def _child(read_fd: int, write_fd: int, parent: int, produce: Callable[[], bytes]) -> None:
    """The child's whole life: die with the parent, produce, send, leave by _exit."""
    code = 1
    try:
        os.close(read_fd)
        _die_with(parent, write_fd)
        data = produce()
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
        code = 0
    finally:
        os._exit(code)


def _die_with(parent: int, write_fd: int) -> None:
    """Make sure this child ends when its parent does."""
    try:
        from initsup import linux

        linux.set_parent_death_signal(signal.SIGKILL)
    except Exception:  # no _ctypes, no prctl: watch the pipe instead
        try:
            _watch_parent(write_fd)
        except Exception:  # not even threads: the parent's deadline still ends the reader
            pass
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def _watch_parent(write_fd: int) -> None:
    """A thread that ends the process once nobody reads the pipe (the parent has gone:
    poll reports POLLERR on a pipe's write end whose read end is closed)."""
    import threading

    def watch() -> None:
        poller = select.poll()
        poller.register(write_fd, 0)  # only errors and hang-ups
        while True:
            for _, events in poller.poll():
                if events & (select.POLLERR | select.POLLHUP):
                    os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
