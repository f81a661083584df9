"""Properties of the HTTP server's request parsing and of a connection fed any bytes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from initsup.control.http_parse import MAX_HEADERS, MAX_LINE, HttpError, take_head, take_request
from tests.helpers import drain
from tests.http_harness import Served

MAX_BODY = 1000

_TOKENS = st.sampled_from(
    [b"GET", b"POST", b"HEAD", b"PUT", b"get", b"", b"G\x00T", b"/echo", b"/stream/x", b"/RPC2",
     b"/later", b"/nowhere", b"/echo?q=1", b"*", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b" ",
     b"\r\n", b"\n", b"\r", b":", b"Content-Length: ", b"Transfer-Encoding: chunked",
     b"Connection: close", b"Connection: keep-alive", b"Expect: 100-continue", b"Host: x",
     b"Authorization: Basic YTpi", b"0", b"5", b"1001", b"-1", b"abc", b"\xff\xfe", b"x" * 9000]
)  # fmt: skip
_HEADERS = [
    b"Host: x\r\n", b"Content-Length: 3\r\n", b"Content-Length: 2000\r\n",
    b"Connection: close\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Expect: 100-continue\r\n", b"X-Long: " + b"y" * 9000 + b"\r\n", b"Bad\r\n",
]  # fmt: skip
_WELL_FORMED = st.builds(
    lambda method, path, version, headers, body: (
        method + b" " + path + b" " + version + b"\r\n" + b"".join(headers) + b"\r\n" + body
    ),
    st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT"]),
    st.sampled_from([b"/echo", b"/RPC2", b"/stream/x", b"/nowhere", b"/echo?a=b"]),
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]),
    st.lists(st.sampled_from(_HEADERS), max_size=4),
    st.binary(max_size=8),
)
_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(_TOKENS, max_size=30).map(b"".join),
    st.lists(_WELL_FORMED, min_size=1, max_size=3).map(b"".join),
)


@given(_BYTES)
def test_parsing_refuses_with_http_error_or_stays_within_the_limits(data: bytes) -> None:
    try:
        taken = take_request(data, MAX_BODY)
    except HttpError as exc:
        assert exc.status in (400, 405, 411, 413, 431)
        return
    if taken is None:
        return
    (method, path, _, version, headers), body, size = taken
    assert method in ("GET", "POST", "HEAD") and path.startswith("/")
    assert version in ("HTTP/1.0", "HTTP/1.1")
    assert len(headers) <= MAX_HEADERS
    assert all(len(name) + len(value) < MAX_LINE for name, value in headers.items())
    assert len(body) <= MAX_BODY and 0 < size <= len(data)
    assert data[:size].endswith(body)


@given(st.integers(min_value=0, max_value=10**25), st.binary(max_size=50))
@example(10**19 - 1, b"")  # the longest length read: 19 digits, too large (413)
@example(10**19, b"")  # 20 digits: not read at all (400)
def test_a_body_over_the_limit_is_refused_before_it_arrives(length: int, body: bytes) -> None:
    """A length over the limit is 413 before any of the body arrives; one of more than 19
    digits (past any 64-bit size) is not read as a number: 400."""
    data = b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % length + body
    try:
        taken = take_request(data, MAX_BODY)
    except HttpError as exc:
        assert exc.status == (413 if length < 10**19 else 400)
        assert length > MAX_BODY
        return
    assert length <= MAX_BODY
    assert taken is None or len(taken[1]) == length


@given(_BYTES)
def test_an_unfinished_head_is_never_held_past_the_limits(data: bytes) -> None:
    """A buffer without its head's end is refused once it could not be a head any more."""
    try:
        taken = take_head(data)
    except HttpError:
        return
    if taken is None:
        assert len(data) <= (MAX_HEADERS + 1) * (MAX_LINE + 2) + 16


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    harness = Served(max_body=MAX_BODY, tcp=False)
    try:
        yield harness
    finally:
        harness.close()


@given(st.lists(_BYTES, min_size=1, max_size=4))
def test_a_connection_fed_any_bytes_answers_and_closes(served: Served, pieces: list[bytes]) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with theirs:
        theirs.setblocking(False)
        served.server.adopt(ours, b"")
        answer = b""
        for piece in pieces:
            try:
                theirs.sendall(piece)
            except OSError:
                break  # the server answered an error and hung up
            for _ in range(3):
                served.loop.run_once(0)
                answer += drain(theirs)
        theirs.shutdown(socket.SHUT_WR)
        served.pump(lambda: not served.server.connections)
        answer += drain(theirs)
    assert served.errors == []
    assert served.server.queued == 0
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
    for stream in served.streams:
        assert stream.gone or getattr(stream.responder, "_state", None) == "done"
    served.streams.clear()
    served.pending.clear()
