"""HTTP receivers: a threaded http.server on 127.0.0.1 (TLS on demand) that records each
request, and HttpReceiver, which answers as told or misbehaves as told."""

from __future__ import annotations

import itertools
import json
import socket
import ssl
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from tests.receivers.common import OwnTls, Recorded

T = TypeVar("T")

MAX_REQUEST_BODY = 16 << 20
MODES = ("answer", "hang", "slow", "stall", "close", "refuse")


class Request:
    """One HTTP request as a receiver got it, and the status it was answered (0: none)."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers  # names in lower case
        self.body = body
        self.status = 0
        self.json: Any = None
        try:
            self.json = json.loads(body)
        except ValueError:
            pass

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path} {self.status} {self.body[:80]!r}>"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that stalls cannot hold a thread (and the shutdown) longer
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_REQUEST_BODY))
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.owner.serve(self, Request(self.command, self.path, headers, body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's output is not the place


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close joins every connection's thread
    allow_reuse_address = True

    def __init__(self, owner: HttpBase, port: int) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        if self.owner.tls.context is not None:  # the handshake happens in its thread
            sock = self.owner.tls.context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.owner.errors.append(sys.exc_info()[1])


class HttpBase(Recorded):
    """A threaded HTTP(S) server on 127.0.0.1 whose subclass answers each request."""

    def __init__(self, tls: bool | tuple[Path, Path] = False, token: str | None = None) -> None:
        super().__init__()
        self.tls = OwnTls(tls)
        self.ca_file = self.tls.ca_file
        self.token = token  # when set, requests without `Bearer <token>` get 401
        self.requests: list[Request] = []
        self.errors: list[BaseException | None] = []
        self.stopping = threading.Event()
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._placeholder: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls.context else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self: T) -> T:
        self._listen()  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        self._unlisten()
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        self.tls.cleanup()

    def _listen(self) -> None:
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        self._server = _Server(self, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _unlisten(self) -> None:
        """Stop listening; the port stays taken by a socket that never listens, so a
        connection to it is refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None
        self._placeholder = socket.socket()
        self._placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._placeholder.bind(("127.0.0.1", self.port))

    def authorized(self, request: Request) -> bool:
        return self.token is None or request.headers.get("authorization") == f"Bearer {self.token}"

    def serve(self, handler: Handler, request: Request) -> None:
        raise NotImplementedError

    def reply(self, handler: Handler, request: Request, status: int, body: Any) -> None:
        """Answer with status and body (JSON unless bytes), recording both."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request.status = status
        self.add(self.requests, request)
        handler.answer(
            status, data, "text/plain" if isinstance(body, bytes) else "application/json"
        )

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """The requests once count of them came."""
        return self.wait_count(self.requests, count, timeout)


class HttpReceiver(HttpBase):
    """Records every request; answers `status` (or 401 without the bearer token), or
    misbehaves as `mode` says: "hang" (reads, never answers), "slow" (answers a byte a
    second), "stall" (sends its head and body but promises more, which never comes),
    "close" (reads, closes without a word), "refuse" (nothing listens).

    status and mode may be sequences: request N gets item N, the last one repeating
    ("refuse" only as the whole mode: it is set with `receiver.mode = ...` at run time,
    and the port stays the same when another mode comes back)."""

    def __init__(
        self,
        tls: bool | tuple[Path, Path] = False,
        token: str | None = None,
        status: int | Sequence[int] = 200,
        mode: str | Sequence[str] = "answer",
        body: bytes = b"ok",
    ) -> None:
        super().__init__(tls, token)
        self.status = status
        self.body = body
        self._mode: str | Sequence[str] = "answer"
        self._wanted = mode
        self._count = itertools.count()

    def __enter__(self) -> HttpReceiver:
        self._listen()
        self.mode = self._wanted
        return self

    @property
    def mode(self) -> str | Sequence[str]:
        return self._mode

    @mode.setter
    def mode(self, mode: str | Sequence[str]) -> None:
        modes = [mode] if isinstance(mode, str) else list(mode)
        assert modes and all(m in MODES for m in modes), mode
        assert "refuse" not in modes or modes == ["refuse"], "refuse is a whole mode"
        if modes == ["refuse"]:
            self._unlisten()
        elif self._server is None:
            self._listen()
        self._mode = mode

    def serve(self, handler: Handler, request: Request) -> None:
        index = next(self._count)
        mode = _nth(self._mode, index)
        status = _nth(self.status, index)
        if mode in ("hang", "close"):
            self.add(self.requests, request)
            if mode == "hang":
                self.stopping.wait()
            handler.close_connection = True
            return
        if not self.authorized(request):
            status = 401
        body = self.body if status != 401 else b"unauthorized"
        if mode in ("slow", "stall"):
            request.status = status
            self.add(self.requests, request)
            self._misanswer(handler, status, body, mode == "slow")
            return
        self.reply(handler, request, status, body)

    def _misanswer(self, handler: Handler, status: int, body: bytes, drip: bool) -> None:
        """The answer a byte a second (drip), or whole but 1000 bytes short of its
        Content-Length, and then nothing until the receiver closes."""
        length = len(body) if drip else len(body) + 1000
        answer = (
            f"HTTP/1.1 {status} Whatever\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        handler.close_connection = True
        if not drip:
            try:
                handler.wfile.write(answer)
            except OSError:
                return
            self.stopping.wait()
            return
        for at in range(len(answer)):
            try:
                handler.wfile.write(answer[at : at + 1])
            except OSError:
                return
            if self.stopping.wait(1.0):
                return


def _nth(value: Any, index: int) -> Any:
    if isinstance(value, (str, int)):
        return value
    items = list(value)
    return items[min(index, len(items) - 1)]
