"""One run of one health check on initsup's event loop: a command, an HTTP GET, a TCP connect.

The monitor (health/monitor.py) decides when a process is checked and what a result
means; a Probe only runs one check and tells its Result, once, from the loop.  Nothing
here blocks or waits: a command is started like every child initsup starts (in a process
group of its own, by the program's starter, Children.check_starter) and reaped through
reaper.Owners, its output read from a non-blocking pipe; HTTP and TCP checks are
non-blocking sockets on the loop.  No thread and no subprocess, which would reap (or
misreport) children the reaper collects.

What a check answers is outside input, and PID 1 must not die of it: a command's output
is kept to its last OUTPUT_TAIL bytes, an HTTP answer is read to 64 KiB at most, and
nothing a probe meets (a refused connection, a garbage answer, a bug in this module)
raises into the loop: it is a failed Result, and everything the run opened is closed.

Host names are resolved with getaddrinfo at each run, on the loop: an address literal or
a name in /etc/hosts ("localhost") answers at once, but a name that needs DNS may block
initsup while it is looked up.  Checks are meant for the container's own addresses.
"""

from __future__ import annotations

import errno
import os

from initsup import exits, sockets
from initsup.health.answers import MAX_ANSWER, parse_status, request, verdict
from initsup.health.facts import OUTPUT_TAIL, Result
from initsup.signals import signal, signal_name
from initsup.spawn import ExecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.loop import EventLoop, Timer
    from initsup.model import HealthCheck
    from initsup.reaper import Owners

    Done = Callable[[Result], None]
    # start(argv, out_fd) -> pid: out_fd is the child's stdout and stderr.
    Start = Callable[[list[str], int], int]

SHELL = "/bin/sh"  # a command check's interpreter, as Docker runs HEALTHCHECK CMD-SHELL
READ_SIZE = 65536
# Reads of a finished command's pipe: what it wrote before its end is in the pipe then,
# and a background child still writing there must not keep the result (or PID 1) busy.
MAX_DRAIN_READS = 16
# After a timed-out command is killed it normally ends at once; one that cannot (stuck in
# the kernel) must not hold its check forever: the result comes anyway.
KILL_GRACE = 5.0

_ERROR_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed while sending",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}


def make(check: HealthCheck, loop: EventLoop, owners: Owners, start: Start) -> Probe:
    """The probe for check (its kind: "command", "http" or "tcp")."""
    if check.kind == "command":
        return CommandProbe(check, loop, owners, start)
    if check.kind == "http":
        return HttpProbe(check, loop)
    if check.kind == "tcp":
        return TcpProbe(check, loop)
    raise ValueError(f"no probe for a {check.kind!r} check")


class Probe:
    """One check of one process, one run at a time.

    run(done) starts a run; done(result) is called exactly once, always later from the
    loop (never inside run), unless cancel() comes first.  `running` is true from run()
    until done is called (or cancel()).
    """

    def __init__(self, check: HealthCheck, loop: EventLoop) -> None:
        self.check = check
        self.running = False
        self._loop = loop
        self._done: Done | None = None
        self._started = 0.0
        self._deadline: Timer | None = None  # the timeout, then a killed command's grace
        self._delivery: Timer | None = None  # the result, decided, on its way to done

    def run(self, done: Done) -> None:
        """Start one check; done(result) hears how it went."""
        if self.running:
            raise RuntimeError(f"a {self.check.kind} check is already running")
        self.running = True
        self._done = done
        self._started = self._loop.clock()
        self._deadline = self._loop.call_later(self.check.timeout, self._guard(self._timed_out))
        self._guard(self._begin)()

    def cancel(self) -> None:
        """Abandon the run under way, if any: done is never called; what it opened is
        closed, a command's process group killed (and still reaped through Owners)."""
        if not self.running:
            return
        self.running = False
        self._done = None
        self._stop_timers()
        self._release()

    # -- what each kind does -------------------------------------------------------------

    def _begin(self) -> None:
        """Start the check (inside run)."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close everything the run opened; never raises, safe to call twice."""

    def _timed_out(self) -> None:
        self._finish(False, self._timeout_words())

    # -- the one way out -----------------------------------------------------------------

    def _timeout_words(self) -> str:
        return f"timed out after {self.check.timeout:g} s"

    def _finish(self, ok: bool, detail: str, output: str = "") -> None:
        """Decide the run's result (the first decision counts): close everything now, and
        hand the result to done from a timer, so done never runs inside run()."""
        if self._done is None or self._delivery is not None:
            return
        self._stop_timers()
        self._release()
        result = Result(ok, detail, output, self._loop.clock() - self._started)
        self._delivery = self._loop.call_later(0.0, lambda: self._deliver(result))

    def _deliver(self, result: Result) -> None:
        done, self._done = self._done, None
        self._delivery = None
        self.running = False  # before done: it may start the next run at once
        if done is not None:
            done(result)

    def _stop_timers(self) -> None:
        for timer in (self._deadline, self._delivery):
            if timer is not None:
                timer.cancel()
        self._deadline = self._delivery = None

    def _guard(self, step: Callable[[], None]) -> Callable[[], None]:
        """step, made unable to raise: a bug here is a failed result, not the loop's."""

        def guarded() -> None:
            try:
                step()
            except Exception as exc:
                self._finish(False, f"internal error: {type(exc).__name__}: {exc}")

        return guarded


