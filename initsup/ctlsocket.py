"""The control socket's transport: listening, accepting, and one connection per request.

Nothing a client sends, or fails to read, may stall the loop, lose another client's
answer or grow initsup's memory without bound: sockets are non-blocking; a client that
says nothing is dropped after IDLE_TIMEOUT; a request is at most MAX_REQUEST bytes; at
most MAX_CONNECTIONS clients are served at once (the oldest `-f` follower makes room for
the next, or else the next is told so and closed); a client
is dropped once MAX_PENDING bytes wait for it, or when all clients together have
MAX_QUEUED waiting; out of file descriptors, accepting pauses for ACCEPT_PAUSE instead of
spinning.  Only root and initsup's own user may connect (SO_PEERCRED).

What a request means is the business of Server.handle (initsup.control): here any
exception it raises becomes an error answer and a close, never a connection left hanging.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from initsup import jsoncodec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.loop import Timer
    from initsup.supervisor import Supervisor

MAX_REQUEST = 65536
MAX_PENDING = 1 << 20
MAX_QUEUED = 8 << 20
MAX_CONNECTIONS = 64
IDLE_TIMEOUT = 10.0
ACCEPT_PAUSE = 0.5

# What the server takes from its socket module.
_NEEDED = ("socket", "AF_UNIX", "SOCK_STREAM", "SOL_SOCKET", "SO_PEERCRED", "SHUT_WR")


def socket_module() -> Any:
    """`_socket` when it has everything the server uses, else `socket`, else None.

    `_socket` saves every idle initsup the `socket` module on top of it (enums, selectors,
    array: about 0.45 MiB of 14.5 MiB with 50 programs), for methods the server does not
    call.  Any doubt about it means the public module; with neither, initsup runs without
    a control socket (ControlServer raises OSError).
    """
    for name in ("_socket", "socket"):
        try:
            module = __import__(name)
            if all(hasattr(module, attribute) for attribute in _NEEDED) and hasattr(
                module.socket, "_accept"
            ):
                return module
        except Exception:  # a broken module is one the server does not use
            continue
    return None


class Server:
    """Accepts connections on a listening unix socket; subclasses answer requests."""

    def __init__(self, supervisor: Supervisor, path: str, mode: int) -> None:
        self.supervisor = supervisor
        self.path = path
        self.sockets = socket_module()
        if self.sockets is None:
            raise OSError(errno.ENOSYS, "Python's socket module cannot be imported")
        self.sock = _listen(self.sockets, path, mode)
        self.connections: dict[Connection, None] = {}  # in the order they came
        self.queued = 0  # bytes waiting in every connection's outbox
        self._starved = False  # accept has failed since it last succeeded
        self._crowded = False  # a client has been turned away since one was admitted
        self._resume: Timer | None = None
        supervisor.loop.add_reader(self.sock.fileno(), self._accept)

    def handle(self, connection: Connection, line: bytes) -> None:
        """Answer one request line (without its newline)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        if self._resume is not None:
            self._resume.cancel()
        self.supervisor.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                # accept4 with SOCK_CLOEXEC; typeshed does not list the C method.
                fd, _ = self.sock._accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS: pause rather than spin
                self._pause(exc)
                return
            self._starved = False
            try:
                conn = self.sockets.socket(fileno=fd)
            except Exception as exc:
                os.close(fd)
                self._log_failure("control socket: a client failed", exc)
                continue
            try:
                self._admit(conn)
            except Exception as exc:
                conn.close()
                self._log_failure("control socket: a client failed", exc)

    def _log_failure(self, event: str, exc: Exception) -> None:
        self.supervisor.logger.exception(event, exc)

    def _pause(self, exc: OSError) -> None:
        """Stop watching the listener for ACCEPT_PAUSE: the socket stays readable while
        fds are short, and a level-triggered loop would spin on it."""
        if not self._starved:
            self.supervisor.logger.error(
                f"control socket: accept failed: {exc}; "
                f"accepting again every {ACCEPT_PAUSE} s until it works"
            )
        self._starved = True
        loop = self.supervisor.loop
        loop.remove_reader(self.sock.fileno())
        self._resume = loop.call_later(
            ACCEPT_PAUSE, lambda: loop.add_reader(self.sock.fileno(), self._accept)
        )

    def _admit(self, conn: Any) -> None:
        conn.setblocking(False)
        uid = peer_uid(self.sockets, conn)
        if uid not in (0, os.geteuid()):
            self.supervisor.logger.warning(f"control socket: refused a client of uid {uid}")
            Connection(self, conn).refuse(f"uid {uid} may not control initsup")
            return
        if len(self.connections) >= MAX_CONNECTIONS and not self._make_room():
            self._turn_away(conn)
            return
        self._crowded = False
        Connection(self, conn)

    def _make_room(self) -> bool:
        """Drop the oldest follower (tail -f, events -f) for a new client, if there is one:
        followers stay for ever, and a crowd of them must not lock out `ctl status`."""
        oldest = next((c for c in self.connections if c.following), None)
        if oldest is None:
            return False
        self.supervisor.logger.warning(
            f"control socket: {MAX_CONNECTIONS} clients connected; dropped the oldest follower"
        )
        oldest.close()
        return True

    def _turn_away(self, conn: Any) -> None:
        """Answer at once and close: nothing is kept for a client beyond the limit."""
        if not self._crowded:
            self.supervisor.logger.warning(
                f"control socket: {MAX_CONNECTIONS} clients connected; turning others away"
            )
        self._crowded = True
        reason = f"too many control connections ({MAX_CONNECTIONS}); try again later"
        try:
            conn.send(wire({"err": f"Error: {reason}"}) + wire({"exit": 2}))
        except OSError:
            pass  # it will see the close
        conn.close()


