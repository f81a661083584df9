"""`POST /initsup/ctl` against a fake Responder: the body is the control socket's request
line, the answer the same JSON lines streamed as application/x-ndjson, ended after the
exit code; followers are forgotten when the client goes; a bad body is a 400."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from initsup.control import http_ctl
from initsup.control.connection import MAX_REQUEST
from initsup.control.http_connection import Request
from tests.control_host import ControlHost


def post(body: bytes, method: str = "POST") -> Request:
    """A request of the route, as the HTTP server hands it on."""
    return Request(method, "/initsup/ctl", "", {}, body)


class FakeResponder:
    """Records what the route answers, and checks it answers once, in order."""

    def __init__(self) -> None:
        self.sent: tuple[int, bytes, str] | None = None
        self.started: tuple[int, str] | None = None
        self.written = b""
        self.ended = False
        self.forgets: list[Callable[[], None]] = []

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        assert self.sent is None and self.started is None
        self.sent = (status, body, content_type)

    def start(self, status: int, content_type: str) -> None:
        assert self.sent is None and self.started is None
        self.started = (status, content_type)

    def write(self, data: bytes) -> None:
        assert self.started is not None and not self.ended
        self.written += data

    def end(self) -> None:
        assert self.started is not None and not self.ended
        self.ended = True

    def when_gone(self, forget: Callable[[], None]) -> None:
        self.forgets.append(forget)

    def replies(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.written.splitlines()]


def _post(host: ControlHost, body: bytes, method: str = "POST") -> FakeResponder:
    responder = FakeResponder()
    http_ctl.handler(host, host.feed)(post(body, method), responder)
    return responder


def test_a_request_line_is_answered_with_the_socket_s_json_lines() -> None:
    host = ControlHost()
    host.add("web")
    responder = _post(host, b'{"cmd": "status", "args": ["web"]}\n')
    assert responder.started == (200, "application/x-ndjson") and responder.ended
    assert responder.replies() == [
        {"out": "web                              STOPPED   Not started"},
        {"exit": 3},
    ]
    responder = _post(host, b'{"cmd": "nosuch", "args": []}')  # no newline: fine too
    assert responder.replies() == [{"err": "*** Unknown syntax: nosuch"}, {"exit": 1}]


def test_a_waiting_command_answers_later_and_a_follower_until_the_client_goes() -> None:
    host = ControlHost()
    host.add("web")
    responder = _post(host, b'{"cmd": "start", "args": ["web"]}')
    assert responder.written == b"" and not responder.ended
    host.advance(1)
    assert responder.replies() == [{"out": "web: started"}, {"exit": 0}] and responder.ended
    responder = _post(host, b'{"cmd": "tail", "args": ["-f", "web"]}')
    host.output.record(("web:web", "stdout"), b"hello\n")
    assert responder.replies()[-1] == {"data": "hello\n"} and not responder.ended
    for forget in responder.forgets:
        forget()
    host.output.record(("web:web", "stdout"), b"unseen\n")
    assert responder.replies()[-1] == {"data": "hello\n"}


def test_a_body_that_is_not_a_request_line_is_a_400() -> None:
    host = ControlHost()
    host.logger = _Logger()
    for body in (b"", b"garbage", b"[1]", b'{"cmd": 1}', b'{"cmd": "status"}\n{"cmd": "x"}'):
        responder = _post(host, body)
        assert responder.sent is not None and responder.sent[0] == 400, body
        assert responder.sent[1].startswith(b"bad request: ")
    oversized = b'{"cmd": "status", "args": ["' + b"x" * MAX_REQUEST + b'"]}'
    sent = _post(host, oversized).sent
    assert sent is not None and sent[0] == 400
    sent = _post(host, b'{"cmd": "status"}', method="GET").sent
    assert sent is not None and sent[0] == 405
    assert len(host.logger.warnings) == 6


def test_a_command_that_fails_is_answered_and_logged() -> None:
    host = ControlHost()
    host.logger = _Logger()
    host.processes = None  # type: ignore[assignment]  # status will fail on it
    responder = _post(host, b'{"cmd": "status", "args": []}')
    assert responder.replies()[-1] == {"exit": 1} and responder.ended
    assert "status failed" in responder.replies()[0]["err"]
    assert host.logger.exceptions


class _Logger:
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.exceptions: list[str] = []

    def warning(self, event: str) -> None:
        self.warnings.append(event)

    def exception(self, event: str, exc: BaseException) -> None:
        self.exceptions.append(event)