class CommandProbe(Probe):
    """`/bin/sh -c COMMAND`, as the program's user, in its directory and environment: ok
    when it exits 0.  Past the timeout its process group is killed."""

    def __init__(self, check: HealthCheck, loop: EventLoop, owners: Owners, start: Start):
        super().__init__(check, loop)
        self._owners = owners
        self._start = start
        self._pid: int | None = None  # the command of the run under way, until reaped
        self._fd: int | None = None  # our end of its output pipe
        self._tail = bytearray()  # the last OUTPUT_TAIL bytes of its output
        self._killed = False  # killed for taking too long

    def _begin(self) -> None:
        self._tail.clear()
        self._killed = False
        read_fd, write_fd = os.pipe()  # both close-on-exec; the child gets write_fd dup2'd
        self._fd = read_fd
        try:
            os.set_blocking(read_fd, False)
            try:
                pid = self._start([SHELL, "-c", self.check.command], write_fd)
            except Exception as exc:  # ExecError, OSError (EMFILE, EAGAIN), a lost user
                self._finish(False, f"could not run: {_start_error(exc)}")
                return
        finally:
            os.close(write_fd)  # the child has its copy: EOF comes when its holders end
        self._pid = pid
        self._owners.add(pid, self)
        self._loop.add_reader(read_fd, self._guard(self._read))

    def exited(self, pid: int, status: int) -> None:
        """reaper.Owner: a command this probe started has been reaped."""
        if pid != self._pid:
            return  # an abandoned run's command, reaped at last: nobody waits for it
        self._pid = None
        self._guard(lambda: self._ended(status))()  # never raise into Owners.reap

    def _ended(self, status: int) -> None:
        self._drain()
        if self._killed:
            detail = self._timeout_words()
        else:
            end = exits.decode(status)
            detail = f"killed by {signal_name(end.signum)}" if end.signum else f"exit {end.code}"
        output = self._tail.decode("utf-8", "replace")
        self._finish(detail == "exit 0", detail, output)

    def _read(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            chunk = os.read(fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""  # unreadable: as good as its end
        if chunk:
            self._keep(chunk)
        else:  # every holder closed it; the result still waits for the command's exit
            self._close_pipe()

    def _keep(self, chunk: bytes) -> None:
        tail = self._tail
        tail += chunk
        if len(tail) > OUTPUT_TAIL:
            del tail[:-OUTPUT_TAIL]

    def _drain(self) -> None:
        """The command has ended: take what its pipe holds now, and no more."""
        fd = self._fd
        for _ in range(MAX_DRAIN_READS if fd is not None else 0):
            try:
                chunk = os.read(fd, READ_SIZE)  # type: ignore[arg-type]
            except OSError:  # EAGAIN: a background child holds the pipe, silent for now
                break
            if not chunk:
                break
            self._keep(chunk)
        self._close_pipe()

    def _timed_out(self) -> None:
        if self._pid is None:  # not started, or reaped with its result on its way
            self._finish(False, self._timeout_words())
            return
        self._killed = True
        _kill_group(self._pid)
        # The result comes when it is reaped, or after the grace if it cannot end.
        self._deadline = self._loop.call_later(KILL_GRACE, self._guard(self._stuck))

    def _stuck(self) -> None:
        self._finish(False, f"{self._timeout_words()} (its process did not end when killed)")

    def _release(self) -> None:
        if self._pid is not None:
            # Still running: its whole group goes.  It stays registered with Owners, so
            # its exit is reaped and ignored (exited() sees it is no longer ours).
            _kill_group(self._pid)
            self._pid = None
        self._close_pipe()

    def _close_pipe(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            _quietly(self._loop.remove_reader, fd)
            _quietly(os.close, fd)


class _Connection(Probe):
    """A TCP connection to check.host:check.port, each address getaddrinfo gives in turn
    ("localhost" may be ::1 first while the server listens on 127.0.0.1 only)."""

    def __init__(self, check: HealthCheck, loop: EventLoop) -> None:
        super().__init__(check, loop)
        self._sockets = _socket_module()
        self._sock: Any = None
        self._addresses: list[tuple[int, int, int, Any]] = []
        self._error = ""  # why the last address failed

    def _begin(self) -> None:
        sockets = self._sockets
        host = self.check.host or None  # "" (healthcheck_tcp=*:port): loopback
        try:
            found = sockets.getaddrinfo(host, self.check.port, 0, sockets.SOCK_STREAM)
        except OSError as exc:  # socket.gaierror included
            self._finish(False, f"cannot resolve {self.check.host}: {exc.strerror or exc}")
            return
        self._addresses = [
            (family, kind, proto, address) for family, kind, proto, _, address in found
        ]
        self._error = "no address"
        self._next_address()

    def _next_address(self) -> None:
        sockets = self._sockets
        while self._addresses:
            family, kind, proto, address = self._addresses.pop(0)
            try:
                sock = self._sock = sockets.socket(family, kind, proto)
                sock.setblocking(False)
                code = sock.connect_ex(address)
            except OSError as exc:  # EMFILE; EAFNOSUPPORT: no IPv6 in this container
                code = exc.errno or errno.EIO
            if code == 0:
                self._connected()
                return
            if code == errno.EINPROGRESS:
                self._loop.add_writer(sock.fileno(), self._guard(self._connect_done))
                return
            self._error = error_words(code)
            self._close_socket()
        self._finish(False, self._error)

    def _connect_done(self) -> None:
        sock = self._sock
        self._loop.remove_writer(sock.fileno())
        code = sock.getsockopt(self._sockets.SOL_SOCKET, self._sockets.SO_ERROR)
        if code:
            self._error = error_words(code)
            self._close_socket()
            self._next_address()
            return
        self._connected()

    def _connected(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        self._addresses = []
        self._close_socket()

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            fd = sock.fileno()
            if fd >= 0:
                _quietly(self._loop.remove_reader, fd)
                _quietly(self._loop.remove_writer, fd)
            _quietly(sock.close)


class TcpProbe(_Connection):
    """A TCP connect: ok ("connected") when it completes; then the socket is closed."""

    def _connected(self) -> None:
        self._finish(True, "connected")


class HttpProbe(_Connection):
    """`GET path HTTP/1.1`: ok for a 2xx or 3xx answer (redirects are not followed)."""

    def __init__(self, check: HealthCheck, loop: EventLoop) -> None:
        super().__init__(check, loop)
        self._outbox = b""  # what of the request is not sent yet
        self._answer = bytearray()

    def _connected(self) -> None:
        self._outbox = request(self.check)
        self._answer = bytearray()
        self._send()

    def _send(self) -> None:
        fd = self._sock.fileno()
        try:
            sent = self._sock.send(self._outbox)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._finish(False, error_words(exc.errno or 0))
            return
        self._outbox = self._outbox[sent:]
        if self._outbox:
            self._loop.add_writer(fd, self._guard(self._send))
            return
        self._loop.remove_writer(fd)
        self._loop.add_reader(fd, self._guard(self._receive))

    def _receive(self) -> None:
        try:
            chunk = self._sock.recv(min(READ_SIZE, MAX_ANSWER - len(self._answer)))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # a reset after a whole status line: that line decides
            answer = bytes(self._answer)
            found = verdict(answer, True) if parse_status(answer) is not None else None
            self._finish(*(found or (False, error_words(exc.errno or 0), "")))
            return
        self._answer += chunk
        complete = not chunk or len(self._answer) >= MAX_ANSWER
        found = verdict(bytes(self._answer), complete)
        if found is not None:
            self._finish(*found)


# -- small helpers ------------------------------------------------------------------------


def error_words(code: int) -> str:
    """A socket error, in a check's detail: "connection refused"."""
    words = _ERROR_WORDS.get(code)
    if words is None:
        text = os.strerror(code) if code else "unknown error"
        words = text[:1].lower() + text[1:]
    return words


def _start_error(exc: Exception) -> str:
    if isinstance(exc, ExecError):
        return exc.spawnerr
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _kill_group(pid: int) -> None:
    # The starter gives every child a process group of its own, led by it: the command's
    # own children (a `sleep` in the background) go with it.  pid is still unreaped here,
    # so its group id cannot belong to anyone else.
    if pid > 1:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:  # ESRCH: nothing left in its group
            pass


def _quietly(action: Callable[..., object], *args: object) -> None:
    """Cleanup that must not fail a cleanup: a close of something already gone."""
    try:
        action(*args)
    except Exception:
        pass


_NEEDED = ("socket", "getaddrinfo", "SOCK_STREAM", "SOL_SOCKET", "SO_ERROR")


def _socket_module() -> Any:
    """`_socket`, as the control server uses it, or `socket` when in doubt."""
    return sockets.module(_NEEDED)
