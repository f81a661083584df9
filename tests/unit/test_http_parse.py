"""The HTTP request-head parser: fields, and each limit answered by status."""

import pytest

from initsup.control.http_parse import HttpError, parse_head


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
