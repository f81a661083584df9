"""One HTTP client: its requests in order, each handed to a handler, each answer framed.

A connection reads requests (initsup.control.http_parse bounds them), checks Basic auth
when the server has credentials (the probe paths answer a client without any, as
kube-apiserver answers anonymous ones: the request says it is not authenticated), and
hands each to the handler of its path with a Responder.  One request is served at a
time: the next, even if already received (pipelining), waits until the answer to this
one has been sent, so a client that sends and never reads holds one answer's worth of
memory at most.  Connections stay open between requests (HTTP/1.1, or 1.0 with
`Connection: keep-alive`) as supervisorctl expects for a whole session.

Nothing one client does may stall the loop or grow memory without bound: its socket is
non-blocking; a started request must be complete within REQUEST_TIMEOUT and a silent
kept-alive connection goes after IDLE_TIMEOUT (never while its handler is working: a
start that waits for startsecs may take long); a streamed answer the client does not
read is dropped once MAX_PENDING bytes wait.  A handler that raises is answered with 500
and logged; the loop never sees the exception.
"""

from __future__ import annotations

from initsup.control.connection import send_some
from initsup.control.http_auth import CHALLENGE, MALFORMED, MISSING, OK
from initsup.control.http_parse import HttpError, body_length, take_head

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.control.http_auth import Credentials
    from initsup.control.http_parse import Head
    from initsup.logs import Logger
    from initsup.loop import EventLoop, Timer

    Handler = Callable[["Request", "Responder"], None]

    class Serving(Protocol):
        """What a connection needs of the HttpServer that owns it."""

        loop: EventLoop
        logger: Logger
        shut_wr: int  # the socket module's SHUT_WR
        credentials: Credentials | None
        max_body: int
        connections: dict[HttpConnection, None]  # every open connection, oldest first
        queued: int  # bytes waiting in every connection's outbox

        def route(self, path: str) -> Handler | None: ...
        def is_open(self, path: str) -> bool: ...  # answered without credentials too


IDLE_TIMEOUT = 30 * 60.0  # a kept-alive connection with no request: supervisord's timeout
REQUEST_TIMEOUT = 30.0  # from a request's first byte to its last
LINGER = 5.0  # after the last answer: how long the client's unread input is drained
MAX_PENDING = 1 << 20  # bytes of a streamed answer waiting for one client
MAX_QUEUED = 8 << 20  # bytes of streamed answers waiting for all clients together
MAX_INBOX = 1 << 16  # bytes read ahead (pipelined) while a request is being answered
SERVER = "initsup"

