"""Properties of /livez, /readyz and /startupz: whatever path and query a client sends
(kubelet, or anyone who can reach the port without credentials), the probe answers once
with one of its statuses, and nothing raises out of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from initsup.control import probes_http
from tests.control_host import ControlHost
from tests.unit.test_probes_http import probe
from tests.whole_responder import WholeResponder

_WORDS = st.sampled_from(["verbose", "exclude", "=", "&", "%", "%3A", "+", "program:", "web"])
_QUERIES = st.one_of(st.text(max_size=60), st.lists(_WORDS, max_size=12).map("".join))
_NAMES = st.one_of(st.text(max_size=20), st.sampled_from(["web", "web:web", "all", "web:*"]))


@given(
    st.sampled_from(sorted(probes_http.PATHS)),
    _NAMES,
    _QUERIES,
    st.booleans(),
    st.sampled_from(["GET", "HEAD", "POST"]),
)
def test_any_probe_request_is_answered_once(
    path: str, name: str, query: str, authenticated: bool, method: str
) -> None:
    host = ControlHost()
    host.add("web")
    exact, prefixes = probes_http.handlers(host)
    target = f"{path}/{name}" if name else path
    handler = exact.get(target) or prefixes[path + "/"]
    responder = WholeResponder()
    handler(probe(f"{target}?{query}", method, authenticated), responder)
    assert len(responder.answers) == 1
    assert responder.answers[0][0] in (200, 401, 404, 405, 503)


@given(st.text(max_size=200))
def test_any_query_is_read(query: str) -> None:
    verbose, excluded = probes_http.parse_query(query)
    assert isinstance(verbose, bool)
    assert all(isinstance(name, str) for name in excluded)
