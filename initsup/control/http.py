"""initsup's HTTP/1.1 server: routes, listening on TCP, clients handed over by the control socket.

One server serves both ways in: the control socket hands over each connection whose
first bytes are HTTP (`adopt`: the client's uid was checked there), and
[inet_http_server] listens on TCP (`listen_tcp`).  Each request goes to the handler of
its exact path, else of the longest prefix it starts with (`/logtail/`), else 404;
initsup.control.http_connection serves one client's requests and frames the answers.
The server itself bounds the crowd: at most MAX_CONNECTIONS clients, the longest idle
(or else the oldest streaming) making room for a new one; out of file descriptors,
accepting pauses instead of spinning (initsup.control.accepting).

Imported only when HTTP is first needed (the first HTTP client of the control socket,
or a configured [inet_http_server]), so start-up does not pay for it.
"""

from __future__ import annotations

from initsup.control.accepting import Acceptor
from initsup.control.http_auth import Credentials
from initsup.control.http_connection import (
    HttpConnection,
    Request,
    Responder,
    plain_response,
)
from initsup.control.server import socket_module

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from typing import Any

    from initsup.control.handlers import Handler
    from initsup.logs import Logger
    from initsup.loop import EventLoop

__all__ = ["HttpServer", "Request", "Responder"]

MAX_BODY = 4 << 20
MAX_CONNECTIONS = 64


class HttpServer:
    """Routes requests to handlers over every connection it is given or accepts."""

    def __init__(
        self,
        loop: EventLoop,
        logger: Logger,
        handlers: dict[str, Handler],
        prefixes: dict[str, Handler],
        credentials: tuple[str, str] | None,
        max_body: int = MAX_BODY,
        open_paths: tuple[str, ...] = (),
    ) -> None:
        """handlers: exact paths; prefixes: paths that start with the key (`/logtail/`);
        credentials: (username, password) for Basic auth on every route, or None;
        open_paths: paths (and what lies under them) a client without credentials may
        ask too (the probes: kubelet sends none)."""
        self.loop = loop
        self.open_paths = open_paths
        self.logger = logger
        self.handlers = dict(handlers)
        # Longest first, so the most specific prefix wins.
        self.prefixes = sorted(prefixes.items(), key=lambda item: -len(item[0]))
        self.credentials = None if credentials is None else Credentials(*credentials)
        self.max_body = max_body
        self.sockets = socket_module()
        if self.sockets is None:
            raise OSError("Python's socket module cannot be imported")
        self.shut_wr: int = self.sockets.SHUT_WR
        self.connections: dict[HttpConnection, None] = {}  # in the order they came
        self.queued = 0  # bytes waiting in every connection's outbox
        self.listeners: list[Any] = []  # TCP listening sockets
        self._acceptors: list[Acceptor] = []  # one per TCP listener
        self._crowded = False  # a client has been turned away since one was admitted

    def route(self, path: str) -> Handler | None:
        """The handler of a path: exact match first, then the longest prefix."""
        handler = self.handlers.get(path)
        if handler is not None:
            return handler
        for prefix, handler in self.prefixes:
            if path.startswith(prefix):
                return handler
        return None

    def is_open(self, path: str) -> bool:
        """Whether a client without credentials may ask for path: one of open_paths, or
        below one."""
        return any(path == p or path.startswith(p + "/") for p in self.open_paths)

    def adopt(self, sock: Any, data: bytes) -> None:
        """Serve a client of the control socket whose first bytes (data) were HTTP.

        Its uid has been checked there.  Never raises: a failure closes the client.
        """
        try:
            sock.setblocking(False)
            self._admit(sock, data)
        except Exception as exc:
            sock.close()
            self._log_failure("http: a client failed", exc)

    def listen_tcp(self, host: str, port: int) -> None:
        """Listen on host:port (host "" or "*": every address); port 0 picks a free one."""
        sockets = self.sockets
        name = None if host in ("", "*") else host
        family, kind, proto, _, address = sockets.getaddrinfo(
            name, port, sockets.AF_UNSPEC, sockets.SOCK_STREAM, 0, sockets.AI_PASSIVE
        )[0]
        sock = sockets.socket(family, kind, proto)
        try:
            sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(64)
            sock.setblocking(False)
            acceptor = Acceptor(
                self.loop, self.logger, sockets, sock, "http", lambda conn: self.adopt(conn, b"")
            )
        except BaseException:
            sock.close()
            raise
        self.listeners.append(sock)
        self._acceptors.append(acceptor)
        if not _loopback(address[0]):
            self.logger.warning(
                f"http: listening on {address[0]} port {address[1]}, reachable from other "
                "hosts: anyone who can reach it and knows the password controls every "
                "program (listen on 127.0.0.1 unless that is meant)"
            )

    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) each TCP listener is bound to: how a test learns port 0's."""
        return [tuple(sock.getsockname()[:2]) for sock in self.listeners]

    def close(self) -> None:
        """Stop listening and drop every client."""
        for acceptor in self._acceptors:
            acceptor.close()
        for sock in self.listeners:
            sock.close()
        self._acceptors, self.listeners = [], []
        for connection in list(self.connections):
            connection.close()

    def _log_failure(self, event: str, exc: BaseException) -> None:
        self.logger.exception(event, exc)

    def _admit(self, sock: Any, data: bytes) -> None:
        if len(self.connections) >= MAX_CONNECTIONS and not self._make_room():
            self._turn_away(sock)
            return
        self._crowded = False
        HttpConnection(self, sock, data).start()

    def _make_room(self) -> bool:
        """Drop the longest idle client, else the oldest streaming one, for a new client:
        kept-alive and tail -f connections stay for long, and must not lock others out."""
        victim = next((c for c in self.connections if c.idle), None)
        if victim is None:
            victim = next((c for c in self.connections if c.streaming), None)
        if victim is None:
            return False
        self.logger.warning(
            f"http: {MAX_CONNECTIONS} clients connected; dropped an idle or streaming one"
        )
        victim.close()
        return True

    def _turn_away(self, sock: Any) -> None:
        """Answer 503 at once and close: nothing is kept for a client beyond the limit."""
        if not self._crowded:
            self.logger.warning(f"http: {MAX_CONNECTIONS} clients connected; turning others away")
        self._crowded = True
        try:
            sock.send(plain_response(503, "too many connections; try again later"))
        except OSError:
            pass  # it will see the close
        sock.close()


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host == "::1" or host.startswith("::ffff:127.")
