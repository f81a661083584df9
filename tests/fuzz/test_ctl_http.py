"""Properties of `POST /initsup/ctl`: whatever body a client posts, the route answers
exactly once, a 400 or a 200 of JSON lines, and nothing raises out of it."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from initsup.control import http_ctl
from tests.control_host import ControlHost
from tests.unit.test_ctl_http_route import FakeResponder, _Logger, post

_BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda cmd, args: json.dumps({"cmd": cmd, "args": args}).encode(),
        st.sampled_from(["status", "version", "pid", "avail", "help", "nosuch", "tail"]),
        st.lists(st.text(max_size=8), max_size=3),
    ),
)


@given(_BODIES, st.sampled_from(["POST", "GET"]))
def test_any_body_is_answered_once(body: bytes, method: str) -> None:
    host = ControlHost()
    host.logger = _Logger()
    host.add("web")
    responder = FakeResponder()
    http_ctl.handler(host, host.feed)(post(body, method), responder)
    if responder.sent is not None:
        assert responder.sent[0] in (400, 405)
        return
    assert responder.started == (200, "application/x-ndjson") and responder.ended
    replies = [json.loads(line) for line in responder.written.splitlines()]
    assert "exit" in replies[-1] and not host.logger.exceptions


# -- the client's side: whatever an http:// server answers -------------------------------

_HEADS = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda status, headers, body: b"HTTP/1.1 %d X\r\n%s\r\n%s" % (status, headers, body),
        st.sampled_from([200, 401, 404, 500]),
        st.sampled_from([b"", b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n"]),
        st.one_of(
            st.binary(max_size=100),
            st.lists(st.binary(min_size=1, max_size=20), max_size=4).map(
                lambda chunks: (
                    b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
                )
            ),
        ),
    ),
)


@given(_HEADS)
def test_any_answer_is_read_to_its_end_or_refused(answer: bytes) -> None:
    """ctl_http reads any server's answer to its end or raises HttpError: nothing else,
    and never more than the answer holds."""
    import socket

    from initsup import ctl_http

    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(answer)
        theirs.shutdown(socket.SHUT_WR)
        body = ctl_http.Body(ours)
        try:
            status, _ = body.read_head()
            read = b""
            while chunk := body.recv(7):
                read += chunk
            assert status >= 0 and len(read) <= len(answer)
        except ctl_http.HttpError:
            pass
    finally:
        ours.close()
        theirs.close()