REASONS = {
    100: "Continue",
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def response_head(status: int, headers: dict[str, str]) -> bytes:
    """The status line and headers of an answer, with the Server header and the blank line."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", f"Server: {SERVER}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def plain_response(status: int, text: str, headers: dict[str, str] | None = None) -> bytes:
    """A whole text answer that closes the connection (errors, refusals)."""
    body = f"{text}\n".encode("utf-8", "backslashreplace")
    fields = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}
    fields.update(headers or {})
    fields["Connection"] = "close"
    return response_head(status, fields) + body


class Request:
    """One request as a handler sees it."""

    __slots__ = ("authenticated", "body", "headers", "method", "path", "query")

    def __init__(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers  # lower-case names
        self.body = body
        # False: the server has credentials and this client gave none (an open path)
        self.authenticated = True


class Responder:
    """The answer to one request: one whole response (send) or a stream (start, write, end).

    A handler may answer later, from any loop callback, exactly once; a second answer is
    dropped and logged.  when_gone(forget) calls forget when the answer can take nothing
    more before the handler completed it: the client went, or (HEAD) the head was all.
    """

    def __init__(self, connection: HttpConnection, request: Request, version: str) -> None:
        self._connection = connection
        self._request = request
        self._chunked = version == "HTTP/1.1"
        self._keep = _keep_alive(version, request.headers.get("connection", ""))
        self._head_only = request.method == "HEAD"
        self._state = "new"  # "streaming", "done" (answered), "gone" (cannot answer)
        self._forgets: list[Callable[[], None]] = []

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer with one whole response."""
        if not self._claim("new"):
            return
        fields = dict(headers or {})
        fields.update({"Content-Type": content_type, "Content-Length": str(len(body))})
        self._state = "done"
        data = response_head(status, self._connection_field(fields))
        self._connection.answered(data if self._head_only else data + body, self._keep)

    def start(self, status: int, content_type: str) -> None:
        """Begin a streamed response: chunked for HTTP/1.1, ended by the close for 1.0."""
        if not self._claim("new"):
            return
        fields = {"Content-Type": content_type}
        if self._chunked:
            fields["Transfer-Encoding"] = "chunked"
        else:
            self._keep = False  # the close is the end of the body
        head = response_head(status, self._connection_field(fields))
        if self._head_only:
            self._state = "done"
            self._connection.answered(head, self._keep)
            return
        self._state = "streaming"
        self._connection.stream(head)

    def write(self, data: bytes) -> None:
        """More of a streamed response; ignored once the response can take no more."""
        if self._state != "streaming" or not data:
            return
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._connection.stream(data)

    def end(self) -> None:
        """Complete a streamed response."""
        if self._head_only and self._state == "done":
            return  # HEAD: the head was the whole answer
        if not self._claim("streaming"):
            return
        self._state = "done"
        self._connection.answered(b"0\r\n\r\n" if self._chunked else b"", self._keep)

    def when_gone(self, forget: Callable[[], None]) -> None:
        """Call forget when the client goes before the answer is complete."""
        if self._state == "gone" or (self._state == "done" and self._head_only):
            self._forget(forget)
        elif self._state != "done":
            self._forgets.append(forget)

    # -- for the connection --------------------------------------------------------------

    def gone(self) -> None:
        """The client went: nothing more can be answered; the forgets run."""
        if self._state == "done":
            return
        self._state = "gone"
        forgets, self._forgets = self._forgets, []
        for forget in forgets:
            self._forget(forget)

    def crashed(self) -> None:
        """The handler raised: a 500 if nothing was answered yet, else just the close."""
        if self._state == "new":
            self._state = "done"
            self._connection.answered(plain_response(500, "internal error"), False)
        else:
            self._connection.close()

    def _claim(self, expected: str) -> bool:
        if self._state == expected:
            return True
        if self._state != "gone":  # answering a client that went is no bug
            self._connection.logger.error(
                f"http: the handler of {self._request.path} answered out of turn "
                f"({self._state}); that answer is dropped"
            )
        return False

    def _connection_field(self, fields: dict[str, str]) -> dict[str, str]:
        if not self._keep:
            fields["Connection"] = "close"
        elif not self._chunked:
            fields["Connection"] = "keep-alive"  # HTTP/1.0 that asked for it
        return fields

    def _forget(self, forget: Callable[[], None]) -> None:
        try:
            forget()
        except Exception as exc:
            self._connection.logger.internal_error("an HTTP client's cleanup", exc)


def _keep_alive(version: str, connection: str) -> bool:
    tokens = {token.strip().lower() for token in connection.split(",")}
    if version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens


class HttpConnection:
    """One client: read its requests one at a time, answer each, keep alive or close."""

    def __init__(self, server: Serving, conn: Any, data: bytes = b"") -> None:
        self.server = server
        self.loop = server.loop
        self.logger = server.logger
        self.conn = conn
        self.fd: int = conn.fileno()
        self.inbox = bytearray(data)
        self.outbox = bytearray()
        self.head: tuple[Head, int] | None = None  # parsed, waiting for its body
        self.responder: Responder | None = None  # the request being answered
        self.closed = False
        self.closing = False  # the last answer is queued: close once it is sent
        self.reading = True
        self._phase = ""  # "idle", "partial" or "" (being answered): what the timer is for
        self._timer: Timer | None = None
        self._advancing = False
        self._auth_logged = False
        self.loop.add_reader(self.fd, self._on_readable)
        server.connections[self] = None

    @property
    def idle(self) -> bool:
        """Nothing asked and nothing being answered: the first to go when crowded."""
        return self.responder is None and not self.inbox and self.head is None

    @property
    def streaming(self) -> bool:
        return self.responder is not None and self.responder._state == "streaming"

    def start(self) -> None:
        """Serve what was read before this connection existed (the control socket's)."""
        self._advance()

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
        elif not self.closing:  # after the last answer, input is only drained
            self.inbox += data
            if self.responder is not None and len(self.inbox) > MAX_INBOX:
                self._pause()  # read on once this answer is out
            self._advance()

    def _on_eof(self) -> None:
        # A client that shuts down its side has gone for HTTP's purposes (no HTTP client
        # half-closes): what it waits for is forgotten (when_gone) at once.
        self.close()

    def _pause(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.fd)

    def _advance(self) -> None:
        """Serve every complete request in the inbox, one after the other."""
        if self._advancing:
            return  # a handler answered at once: the loop below goes on
        self._advancing = True
        try:
            while not self.closed and not self.closing and self.responder is None:
                request = self._next_request()
                if request is None:
                    break
                self._dispatch(*request)
        except HttpError as exc:
            self._refuse(exc.status, str(exc), _ALLOW if exc.status == 405 else None)
        except Exception as exc:  # a bug here must cost one client, not the loop's pass
            self.logger.internal_error("an HTTP connection", exc)
            self.close()
        finally:
            self._advancing = False
        if not self.closed and not self.closing and self.responder is None:
            self._watch("partial" if self.inbox or self.head else "idle")

    def _next_request(self) -> tuple[Head, bytes] | None:
        if self.head is None:
            while self.inbox.startswith(b"\r\n"):
                del self.inbox[:2]  # blank lines between requests (supervisorctl sends one)
            taken = take_head(self.inbox)
            if taken is None:
                return None
            head, size = taken
            del self.inbox[:size]
            self.head = head, body_length(head[4], self.server.max_body)
            expects = head[4].get("expect", "").lower() == "100-continue"
            if expects and head[3] == "HTTP/1.1" and len(self.inbox) < self.head[1]:
                self._queue(response_head(100, {}))  # curl waits for it before a body
        head, length = self.head
        if len(self.inbox) < length:
            return None
        body = bytes(self.inbox[:length])
        del self.inbox[:length]
        self.head = None
        return head, body

    def _dispatch(self, head: Head, body: bytes) -> None:
        method, path, query, version, headers = head
        self._watch("")
        request = Request(method, path, query, headers, body)
        responder = self.responder = Responder(self, request, version)
        if not self._authorized(request):
            return
        handler = self.server.route(path)
        if handler is None:
            responder.send(404, b"Not Found\n")
            return
        try:
            handler(request, responder)
        except Exception as exc:
            self.logger.internal_error(f"the HTTP handler of {path}", exc)
            responder.crashed()
            if not self.closed:
                self.closing = True

    def _authorized(self, request: Request) -> bool:
        """Basic auth on every route, when the server has credentials; refuse otherwise.

        An open path (the probes) takes a client with no credentials, marked as not
        authenticated; wrong credentials are refused there too, as kube-apiserver does.
        """
        credentials = self.server.credentials
        if credentials is None:
            return True
        verdict = credentials.check(request.headers.get("authorization"))
        if verdict == OK:
            return True
        if verdict == MISSING and self.server.is_open(request.path):
            request.authenticated = False
            return True
        if not self._auth_logged:
            self._auth_logged = True
            self.logger.warning(f"http: a client was refused: credentials {verdict}")
        if verdict == MALFORMED:  # as supervisord: undecodable credentials are a 400
            self._refuse(400, "malformed Authorization header")
        else:
            self._refuse(401, "Unauthorized", {"WWW-Authenticate": CHALLENGE})
        return False

    def _refuse(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        """Answer an error and close: what follows in the inbox cannot be trusted."""
        if status not in (401, 404):
            self.logger.warning(f"http: bad request ({status}): {reason}")
        self.responder = None
        self.answered(plain_response(status, reason, headers), False)

    def _watch(self, phase: str) -> None:
        """Time what the connection waits for: a whole request, or any request at all."""
        if phase == self._phase:
            return  # a request trickling in keeps the deadline of its first byte
        self._phase = phase
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if phase:
            delay = REQUEST_TIMEOUT if phase == "partial" else IDLE_TIMEOUT
            self._timer = self.loop.call_later(delay, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if self._phase == "partial":
            self._refuse(408, f"request not complete within {REQUEST_TIMEOUT:g} s")
        else:
            self.close()  # a kept-alive connection nobody uses any more

    # -- answering -----------------------------------------------------------------------

    def answered(self, data: bytes, keep: bool) -> None:
        """The last bytes of an answer: then the next request, or the close."""
        self.responder = None
        if not keep:
            self.closing = True
        if self.closed:
            return
        self.outbox += data
        self.server.queued += len(data)
        self._flush()  # then _sent, once it is all out

    def stream(self, data: bytes) -> None:
        """Part of a streamed answer; a client that does not read it is dropped."""
        self._queue(data)
        if len(self.outbox) > MAX_PENDING or self.server.queued > MAX_QUEUED:
            self.logger.warning("http: a client is not reading its stream; dropped")
            self.close()

    def _queue(self, data: bytes) -> None:
        if self.closed or not data:
            return
        self.outbox += data
        self.server.queued += len(data)
        self._flush()

    def _flush(self) -> None:
        if self.closed:
            return
        sent = send_some(self.conn, self.outbox)
        if sent is None:
            self.close()
            return
        self.server.queued -= sent
        if self.outbox:
            self.loop.add_writer(self.fd, self._flush)
            return
        self.loop.remove_writer(self.fd)
        if self.responder is None:
            self._sent()

    def _sent(self) -> None:
        """Everything answered is out: hang up, or read and serve the next request."""
        if self.closing:
            self._hang_up()
            return
        if not self.reading:
            self.reading = True
            self.loop.add_reader(self.fd, self._on_readable)
        self._advance()

    def _hang_up(self) -> None:
        # Say we are done but drain what the client still sends until it hangs up:
        # closing with unread input would reset the connection and could lose the answer.
        self._watch("")
        try:
            self.conn.shutdown(self.server.shut_wr)
        except OSError:
            self.close()
            return
        if not self.reading:
            self.reading = True
            self.loop.add_reader(self.fd, self._on_readable)
        self.inbox = bytearray()
        self._timer = self.loop.call_later(LINGER, self.close)

    def close(self) -> None:
        """Forget the client: unregister, tell its pending answer, close the socket."""
        if self.closed:
            return
        self.closed = True
        self.server.connections.pop(self, None)
        self.server.queued -= len(self.outbox)
        self.outbox = bytearray()
        self.inbox = bytearray()
        if self._timer is not None:
            self._timer.cancel()
        try:
            if self.responder is not None:
                self.responder.gone()
        finally:
            self.loop.remove_reader(self.fd)
            self.loop.remove_writer(self.fd)
            self.conn.close()


_ALLOW = {"Allow": "GET, POST, HEAD"}
