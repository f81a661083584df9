"""Properties of the XML-RPC endpoint and the log-tail paths: whatever body a client
POSTs to /RPC2, call() refuses it (Refused, HTTP 400) or answers it at most once with a
response any XML-RPC client parses, never raises anything else, and never runs code for
a method name outside its tables; whatever path a client GETs, the log tail finds a
process log or none."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xmlrpc import client

from hypothesis import given
from hypothesis import strategies as st

from initsup.control import logtail, rpcbase, rpclogs, rpcmethods
from initsup.control import xmlrpc as rpc
from tests.control_host import ControlHost

TABLES = {**rpcmethods.METHODS, **rpc.SYSTEM}
_NAMES = st.one_of(
    st.sampled_from(sorted(TABLES)),
    st.sampled_from(["supervisor._update", "supervisor.options.mood", "a.b.c", "x", ""]),
    st.text(alphabet="abcdefgsuperviso._:*", max_size=30),
    st.builds(  # a listed method reached by another way: private, nested, renamespaced
        lambda prefix, name: prefix + name.partition(".")[2],
        st.sampled_from(["supervisor.options.", "supervisor._", "system.", "x.", "", "."]),
        st.sampled_from(sorted(TABLES)),
    ),
)
_LEAVES = st.one_of(
    st.integers(rpcbase.MININT, rpcbase.MAXINT),
    st.booleans(),
    st.text(max_size=20),
    st.sampled_from(["a", "pool:w1", "pool:*", "HUP", "nope", "all"]),
    st.floats(allow_nan=False),
    st.binary(max_size=10),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_CALLS = st.builds(
    lambda name, params: {"methodName": name, "params": params},
    _NAMES,
    st.lists(_VALUES, max_size=3),
)


def _encode(name: str, params: list[Any]) -> bytes:
    try:
        return client.dumps(tuple(params), name).encode("utf-8", "surrogatepass")
    except Exception:  # a value dumps cannot write: the body is junk instead
        return name.encode("utf-8", "surrogatepass")


_REQUESTS = st.builds(_encode, _NAMES, st.lists(_VALUES, max_size=3))
_MULTICALLS = st.builds(lambda calls: _encode("system.multicall", [calls]), st.lists(_CALLS))


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    body = draw(st.one_of(_REQUESTS, _MULTICALLS))
    at = draw(st.integers(0, len(body)))
    cut = draw(st.integers(0, 8))
    return body[:at] + draw(st.binary(max_size=8)) + body[at + cut :]


_BODIES = st.one_of(st.binary(max_size=300), _REQUESTS, _MULTICALLS, _mutated())


def _host() -> ControlHost:
    host = ControlHost()
    host.add("a")
    host.add("w1", group="pool")
    host.add("w2", group="pool", redirect_stderr=True)
    host.output.record(("a:a", "stdout"), b"out\x00\x1b\xff\n")
    return host


@contextmanager
def _recorded(calls: list[str]) -> Iterator[None]:
    """Every call of a table's function is recorded by the name it is listed under."""
    saved = {name: method.function for name, method in TABLES.items()}

    def recorder(name: str, function: Any) -> Any:
        def recorded(*args: Any) -> Any:
            calls.append(name)
            return function(*args)

        return recorded

    for name, method in TABLES.items():  # aliases share a Method: the last name wins
        method.function = recorder(name, saved[name])
    try:
        yield
    finally:
        for name, method in TABLES.items():
            method.function = saved[name]


@given(_BODIES)
def test_any_body_is_refused_or_answered_at_most_once(body: bytes) -> None:
    host = _host()
    answers: list[bytes] = []
    calls: list[str] = []
    with _recorded(calls):
        try:
            rpc.call(host, host.feed, body, answers.append)
        except rpc.Refused as refused:
            assert refused.status == 400 and answers == [] and calls == []
            return
        host.advance(30)  # waits on starts settle; stops wait on exits the fake never makes
    assert len(answers) <= 1
    for answer in answers:
        try:
            client.loads(answer)
        except client.Fault as fault:
            assert fault.faultCode in rpcbase.FAULTS.values()
    name = client.loads(body, use_builtin_types=True)[1]
    if name not in TABLES:
        assert calls == []
        assert answers and b"<int>1</int>" in answers[0]  # UNKNOWN_METHOD


@given(_BODIES)
def test_nothing_outside_the_tables_runs(body: bytes) -> None:
    """Each function called is listed under the name asked for, or under a name of a
    multicall member."""
    host = _host()
    calls: list[str] = []
    with _recorded(calls):
        try:
            rpc.call(host, host.feed, body, lambda answer: None)
        except rpc.Refused:
            return
    params, name = client.loads(body, use_builtin_types=True)
    asked = {name}
    if name == "system.multicall" and params and isinstance(params[0], list):
        asked |= {c.get("methodName") for c in params[0] if isinstance(c, dict)}
    same = {n: {m for m, method in TABLES.items() if method is TABLES[n]} for n in TABLES}
    for called in calls:
        assert same[called] & asked


_PATHS = st.one_of(
    st.text(max_size=40).map(lambda text: "/logtail/" + text),
    st.builds(
        lambda name, stream: f"/logtail/{name}/{stream}",
        st.sampled_from(["a", "pool:w1", "pool:w2", "pool:*", "%61", "%zz", ""]),
        st.sampled_from(["stdout", "stderr", "", "x/y"]),
    ),
)


@given(_PATHS)
def test_a_log_tail_path_names_a_process_log_or_none(path: str) -> None:
    host = _host()
    found = logtail.target(host, path)
    if found is not None:
        process, stream = found
        assert process in host.processes.values() and stream in ("stdout", "stderr")


_OFFSETS = st.integers(-40, 40)


@given(st.text("ab\n", max_size=30).map(str.encode), st.integers(0, 30), _OFFSETS, _OFFSETS)
def test_log_ranges_are_supervisords_over_what_the_ring_kept(
    data: bytes, lost: int, offset: int, length: int
) -> None:
    """read_range and tail_range over a ring that kept the last bytes of `data` give what
    supervisord's readFile and tailFile give over the whole of it, less the lost bytes."""
    from supervisor.options import readFile, tailFile

    kept = data[min(lost, len(data)) :]
    with tempfile.NamedTemporaryFile() as file:
        file.write(data)
        file.flush()
        try:
            theirs: Any = readFile(file.name, offset, length)
        except ValueError:
            theirs = None
        tail = tailFile(file.name, offset, length)
    try:
        mine: Any = rpclogs.read_range(kept, len(data), offset, length)
    except rpcbase.Fault as fault:
        assert fault.text == "BAD_ARGUMENTS" and theirs is None
    else:
        assert theirs is not None and theirs.endswith(mine)
        assert len(theirs) - len(mine) <= len(data) - len(kept)
    mine_tail = rpclogs.tail_range(kept, len(data), offset, length)
    assert mine_tail[1:] == tail[1:]
    assert tail[0].endswith(mine_tail[0])
    assert len(tail[0]) - len(mine_tail[0]) <= len(data) - len(kept)
