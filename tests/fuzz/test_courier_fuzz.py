"""Properties of the courier (initsup.alerts.courier*): whatever a server answers and whatever
the child writes, PID 1 gets one valid reply, and the child ends within its deadline.

read_reply reads the child's stdout in PID 1; parse_response reads a server's answer in
the child; a hostile server (any bytes, then a close or silence) meets the HTTP send both
in-process and as the real child."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from initsup.alerts import courier, courier_http
from initsup.alerts.courier_net import MAX_BODY, MAX_DETAIL, Failed, split_url

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_REPLY_VALUES = {
    "ok": st.booleans() | JSON,
    "status": st.integers(-5, 100_000) | JSON,
    "detail": st.text(max_size=600) | JSON,
    "retry": st.booleans() | JSON,
    "body": st.text(max_size=5000) | JSON,
}
_REPLIES = st.fixed_dictionaries({}, optional=_REPLY_VALUES).map(
    lambda value: (json.dumps(value) + "\n").encode()
)
_CHILD_OUTPUT = st.lists(
    st.binary(max_size=200) | _REPLIES | JSON.map(lambda v: json.dumps(v).encode()), max_size=4
).map(b"\n".join)


def assert_valid(reply: dict[str, Any]) -> None:
    assert set(reply) == {"ok", "status", "detail", "retry", "body"}
    assert isinstance(reply["ok"], bool) and isinstance(reply["retry"], bool)
    assert not (reply["ok"] and reply["retry"])
    assert type(reply["status"]) is int and 0 <= reply["status"] <= 999
    assert isinstance(reply["detail"], str) and len(reply["detail"]) <= MAX_DETAIL
    assert reply["detail"].isprintable()
    assert isinstance(reply["body"], str) and len(reply["body"]) <= MAX_BODY
    json.dumps(reply).encode()  # no lone surrogate: it can be written and logged


@given(st.binary(max_size=3000) | _CHILD_OUTPUT)
def test_whatever_the_child_wrote_becomes_a_valid_reply(data: bytes) -> None:
    assert_valid(courier.read_reply(data))


@given(_REPLY_VALUES["status"], st.text(max_size=600), st.booleans(), st.booleans())
def test_a_reply_line_keeps_what_is_valid_in_it(
    status: Any, detail: str, ok: bool, retry: bool
) -> None:
    line = json.dumps({"ok": ok, "status": status, "detail": detail, "retry": retry})
    reply = courier.read_reply(f"noise\n{line}\n".encode())
    assert_valid(reply)
    assert reply["ok"] is ok and reply["retry"] is (retry and not ok)


_STATUS_LINES = st.sampled_from(
    [b"HTTP/1.1 200 OK", b"HTTP/1.0 503 Service Unavailable", b"HTTP/1.1 100 Continue",
     b"HTTP/1.1 204 No Content", b"HTTP/1.1 999", b"HTTP/2 200", b"ICY 200 OK", b""]
)  # fmt: skip
_HEADERS = st.lists(
    st.sampled_from(
        [b"Content-Length: 5", b"Content-Length: 99999999999999999999999", b"Content-Length: -1",
         b"Content-Length: " + b"9" * 5000, b"Transfer-Encoding: chunked", b"Connection: close",
         b"X: \xff\xfe", b"no colon"]
    ) | st.binary(max_size=40),
    max_size=5,
)  # fmt: skip
_BODIES = st.binary(max_size=300) | st.sampled_from(
    [b"5\r\nhello\r\n0\r\n\r\n", b"fffffffff\r\nx", b"1;ext\r\na\r\n", b"x" * 5000]
)
_ANSWERS = st.binary(max_size=2000) | st.builds(
    lambda line, headers, sep, body: line + b"\r\n" + b"\r\n".join(headers) + sep + body,
    _STATUS_LINES,
    _HEADERS,
    st.sampled_from([b"\r\n\r\n", b"\n\n", b"\r\n", b""]),
    _BODIES,
)


@given(_ANSWERS, st.booleans())
def test_any_answer_is_an_answer_more_wanted_or_a_failure(data: bytes, complete: bool) -> None:
    try:
        found = courier_http.parse_response(data, complete)
    except Failed as failure:
        assert isinstance(failure.retry, bool)
        return
    if complete:
        assert found is not None
    if found is not None:
        status, reason, body = found
        assert 100 <= status <= 599 and isinstance(reason, str) and len(body) <= MAX_BODY


_SCHEMES = st.sampled_from(["http", "https", "smtp"])


@given(st.text(max_size=80) | st.builds("{}://{}".format, _SCHEMES, st.text(max_size=60)))
def test_any_url_is_split_or_refused(url: str) -> None:
    try:
        scheme, host, port, target, _ = split_url(url, ("http", "https", "smtp"))
    except Failed as failure:
        assert failure.retry is False
        return
    assert scheme in ("http", "https", "smtp") and host and 0 < port < 65536
    assert target.startswith("/") and target.isascii() and target.isprintable()
    assert " " not in target


@contextlib.contextmanager
def hostile(answer: bytes, read_first: bool, keep_open: bool) -> Iterator[int]:
    """A server on 127.0.0.1 that answers one connection with answer (read the request
    first or not), then closes it or holds it open until the test ends."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        server.settimeout(10)
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(5)
            try:
                if read_first:
                    connection.recv(65536)
                connection.sendall(answer)
            except OSError:
                pass
            if keep_open:
                done.wait(30)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        done.set()
        server.close()
        thread.join(30)


@given(_ANSWERS, st.booleans())
def test_the_http_send_meets_a_hostile_server_with_a_reply_or_a_failure(
    answer: bytes, read_first: bool
) -> None:
    with hostile(answer, read_first, keep_open=False) as port:
        job = {"kind": "http", "url": f"http://127.0.0.1:{port}/", "body": "{}"}
        try:
            assert_valid(courier_http.send(job, time.monotonic() + 5))
        except (Failed, OSError):
            pass


@settings(max_examples=max(5, settings().max_examples // 20))
@given(_ANSWERS, st.booleans(), st.booleans())
def test_the_child_writes_one_valid_reply_within_its_deadline(
    answer: bytes, read_first: bool, keep_open: bool
) -> None:
    timeout = 0.5
    with hostile(answer, read_first, keep_open) as port:
        job = {"kind": "http", "url": f"http://127.0.0.1:{port}/", "body": "{}", "timeout": timeout}
        started = time.monotonic()
        done = subprocess.run(
            courier.command(), input=courier.encode_job(job), capture_output=True, timeout=30
        )
        took = time.monotonic() - started
    assert done.returncode == 0 and done.stderr == b""
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert_valid(json.loads(lines[0]))
    assert courier.read_reply(done.stdout) == json.loads(lines[0])
    assert took < timeout + 1.0
