"""Properties of the status page's outside input: whatever body and headers a client
sends to POST /control, and whatever query it gives the page, nothing raises; a form that
is not the page's own, or comes from elsewhere, is a 4xx and changes nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from initsup.control import page, page_form
from initsup.control.http_connection import Request
from tests.control_host import ControlHost
from tests.unit.test_page import Loop
from tests.whole_responder import WholeResponder

_PIECES = st.sampled_from(
    ["action=", "name=", "token=", "stop", "start", "restart", "all", "web", "&", "=", "%", "+"]
)
_BODIES = st.one_of(
    st.binary(max_size=300), st.lists(_PIECES, max_size=20).map("".join).map(str.encode)
)
_TYPES = st.one_of(
    st.text(max_size=60), st.just("application/x-www-form-urlencoded; charset=utf-8")
)
_URLS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["null", "http://web", "https://web:443/", "http://[::1]:80", "http://a@b"]),
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": _TYPES,
        "origin": _URLS,
        "referer": _URLS,
        "host": st.one_of(st.text(max_size=30), st.just("web")),
    },
)


def _host() -> ControlHost:
    host = ControlHost()
    host.loop = Loop(host)
    process = host.add("web")
    process.start()
    host.advance(1)
    return host


@given(_BODIES, _HEADERS, st.sampled_from(["POST", "GET", "HEAD"]))
def test_any_post_without_the_token_is_4xx_and_changes_nothing(
    body: bytes, headers: dict[str, str], method: str
) -> None:
    host = _host()
    handler = page.handlers(host)["/control"]
    responder = WholeResponder()
    handler(Request(method, "/control", "", headers, body), responder)
    ((status, *_),) = responder.answers
    assert 400 <= status < 500
    assert host.processes["web:web"].state.name == "RUNNING"


@given(st.binary(max_size=400), st.text(max_size=80))
def test_the_form_parser_raises_only_form_errors(body: bytes, content_type: str) -> None:
    for kind in (content_type, page_form.FORM_TYPE):
        try:
            form = page_form.parse_form(body, kind)
        except page_form.FormError as refused:
            assert refused.status in (400, 413)
        else:
            assert sorted(form) == ["action", "name", "token"]


@given(_HEADERS)
def test_the_origin_check_never_raises(headers: dict[str, str]) -> None:
    assert page_form.same_origin(headers) in (True, False)


@given(st.text(max_size=100), st.text(max_size=100))
def test_any_token_is_compared(given_token: str, token: str) -> None:
    assert page_form.token_matches(given_token, token.encode("ascii", "replace").decode()) in (
        True,
        False,
    )


@given(st.text(max_size=200), st.sampled_from(["GET", "HEAD", "POST"]))
def test_any_query_of_the_page_is_answered(query: str, method: str) -> None:
    host = _host()
    handler = page.handlers(host)["/"]
    responder = WholeResponder()
    handler(Request(method, "/", query, {}, b""), responder)
    ((status, *_),) = responder.answers
    assert status in (200, 405)
