"""Properties of `POST /initsup/ctl`: whatever body a client posts, the route answers
exactly once, a 400 or a 200 of JSON lines, and nothing raises out of it."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from initsup.control import http_ctl
from tests.control_host import ControlHost
from tests.unit.test_ctl_http_route import FakeRequest, FakeResponder, _Logger

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
    http_ctl.handler(host, host.feed)(FakeRequest(body, method), responder)
    if responder.sent is not None:
        assert responder.sent[0] in (400, 405)
        return
    assert responder.started == (200, "application/x-ndjson") and responder.ended
    replies = [json.loads(line) for line in responder.written.splitlines()]
    assert "exit" in replies[-1] and not host.logger.exceptions
