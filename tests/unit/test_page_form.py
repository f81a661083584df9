"""The status page's form and cross-site checks (initsup.control.page_form)."""

from __future__ import annotations

import pytest

from initsup.control import page_form
from initsup.control.page_form import FormError, parse_form, same_origin, token_matches

FORM = "application/x-www-form-urlencoded"


def test_a_browser_s_form() -> None:
    body = b"name=grp%3Aweb_1&token=abc&action=restart"
    assert parse_form(body, FORM) == {"name": "grp:web_1", "token": "abc", "action": "restart"}
    assert parse_form(b"action=stop&name=a+b&token=t&extra=1", FORM + "; charset=UTF-8") == {
        "action": "stop",
        "name": "a b",
        "token": "t",
    }
    assert parse_form(b"action=start&name=%C3%A9&token=", FORM)["name"] == "é"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"action=stop&name=web", FORM, 400),  # no token
        (b"", FORM, 400),
        (b"action=stop&name=web&token=t&name=db", FORM, 400),  # a field twice
        (b"action=stop&name=web&token=t", "text/plain", 400),
        (b"action=stop&name=web&token=t", "", 400),
        (b"action=stop&name=w\xc3\xa9&token=t", FORM, 400),  # not url-encoded
        (b"&" * 20 + b"action=stop&name=web&token=t", FORM, 400),  # too many fields
        (b"action=stop&token=t&name=" + b"x" * page_form.MAX_FORM, FORM, 413),
    ],
)
def test_what_is_no_such_form(body: bytes, content_type: str, status: int) -> None:
    with pytest.raises(FormError) as refused:
        parse_form(body, content_type)
    assert refused.value.status == status


def test_the_token_must_match_exactly() -> None:
    assert token_matches("ab12", "ab12")
    assert not token_matches("ab1", "ab12")
    assert not token_matches("", "ab12")
    assert not token_matches("\udcff", "ab12")  # undecodable text is no crash


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),  # curl: the token decides
        ({"host": "127.0.0.1:9001", "origin": "http://127.0.0.1:9001"}, True),
        ({"host": "Example.com", "origin": "https://example.COM"}, True),
        ({"host": "example.com:80", "origin": "http://example.com"}, True),
        ({"host": "[::1]:9001", "origin": "http://[::1]:9001"}, True),
        ({"host": "127.0.0.1:9001", "referer": "http://127.0.0.1:9001/?done=3"}, True),
        ({"host": "127.0.0.1:9001", "origin": "http://evil.example"}, False),
        ({"host": "127.0.0.1:9001", "origin": "http://127.0.0.1:9002"}, False),
        ({"host": "127.0.0.1:9001", "origin": "null"}, False),
        ({"host": "127.0.0.1:9001", "origin": "file://"}, False),
        ({"host": "127.0.0.1:9001", "referer": "http://evil.example/127.0.0.1:9001"}, False),
        ({"host": "127.0.0.1:9001", "referer": "http://127.0.0.1:9001@evil.example/"}, False),
        ({"origin": "http://127.0.0.1:9001"}, False),  # no Host to compare with
        # Origin decides when both are there
        ({"host": "a", "origin": "http://b", "referer": "http://a/"}, False),
    ],
)
def test_same_origin(headers: dict[str, str], allowed: bool) -> None:
    assert same_origin(headers) is allowed
