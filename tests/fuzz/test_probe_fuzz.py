"""Properties of HTTP checks against any answer: the status-line parser and the verdict
never raise, and an HTTP probe whose server sends arbitrary bytes gives exactly one result
and closes everything it opened."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from initsup.health import answers
from initsup.health.facts import OUTPUT_TAIL
from tests.unit.test_probes import Server, answered, harness, open_fds

VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0"])
SHORT = st.binary(max_size=200)
LINE = st.binary(max_size=60).filter(lambda b: b"\n" not in b)


def numbers(low: int, high: int) -> st.SearchStrategy[bytes]:
    return st.integers(low, high).map(lambda n: str(n).encode())


def chunked(pieces: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[bytes]:
    """A chunked body of pieces, ended by its last chunk."""
    return pieces.map(
        lambda parts: b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
    )


@st.composite
def http_like(draw: st.DrawFn) -> bytes:
    """Answers that look like HTTP: a status line, headers (Content-Length among them,
    true or not), a body, each piece sometimes malformed."""

    # each piece mostly well-formed, so that the verdicts past the status line get
    # explored too; a body sometimes longer than what a result keeps
    def broken() -> bool:
        return draw(st.integers(0, 3)) == 0

    version = draw(st.binary(max_size=10) if broken() else VERSIONS)
    code = draw(numbers(0, 1000) | LINE if broken() else numbers(100, 599))
    head = [version + b" " + code + b" " + draw(LINE)]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from([b"Content-Length", b"content-length", b"X", b""]))
        head.append(name + b": " + draw(LINE | numbers(0, 10**20)))
    if draw(st.booleans()):
        head.append(b"Transfer-Encoding: chunked")
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    ending = draw(st.sampled_from([newline, b""]))
    body = st.binary(min_size=OUTPUT_TAIL, max_size=OUTPUT_TAIL + 200) if broken() else SHORT
    body = body | chunked(st.lists(SHORT, max_size=4))
    return newline.join(head) + newline + ending + draw(body)


ANSWERS = st.one_of(st.binary(max_size=2000), http_like())


@given(ANSWERS)
def test_parse_status_never_raises(data: bytes) -> None:
    code = answers.parse_status(data)
    assert code is None or 100 <= code <= 599


@given(VERSIONS, st.integers(100, 599), LINE, st.binary(max_size=100))
def test_parse_status_reads_any_status_line(
    version: bytes, code: int, reason: bytes, rest: bytes
) -> None:
    separator = b" " if reason else b""
    data = version + b" " + str(code).encode() + separator + reason + b"\r\n" + rest
    assert answers.parse_status(data) == code


@given(ANSWERS)
def test_dechunk_never_raises(data: bytes) -> None:
    body, finished = answers.dechunk(data)
    assert len(body) <= OUTPUT_TAIL
    assert isinstance(finished, bool)


@given(st.lists(st.binary(max_size=3000), max_size=6))
def test_dechunk_gives_back_the_chunks(parts: list[bytes]) -> None:
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
    data = b"".join(parts)
    if len(data) < OUTPUT_TAIL:
        assert answers.dechunk(encoded) == (data, True)
    else:
        assert answers.dechunk(encoded)[0] == data[:OUTPUT_TAIL]


@given(ANSWERS, st.booleans())
def test_verdict_never_raises(data: bytes, complete: bool) -> None:
    found = answers.verdict(data, complete)
    if complete:
        assert found is not None  # nothing more will come: it has to decide
    if found is not None:
        ok, detail, output = found
        assert len(output) <= OUTPUT_TAIL
        code = answers.parse_status(data)
        if code is not None:
            assert detail == f"HTTP {code}"
            assert ok == (200 <= code < 400)
        else:
            assert not ok


@given(ANSWERS)
def test_an_http_probe_gives_one_result_for_any_answer(answer: bytes) -> None:
    """The server reads the request, sends answer and closes: one result, decided by the
    first line, and no fd left open."""
    with harness() as h:
        server = Server()
        try:
            before = open_fds()
            result, _ = answered(h, server, answer)
            for conn in server.conns:
                conn.close()
            server.conns.clear()
            assert open_fds() == before
        finally:
            server.close()
    code = answers.parse_status(answer)
    if code is not None:
        assert result.detail == f"HTTP {code}"
        assert result.ok == (200 <= code < 400)
    else:
        assert not result.ok
        expected = "connection closed before an answer" if not answer else "malformed status line"
        assert result.detail == expected
