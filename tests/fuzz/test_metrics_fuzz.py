"""Properties of /metrics: whatever Accept, Accept-Encoding and query string a client sends,
the scrape is answered once, 200 with an exposition both of prometheus_client's parsers
read, or 400 for an unknown compat name; and whatever a program is called, its labels
read back as written."""

from __future__ import annotations

import gzip

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

from initsup.control import metrics, metrics_ask, negotiation
from initsup.control.http_connection import Request
from tests.control_host import ControlHost
from tests.whole_responder import WholeResponder

# Pieces of media ranges and parameters, to build headers near the ones parsed, and any
# text besides (headers reach the handler decoded as latin-1: any code point up to 255).
_PIECES = st.sampled_from(
    ["application/openmetrics-text", "text/plain", "*/*", "text/*", "gzip", "*", "identity",
     ";", ",", "=", "q", "q=", "0", "1", "0.5", "1.0.0", "0.0.4", "version", "nan", "inf",
     "-1", "1e999", '"', " ", "\t", ";q=0.", "charset=utf-8"]
)  # fmt: skip
_HEADERS = st.one_of(
    st.text(st.characters(max_codepoint=255), max_size=120),
    st.lists(_PIECES, max_size=30).map("".join),
)
_QUERIES = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.sampled_from(["compat", "=", "&", ",", "node_supervisord", "%", "%5F", "+", "x"]),
        max_size=16,
    ).map("".join),
)


@given(_HEADERS, _HEADERS, _QUERIES, st.sampled_from(["GET", "HEAD", "POST"]))
def test_any_scrape_is_answered_once(accept: str, encoding: str, query: str, method: str) -> None:
    host = ControlHost()
    host.add("web")
    responder = WholeResponder()
    headers = {"accept": accept, "accept-encoding": encoding}
    metrics.handlers(host)["/metrics"](Request(method, "/metrics", query, headers, b""), responder)
    assert len(responder.answers) == 1
    status, body, content_type, answered = responder.answers[0]
    assert status in (200, 400, 405)
    if status != 200:
        return
    if answered.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    parse = openmetrics_families if content_type.startswith("application/") else text_families
    names = {family.name for family in parse(body.decode())}
    assert "initsup_program_up" in names


@given(_HEADERS)
def test_any_accept_is_read(accept: str) -> None:
    assert isinstance(metrics_ask.wants_openmetrics(accept), bool)
    assert isinstance(negotiation.wants_gzip(accept), bool)


@given(st.lists(st.tuples(st.sampled_from(["text/plain", "*/*", "application/json"]),
                          st.integers(0, 1000)), max_size=5),
       st.integers(1, 1000))  # fmt: skip
def test_openmetrics_named_above_the_rest_wins(others: list[tuple[str, int]], mine: int) -> None:
    """OpenMetrics named with a q-value above every other range's is chosen, wherever it
    stands in the header; named below text/plain's, it is not."""
    ranges = [f"{kind};q={q / 1000:g}" for kind, q in others]
    best = max([q for _, q in others], default=0)
    for position in (0, len(ranges)):
        openmetrics = f"application/openmetrics-text;q={mine / 1000:g}"
        header = [*ranges[:position], openmetrics, *ranges[position:]]
        chosen = metrics_ask.wants_openmetrics(",".join(header))
        if mine > best:
            assert chosen
        elif any(kind == "text/plain" and q > mine for kind, q in others):
            assert not chosen


@given(st.text(max_size=400))
def test_any_query_is_read(query: str) -> None:
    compat, unknown = metrics_ask.parse_query(query)
    assert compat <= set(metrics_ask.COMPATS)
    assert not set(unknown) & set(metrics_ask.COMPATS)


_NAMES = st.text(
    st.characters(exclude_categories=["Cs"]) | st.sampled_from(['"', "\\", "\n", "\udcff"]),
    min_size=1,
    max_size=30,
)


@given(_NAMES, _NAMES, st.booleans())
def test_any_name_reads_back(name: str, group: str, openmetrics: bool) -> None:
    host = ControlHost()
    host.add(name, group=group)
    body = metrics.exposition(host, None, {"node_supervisord"}, openmetrics)[0]
    parse = openmetrics_families if openmetrics else text_families
    labels = [s.labels for f in parse(body.decode()) for s in f.samples if s.name.endswith("_up")]

    def written(text: str) -> str:  # an undecodable byte is written as its escape text
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    assert labels == [
        {"program": written(name), "group": written(group)},
        {"name": written(name), "group": written(group)},
    ]
