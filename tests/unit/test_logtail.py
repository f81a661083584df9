"""The /logtail and /mainlogtail handlers in-process, over the fake host and a fake
Responder: what they send first, what they follow, what they refuse, and that a client
that hangs up is followed no more."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from initsup import feeds
from initsup.control import logtail
from initsup.control.http_connection import Request
from tests.control_host import ControlHost

if TYPE_CHECKING:
    from initsup.control.handlers import Handler


def get(path: str, method: str = "GET") -> Request:
    """A request for path, as the HTTP server hands it on."""
    return Request(method, path, "", {}, b"")


class Responder:
    """Records a whole response, or a streamed one as its status and chunks."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.content_type = ""
        self.chunks: list[bytes] = []
        self.forgets: list[Callable[[], None]] = []
        self.ended = False

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        assert self.status is None, "one response"
        self.status, self.chunks, self.ended = status, [body], True

    def start(self, status: int, content_type: str) -> None:
        assert self.status is None, "one response"
        self.status, self.content_type = status, content_type

    def write(self, data: bytes) -> None:
        assert self.status is not None and not self.ended and data
        self.chunks.append(data)

    def end(self) -> None:
        self.ended = True

    def when_gone(self, forget: Callable[[], None]) -> None:
        self.forgets.append(forget)

    def gone(self) -> None:
        for forget in self.forgets:
            forget()


def _get(handler: Handler, path: str, method: str = "GET") -> Responder:
    responder = Responder()
    handler(get(path, method), responder)
    return responder


def test_a_tail_starts_with_the_last_kilobyte_and_follows() -> None:
    host = ControlHost()
    host.add("web")
    host.output.record(("web:web", "stdout"), b"x" * 1000 + b"y" * 100)
    response = _get(logtail.logtail(host), "/logtail/web/stdout")
    assert response.status == 200 and response.content_type == "text/plain;charset=utf-8"
    assert response.chunks == [b"x" * 924 + b"y" * 100] and not response.ended
    host.output.record(("web:web", "stdout"), b"more\n")
    host.output.record(("web:web", "stderr"), b"not this\n")
    assert response.chunks[1:] == [b"more\n"]
    response.gone()
    host.output.record(("web:web", "stdout"), b"unseen\n")
    assert response.chunks[1:] == [b"more\n"]


def test_stdout_is_the_default_and_names_may_be_quoted() -> None:
    host = ControlHost()
    host.add("w1", group="pool")
    host.output.record(("pool:w1", "stdout"), b"out")
    host.output.record(("pool:w1", "stderr"), b"err")
    assert _get(logtail.logtail(host), "/logtail/pool:w1").chunks == [b"out"]
    assert _get(logtail.logtail(host), "/logtail/pool%3Aw1/stderr").chunks == [b"err"]


def test_an_empty_log_sends_nothing_until_written() -> None:
    host = ControlHost()
    host.add("web")
    response = _get(logtail.logtail(host), "/logtail/web")
    assert response.status == 200 and response.chunks == []
    host.output.record(("web:web", "stdout"), b"first")
    assert response.chunks == [b"first"]


def test_what_is_not_a_process_log_is_404_and_not_get_is_400() -> None:
    host = ControlHost()
    host.add("web")
    host.add("both", redirect_stderr=True)
    host.add("w1", group="pool")
    handler = logtail.logtail(host)
    for path in (
        "/logtail/nope",
        "/logtail/web/other",
        "/logtail/web/stdout/x",
        "/logtail/pool:*",
        "/logtail/w1",  # supervisord's names: NAME is group NAME's process
        "/logtail/",
        "/logtail/both/stderr",  # no stderr log of its own
    ):
        response = _get(handler, path)
        assert (response.status, response.ended) == (404, True), path
    assert _get(handler, "/logtail/web", "POST").status == 400
    assert not any(host.output._followers.values())


def test_the_main_log_tail() -> None:
    host = ControlHost()
    host.output.record(feeds.MAIN_LOG, b"a" * 2000)
    response = _get(logtail.mainlogtail(host), "/mainlogtail")
    assert response.status == 200 and response.chunks == [b"a" * 1024]
    host.output.record(feeds.MAIN_LOG, b'{"event": "x"}\n')
    assert response.chunks[1:] == [b'{"event": "x"}\n']
    response.gone()
    host.output.record(feeds.MAIN_LOG, b"later\n")
    assert len(response.chunks) == 2
    assert _get(logtail.mainlogtail(host), "/mainlogtail", "HEAD").status == 400
