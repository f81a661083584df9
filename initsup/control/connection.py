"""One client of the control socket: read its one request, answer in JSON lines, close.

Wire format, one request per connection: the client sends one line of JSON,
`{"cmd": "status", "args": ["web"]}`, at most MAX_REQUEST bytes.  The server answers with
JSON lines: `{"out": line}` and `{"err": line}` for the client to print as lines,
`{"data": text}` to write as it is (tail), `{"json": value}` to print as JSON, and a last
`{"exit": code}`; `tail -f` and `events -f` stream until the client goes away.  The
commands (initsup.control.commands) word every answer exactly as supervisorctl does, so
the client only prints; a Connection is the Reply they write to.  A client whose first
line is an HTTP request line speaks HTTP instead (`POST /RPC2 HTTP/1.1`): its socket and the
bytes read so far go to the server's HTTP side (`handle_http`).

Nothing one client sends, or fails to read, may stall the loop or grow initsup's memory
without bound: its socket is non-blocking; a client that says nothing is dropped after
IDLE_TIMEOUT; a request is at most MAX_REQUEST bytes; a client is dropped once
MAX_PENDING bytes wait for it, or when all clients together have MAX_QUEUED waiting.  Any
exception while its request is served becomes an error answer and a close, never a
connection left hanging.
"""

from __future__ import annotations

from initsup import jsoncodec

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.logs import Logger
    from initsup.loop import EventLoop

    class Serving(Protocol):
        """What a connection needs of the server that accepted it."""

        loop: EventLoop
        logger: Logger
        sockets: Any  # the socket module in use (_socket or socket)
        connections: dict[Connection, None]  # every open connection, oldest first
        queued: int  # bytes waiting in every connection's outbox

        def handle(self, connection: Connection, line: bytes) -> None: ...

        def handle_http(self, connection: Connection, data: bytes) -> None: ...


MAX_REQUEST = 65536
MAX_PENDING = 1 << 20
MAX_QUEUED = 8 << 20
IDLE_TIMEOUT = 10.0


class BadRequest(ValueError):
    """A request line that is not `{"cmd": str, "args": [str, ...]}`."""


def parse_request(line: bytes) -> tuple[str, list[str]]:
    """The command and arguments of one request line; BadRequest saying what is wrong."""
    try:
        request = jsoncodec.loads(line.decode())
    except Exception:  # whatever the codec raises (SystemError from _json on 3.10/3.11)
        raise BadRequest("not JSON") from None
    if not isinstance(request, dict):
        raise BadRequest("not a JSON object")
    command, args = request.get("cmd"), request.get("args", [])
    if not isinstance(command, str) or not isinstance(args, list):
        raise BadRequest('needs "cmd" (a string) and "args" (a list of strings)')
    if not all(isinstance(a, str) for a in args):
        raise BadRequest('"args" must all be strings')
    return command, args


def is_http(line: bytes | bytearray) -> bool:
    """Whether a client's first line is an HTTP request line rather than a JSON request.

    `METHOD /target HTTP/...`: a method name in capitals, a path, a version.  No JSON text
    starts with a capital letter; the rule asks for the whole line (it ends with the first
    newline, as both protocols' first lines do) so that nothing is decided on a guess.
    """
    method, space, rest = line.partition(b" ")
    return (
        bool(space)
        and 0 < len(method) <= 20
        and method.isalpha()
        and method.isupper()
        and rest.startswith(b"/")
        and b" HTTP/" in rest
    )


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


def send_some(conn: Any, outbox: bytearray) -> int | None:
    """Send what the socket takes of outbox now, and remove it from outbox: the bytes
    sent, or None when the client is gone (a send that failed otherwise)."""
    try:
        sent = conn.send(outbox) if outbox else 0
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError:
        return None
    del outbox[:sent]
    return int(sent)


class Lines:
    """The answer lines of the control protocol, each one JSON object: a Reply's out,
    err, data and json, over whatever `send` writes them to (a socket, an HTTP body)."""

    def send(self, **message: Any) -> None:
        raise NotImplementedError

    def out(self, text: str) -> None:
        self.send(out=text)

    def err(self, text: str) -> None:
        self.send(err=text)

    def data(self, text: str) -> None:
        self.send(data=text)

    def json(self, value: Any) -> None:
        self.send(json=value)


class Connection(Lines):
    """One client: read its request, answer it, close; the Reply its command writes to."""

    def __init__(self, server: Serving, conn: Any) -> None:
        self.server = server
        self.loop = server.loop
        self.logger = server.logger
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
        self._deadline = self.loop.call_later(IDLE_TIMEOUT, self._idle)
        try:
            self.loop.add_reader(self.fd, self._on_readable)
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
        elif newline and is_http(line):
            self._serve_http()
        elif newline:
            self._serve(bytes(line))

    def _serve_http(self) -> None:
        self.served = True
        self._deadline.cancel()
        data, self.inbox = bytes(self.inbox), bytearray()
        try:
            self.server.handle_http(self, data)
        except Exception as exc:
            self._log_failure("control socket: an HTTP client failed", exc)
            self.close()

    def detach(self) -> Any:
        """Give up the client's socket, still open, to whoever serves it now (HTTP)."""
        self.closed = True
        self.server.connections.pop(self, None)
        self._deadline.cancel()
        self.loop.remove_reader(self.fd)
        self.loop.remove_writer(self.fd)
        return self.conn

    def send_raw(self, data: bytes) -> None:
        """A whole answer in another protocol (HTTP), then the close."""
        if self.closed or self.closing:
            return
        self.outbox += data
        self.server.queued += len(data)
        self.closing = True
        self._flush()

    def _on_eof(self) -> None:
        self.eof = True
        if self.served and not self.closing:
            # Half-closed while its request is served (`nc -N`): the answer still goes
            # out, and the connection closes after it.
            self.loop.remove_reader(self.fd)
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
        self.logger.warning("control socket: a client sent no request in time; dropped")
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
            self.logger.warning("control socket: a client is not reading; dropped")
            self.close()
            return
        self._flush()

    def when_gone(self, forget: Callable[[], None]) -> None:
        """Call forget when the client goes (a wait it no longer needs)."""
        self.cleanups.append(forget)

    def stream(self, forget: Callable[[], None]) -> None:
        """Answer until the client goes (tail -f, events -f), then call forget."""
        self.following = True
        self.cleanups.append(forget)

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
        self.logger.warning(f"control socket: bad request: {reason}")
        self.err(f"Error: bad request: {reason}")
        self.finish(2)

    def fail(self, event: str, what: str, exc: BaseException) -> None:
        """Whatever failed while serving: an error answer if one can still go, and a close."""
        try:
            self._log_failure(event, exc)
        finally:
            if self.closing:
                self.close()
            else:
                self.err(f"Error: {what}: {exc}")
                self.finish(1)

    def _log_failure(self, event: str, exc: BaseException) -> None:
        self.logger.exception(event, exc)

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
        self._deadline = self.loop.call_later(IDLE_TIMEOUT, self.close)

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
            self.loop.remove_reader(self.fd)
            self.loop.remove_writer(self.fd)
            self.conn.close()
