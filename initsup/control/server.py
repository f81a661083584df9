"""The control socket: where it goes, listening, accepting, and handing each request on.

Nothing a crowd of clients does may stall the loop or lock out the next one: at most
MAX_CONNECTIONS clients are served at once (the oldest `-f` follower makes room for the
next, or else the next is told so and closed); out of file descriptors, accepting pauses
instead of spinning (initsup.control.accepting).  Only root and initsup's own user may
connect (SO_PEERCRED), and the socket is never replaceable by others.  One client's own limits
(size, time, memory) are initsup.control.connection's; what a request means is
initsup.control.commands'.  The same socket serves HTTP (supervisorctl, XML-RPC tools):
a connection that starts with an HTTP request is handed to the HTTP server the
ControlServer's factory makes on the first such connection, so the HTTP modules cost
nothing until someone speaks HTTP.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from initsup import sockets
from initsup.control.accepting import Acceptor
from initsup.control.api import EventFeed
from initsup.control.connection import BadRequest, Connection, parse_request, wire

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.control.api import Host
    from initsup.logs import Logger
    from initsup.loop import EventLoop

    class HttpSide(Protocol):
        """What the control socket needs of initsup.control.http.HttpServer."""

        def adopt(self, sock: Any, data: bytes) -> None: ...

    HttpFactory = Callable[[], "HttpSide | None"]

MAX_CONNECTIONS = 64

# What the server takes from its socket module.
_NEEDED = ("socket", "AF_UNIX", "SOCK_STREAM", "SOL_SOCKET", "SO_PEERCRED", "SHUT_WR")


def default_socket_path(environ: dict[str, str] | os._Environ[str]) -> str:
    """INITSUP_SOCKET, else /run/initsup.sock, else $TMPDIR (or /tmp)/initsup.sock.

    `initsup ctl` looks in the same places in the same order, so a `docker exec` shell
    finds the socket with no flags whether or not the container runs as root.
    """
    explicit = environ.get("INITSUP_SOCKET")
    if explicit:
        return explicit
    if os.access("/run", os.W_OK):
        return "/run/initsup.sock"
    return os.path.join(environ.get("TMPDIR") or "/tmp", "initsup.sock")


def socket_module() -> Any:
    """`_socket` when it has everything the server uses, else `socket`, else None (then
    initsup runs without a control socket: ControlServer raises OSError)."""
    return sockets.module(_NEEDED, ("_accept",))


class Server:
    """Accepts connections on a listening unix socket; subclasses answer requests."""

    def __init__(self, loop: EventLoop, logger: Logger, path: str, mode: int) -> None:
        self.loop = loop
        self.logger = logger
        self.path = path
        self.sockets = socket_module()
        if self.sockets is None:
            raise OSError(errno.ENOSYS, "Python's socket module cannot be imported")
        self.sock = _listen(self.sockets, path, mode)
        self.connections: dict[Connection, None] = {}  # in the order they came
        # Whose clients are answered: root, initsup's own user (checked at each accept),
        # and the users the configuration gave the socket or the programs to.
        self.allowed = {0}
        self.queued = 0  # bytes waiting in every connection's outbox
        self._crowded = False  # a client has been turned away since one was admitted
        self._acceptor = Acceptor(
            loop, logger, self.sockets, self.sock, "control socket", self._admit
        )

    def handle(self, connection: Connection, line: bytes) -> None:
        """Answer one request line (without its newline)."""
        raise NotImplementedError

    def handle_http(self, connection: Connection, data: bytes) -> None:
        """Serve a client whose first bytes (data) are HTTP: here, nobody does."""
        connection.send_raw(http_refusal(404, "Not Found", "no HTTP server here"))

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        self._acceptor.close()
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _admit(self, conn: Any) -> None:
        conn.setblocking(False)
        uid = peer_uid(self.sockets, conn)
        if uid not in self.allowed and uid != os.geteuid():
            self.logger.warning(f"control socket: refused a client of uid {uid}")
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
        self.logger.warning(
            f"control socket: {MAX_CONNECTIONS} clients connected; dropped the oldest follower"
        )
        oldest.close()
        return True

    def _turn_away(self, conn: Any) -> None:
        """Answer at once and close: nothing is kept for a client beyond the limit."""
        if not self._crowded:
            self.logger.warning(
                f"control socket: {MAX_CONNECTIONS} clients connected; turning others away"
            )
        self._crowded = True
        reason = f"too many control connections ({MAX_CONNECTIONS}); try again later"
        try:
            conn.send(wire({"err": f"Error: {reason}"}) + wire({"exit": 2}))
        except OSError:
            pass  # it will see the close
        conn.close()


class ControlServer(Server):
    """Serves `initsup ctl` requests: each is parsed and handed to its command."""

    def __init__(
        self, host: Host, path: str, mode: int = 0o600, http: HttpFactory | None = None
    ) -> None:
        """http makes the HTTP server on the first HTTP client (None: HTTP is not served)."""
        super().__init__(host.loop, host.logger, path, mode)
        self.host = host
        self.events = EventFeed(host.bus)  # from now on: `ctl events` shows what it has seen
        self._http_factory = http
        self._http: HttpSide | None = None

    def handle_http(self, connection: Connection, data: bytes) -> None:
        if self._http is None and self._http_factory is not None:
            try:
                self._http = self._http_factory()
            except Exception as exc:
                failed = "control socket: the HTTP server could not be made"
                self.logger.exception(failed, exc)
            if self._http is None:
                reason = "the HTTP server is not available"
                connection.send_raw(http_refusal(503, "Service Unavailable", reason))
                return
        if self._http is None:
            super().handle_http(connection, data)
            return
        self._http.adopt(connection.detach(), data)

    def handle(self, connection: Connection, line: bytes) -> None:
        try:
            command, args = parse_request(line)
        except BadRequest as exc:
            connection.reject(str(exc))
            return
        # The commands load with the first request: a container nobody controls never
        # pays for them (0.35 MiB of an idle initsup).
        from initsup.control.commands import run

        run(self.host, self.events, connection, command, args)


def http_refusal(status: int, reason: str, text: str) -> bytes:
    """A whole HTTP answer that closes: all an HTTP client gets when nobody serves HTTP."""
    body = text.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {reason}\r\nServer: initsup\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


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
