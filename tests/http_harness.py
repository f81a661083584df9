"""An HttpServer on a real EventLoop in the test's thread, with clients in worker threads.

The loop runs in the test's own thread (signals need the main thread), a pass at a time,
while a client (http.client, xmlrpc.client, a raw socket) runs in a worker: `call`
serves the loop until the client's function returns.  Handlers here are trivial: they
echo, wait, stream, raise or answer twice, and remember what they saw.
"""

from __future__ import annotations

import socket
import time
import xmlrpc.client
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from initsup.control.http import HttpServer
from initsup.logs import Logger
from initsup.loop import EventLoop
from initsup.signals import SignalReceiver

if TYPE_CHECKING:
    from initsup.control.handlers import Handler, Request, Responder

T = TypeVar("T")


class Stream:
    """One streamed answer held open by the /stream/ handler."""

    def __init__(self, request: Request, responder: Responder) -> None:
        self.request = request
        self.responder = responder
        self.gone = 0  # times its when_gone callback ran


class Served:
    """An HttpServer listening on 127.0.0.1:<free port>, and what its handlers saw."""

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        max_body: int = 4 << 20,
        tcp: bool = True,
        handlers: dict[str, Handler] | None = None,
    ) -> None:
        """handlers: more routes, or other handlers for the harness's own."""
        self.errors: list[tuple[str, BaseException]] = []
        self.records: list[dict[str, Any]] = []
        self.receiver = SignalReceiver()
        self.loop = EventLoop(self.receiver, on_error=lambda w, e: self.errors.append((w, e)))
        self.logger = Logger(self.records.append)
        self.pending: list[tuple[Request, Responder]] = []  # /later requests, unanswered
        self.streams: list[Stream] = []
        self.seen: list[Request] = []
        routes: dict[str, Handler] = {
            "/echo": self.echo,
            "/RPC2": self.rpc,
            "/later": self.later,
            "/crash": self.crash,
            "/twice": self.twice,
            **(handlers or {}),
        }
        prefixes: dict[str, Handler] = {"/stream/": self.stream, "/logtail/": self.stream}
        self.server = HttpServer(self.loop, self.logger, routes, prefixes, credentials, max_body)
        self.port = 0
        if tcp:
            self.server.listen_tcp("127.0.0.1", 0)
            self.port = self.server.addresses()[0][1]
        self.pool = ThreadPoolExecutor(8)

    # -- handlers ------------------------------------------------------------------------

    def echo(self, request: Request, responder: Responder) -> None:
        self.seen.append(request)
        text = f"{request.method} {request.path}?{request.query} {len(request.body)}\n"
        responder.send(200, text.encode() + request.body, "text/plain", {"X-Echo": "1"})

    def rpc(self, request: Request, responder: Responder) -> None:
        params, method = xmlrpc.client.loads(request.body)
        answer = xmlrpc.client.dumps(([method, *params],), methodresponse=True)
        responder.send(200, answer.encode(), "text/xml")

    def later(self, request: Request, responder: Responder) -> None:
        self.pending.append((request, responder))

    def crash(self, request: Request, responder: Responder) -> None:
        raise RuntimeError("handler bug")

    def twice(self, request: Request, responder: Responder) -> None:
        responder.send(200, b"first\n")
        responder.send(200, b"second\n")

    def stream(self, request: Request, responder: Responder) -> None:
        stream = Stream(request, responder)
        self.streams.append(stream)
        responder.start(200, "text/plain")
        responder.write(b"hello\n")

        def forget() -> None:
            stream.gone += 1

        responder.when_gone(forget)

    # -- driving -------------------------------------------------------------------------

    def call(self, function: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run function(*args) in a worker while the loop serves; its result."""
        future: Future[T] = self.pool.submit(function, *args)
        self.pump(future.done, timeout)
        return future.result()

    def start(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """Run function(*args) in a worker; the test pumps the loop itself."""
        return self.pool.submit(function, *args)

    def pump(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Serve the loop until predicate() holds; fail after timeout seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s: {predicate}")
            self.loop.run_once(0.01)

    def events(self, level: str = "warning") -> list[str]:
        return [r["event"] for r in self.records if r["level"] == level]

    def connect(self) -> socket.socket:
        """A raw TCP client (closed by the test)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock

    def close(self) -> None:
        self.server.close()
        self.pool.shutdown(wait=True)
        self.loop.close()
        self.receiver.close()


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (raw client, blocking)."""
    chunks: list[bytes] = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
