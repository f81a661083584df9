"""The HTTP request-head parser: fields, and each limit answered by status."""

import pytest

from initsup.control.http_parse import HttpError, body_length, parse_head, take_head, take_request


def test_parses_fields() -> None:
    head = b"POST /RPC2?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3"
    method, path, query, version, headers = parse_head(head)
    assert (method, path, query, version) == ("POST", "/RPC2", "x=1", "HTTP/1.1")
    assert headers == {"host": "a", "content-length": "3"}


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 8190, 431),
        (b"GET / HTTP/1.1" + b"\r\nX: a" * 101, 431),
        (b"GARBAGE", 400),
        (b"GET / HTTP/2.0", 400),
        (b"GET / HTTP/1.1\r\nnocolon", 400),
        (b"PUT / HTTP/1.1", 405),
    ],
)
def test_limits_and_errors(head: bytes, status: int) -> None:
    with pytest.raises(HttpError) as info:
        parse_head(head)
    assert info.value.status == status


def test_take_request_waits_for_the_whole_body() -> None:
    """None until the head and its Content-Length of body are all there."""
    data = b"\r\nPOST /RPC2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody" + b"GET / HTTP/1.1"
    assert take_request(data[:20], 100) is None
    assert take_request(data[:-18], 100) is None
    taken = take_request(data, 100)
    assert taken is not None
    head, body, size = taken
    assert (head[0], body, data[size:]) == ("POST", b"body", b"GET / HTTP/1.1")


def test_doubled_headers_are_joined() -> None:
    assert parse_head(b"GET / HTTP/1.1\r\nA: 1\r\na: 2")[4] == {"a": "1, 2"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"transfer-encoding": "chunked"}, 411),
        ({"content-length": "101"}, 413),
        ({"content-length": "1, 1"}, 400),
        ({"content-length": "+1"}, 400),
        ({"content-length": "\u0661"}, 400),  # a digit, but not an ASCII one
    ],
)
def test_body_length_refusals(headers: dict[str, str], status: int) -> None:
    with pytest.raises(HttpError) as info:
        body_length(headers, 100)
    assert info.value.status == status


def test_body_length() -> None:
    assert body_length({}, 100) == 0
    assert body_length({"content-length": "100"}, 100) == 100


@pytest.mark.parametrize(
    ("partial", "status"),
    [
        (b"GET /" + b"a" * 8200, 431),  # a request line that never ends
        (b"GET / HTTP/1.1" + b"\r\nX: a" * 101, 431),  # headers without end
        (b"\r\n" * 9, 400),  # blank lines instead of a request
    ],
)
def test_an_unfinished_head_is_refused_once_it_breaks_a_limit(partial: bytes, status: int) -> None:
    with pytest.raises(HttpError) as info:
        take_head(partial)
    assert info.value.status == status
    assert take_head(partial[:100].lstrip(b"\r\n")) is None