def wire(message: dict[str, Any]) -> bytes:
    """One JSON line for the client, valid UTF-8 whatever the text holds.

    Text from the system (names from environment variables, file names) can hold lone
    surrogates, which UTF-8 cannot encode; each becomes the visible escape `\\xff` (a byte
    that was not UTF-8) or `\\udxxx`, so the rest of the answer is not lost.
    """
    line = jsoncodec.dumps(message)
    try:
        return line.encode() + b"\n"
    except UnicodeEncodeError:
        return "".join(map(_escape, line)).encode() + b"\n"


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that the file system encoding could not decode
        return f"\\\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:
        return f"\\\\u{code:04x}"
    return char


class Connection:
    """One client: read its request, answer it, close."""

    def __init__(self, server: Server, conn: Any) -> None:
        self.server = server
        self.sup = server.supervisor
        self.conn = conn
        self.fd: int = conn.fileno()
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.closed = False
        self.served = False  # its request has been read (or refused): it is being served
        self.closing = False  # its answer is complete
        self.eof = False  # the client has shut down its side
        self.cleanups: list[Callable[[], None]] = []  # undone when the client goes
        self.following = False  # it streams (tail -f, events -f) until it goes
        self._deadline = self.sup.loop.call_later(IDLE_TIMEOUT, self._idle)
        try:
            self.sup.loop.add_reader(self.fd, self._on_readable)
        except BaseException:
            self._deadline.cancel()
            raise
        server.connections[self] = None

    # -- reading -----------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = self.conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._on_eof()
            return
        if self.served:
            return  # one request per connection: whatever else comes is discarded
        self.inbox += data
        line, newline, _ = self.inbox.partition(b"\n")
        if len(line) > MAX_REQUEST:
            self._serve(None)
        elif newline:
            self._serve(bytes(line))

    def _on_eof(self) -> None:
        self.eof = True
        if self.served and not self.closing:
            # Half-closed while its request is served (`nc -N`): the answer still goes
            # out, and the connection closes after it.
            self.sup.loop.remove_reader(self.fd)
            return
        self.close()

    def _serve(self, line: bytes | None) -> None:
        self.served = True
        self._deadline.cancel()
        self.inbox = bytearray()
        try:
            if line is None:
                self.reject(f"request larger than {MAX_REQUEST} bytes")
            else:
                self.server.handle(self, line)
        except Exception as exc:
            self.fail("control socket: a request failed", "internal error", exc)

    def _idle(self) -> None:
        self.sup.logger.warning("control socket: a client sent no request in time; dropped")
        self.close()

    # -- answering ---------------------------------------------------------------------

    def send(self, **message: Any) -> None:
        """Queue one JSON line for the client; drop a client that does not read.

        Never raises: it is called from output and event callbacks (tail -f, events -f)
        that must not fail because of one client.
        """
        if self.closed or self.closing:
            return
        try:
            line = wire(message)
        except Exception as exc:
            self._log_failure("control socket: an answer could not be encoded", exc)
            self.close()
            return
        self.outbox += line
        self.server.queued += len(line)
        if len(self.outbox) > MAX_PENDING or self.server.queued > MAX_QUEUED:
            self.sup.logger.warning("control socket: a client is not reading; dropped")
            self.close()
            return
        self._flush()

    def out(self, text: str) -> None:
        self.send(out=text)

    def err(self, text: str) -> None:
        self.send(err=text)

    def finish(self, code: int) -> None:
        """Send the exit code and close once everything is written."""
        self.send(exit=code)
        self.closing = True
        self._flush()

    def refuse(self, reason: str) -> None:
        self.served = True
        self._deadline.cancel()
        self.err(f"Error: {reason}")
        self.finish(2)

    def reject(self, reason: str) -> None:
        """A bad request: say what was wrong, log it, close."""
        self.sup.logger.warning(f"control socket: bad request: {reason}")
        self.err(f"Error: bad request: {reason}")
        self.finish(2)

    def fail(self, event: str, what: str, exc: Exception) -> None:
        """Whatever failed while serving: an error answer if one can still go, and a close."""
        try:
            self._log_failure(event, exc)
        finally:
            if self.closing:
                self.close()
            else:
                self.err(f"Error: {what}: {exc}")
                self.finish(1)

    def _log_failure(self, event: str, exc: Exception) -> None:
        self.sup.logger.exception(event, exc)

    def _flush(self) -> None:
        if self.closed:
            return
        try:
            sent = self.conn.send(self.outbox) if self.outbox else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        del self.outbox[:sent]
        self.server.queued -= sent
        if self.outbox:
            self.sup.loop.add_writer(self.fd, self._flush)
            return
        self.sup.loop.remove_writer(self.fd)
        if self.closing:
            self._hang_up()

    def _hang_up(self) -> None:
        if self.eof:
            self.close()
            return
        # Say we are done, but read (and drop) what the client still sends until it
        # hangs up: closing with unread input could lose our answer.  A client that
        # never hangs up is dropped after a while.
        self._deadline.cancel()
        try:
            self.conn.shutdown(self.server.sockets.SHUT_WR)
        except OSError:
            self.close()
            return
        self._deadline = self.sup.loop.call_later(IDLE_TIMEOUT, self.close)

    def close(self) -> None:
        """Forget the client: unregister, stop its streams, close the socket."""
        if self.closed:
            return
        self.closed = True
        self.server.connections.pop(self, None)
        self.server.queued -= len(self.outbox)
        self.outbox = bytearray()
        self._deadline.cancel()
        try:
            for cleanup in self.cleanups:
                try:
                    cleanup()
                except Exception as exc:
                    self._log_failure("control socket: a cleanup failed", exc)
        finally:
            self.sup.loop.remove_reader(self.fd)
            self.sup.loop.remove_writer(self.fd)
            self.conn.close()


def _listen(sockets: Any, path: str, mode: int) -> Any:
    """A listening, non-blocking unix socket at path, replacing a stale one."""
    _check_directory(path)
    _remove_stale(sockets, path)
    sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    try:
        # Created with the final mode: no window in which others could connect.
        old_umask = os.umask(0o777 & ~mode)
        try:
            sock.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, mode)
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _check_directory(path: str) -> None:
    """Refuse a directory in which anyone could replace the socket with their own."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(directory).st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise OSError(
            errno.EPERM,
            f"{directory} is writable by anyone without the sticky bit, "
            "so anyone could replace the socket",
        )


def _remove_stale(sockets: Any, path: str) -> None:
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    except FileNotFoundError:
        return
    probe = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a leftover of an earlier run
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"another initsup is listening on {path}")


def peer_uid(sockets: Any, conn: Any) -> int:
    """The uid of the process at the other end of a unix socket (SO_PEERCRED)."""
    # struct ucred: pid, uid, gid, three 32-bit ints in the machine's order.
    creds = conn.getsockopt(sockets.SOL_SOCKET, sockets.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder)
