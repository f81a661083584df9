"""The event listener protocol and pool buffer, against supervisord (reference §3.1-§3.4).

Pure logic: bytes go into `ListenerProtocol.feed` as if read from a listener's stdout, and
events into `PoolBuffer.accept` as if published; nothing is spawned.
"""

from __future__ import annotations

import io
import itertools
import random
import re
from collections.abc import Iterable, Iterator, Sequence

import pytest

from initsup import events
from initsup.events import EVENT_TYPES, Event
from initsup.listeners import Envelope, ListenerProtocol, ListenerState, Outcome, PoolBuffer
from initsup.states import ProcessState

L = ListenerState
O = Outcome  # noqa: E741
S = ProcessState

NAME = "listener"
UNKNOWN_WARNING = (
    f"{NAME}: has entered the UNKNOWN state and will no longer receive events, this usually "
    "indicates the process violated the eventlistener protocol"
)


def _protocol() -> tuple[ListenerProtocol, list[str]]:
    warnings: list[str] = []
    return ListenerProtocol(NAME, warnings.append), warnings


def _busy() -> tuple[ListenerProtocol, list[str]]:
    """A listener that said READY and was sent an event."""
    protocol, warnings = _protocol()
    assert protocol.feed(b"READY\n") == [O.READY]
    protocol.sent()
    return protocol, warnings


def _ignore(message: str) -> None:
    """An error callback for tests that do not look at errors."""


def _feed_all(protocol: ListenerProtocol, chunks: Iterable[bytes]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for chunk in chunks:
        outcomes += protocol.feed(chunk)
    return outcomes


# -- ACKNOWLEDGED ---------------------------------------------------------------------------

# (chunks read from the listener, outcomes, state afterwards)
ACKNOWLEDGED: list[tuple[list[bytes], list[Outcome], ListenerState]] = [
    ([b""], [], L.ACKNOWLEDGED),
    ([b"R"], [], L.ACKNOWLEDGED),
    ([b"READY"], [], L.ACKNOWLEDGED),
    # Fewer than 6 bytes are not judged, even when they cannot become READY\n.
    ([b"HELLO"], [], L.ACKNOWLEDGED),
    ([b"\n"], [], L.ACKNOWLEDGED),
    ([b"xx", b"yy", b"z"], [], L.ACKNOWLEDGED),
    ([b"READY\n"], [O.READY], L.READY),
    ([b"READY", b"\n"], [O.READY], L.READY),
    ([b"RE", b"AD", b"Y\n"], [O.READY], L.READY),
    ([b"HELLO\n"], [O.UNKNOWN], L.UNKNOWN),
    ([b"HELLO", b"\n"], [O.UNKNOWN], L.UNKNOWN),
    ([b"ready\n"], [O.UNKNOWN], L.UNKNOWN),
    ([b"READY "], [O.UNKNOWN], L.UNKNOWN),
    ([b"READYX"], [O.UNKNOWN], L.UNKNOWN),
    ([b"\nREADY\n"], [O.UNKNOWN], L.UNKNOWN),
    ([b"RESULT 2\nOK"], [O.UNKNOWN], L.UNKNOWN),
    # The rest after READY\n is parsed again, as READY input: spurious data.
    ([b"READY\nX"], [O.READY, O.UNKNOWN], L.UNKNOWN),
    ([b"READY\nREADY\n"], [O.READY, O.UNKNOWN], L.UNKNOWN),
    # Garbage after the verdict is swallowed: one UNKNOWN only.
    ([b"HELLO\nREADY\n"], [O.UNKNOWN], L.UNKNOWN),
]


def test_a_new_listener_starts_acknowledged() -> None:
    """A freshly spawned listener's dispatcher is ACKNOWLEDGED, as supervisord's."""
    protocol, warnings = _protocol()
    assert protocol.state is L.ACKNOWLEDGED
    assert protocol.name == NAME
    assert warnings == []


@pytest.mark.parametrize(("chunks", "outcomes", "state"), ACKNOWLEDGED)
def test_acknowledged(chunks: list[bytes], outcomes: list[Outcome], state: ListenerState) -> None:
    """ACKNOWLEDGED waits for 6 bytes, takes READY\\n, and turns UNKNOWN on anything else."""
    protocol, warnings = _protocol()
    assert _feed_all(protocol, chunks) == outcomes
    assert protocol.state is state
    assert warnings == ([UNKNOWN_WARNING] if state is L.UNKNOWN else [])


def test_unknown_warning_names_the_listener() -> None:
    """The UNKNOWN warning is supervisord's line with the listener's own name."""
    warnings: list[str] = []
    protocol = ListenerProtocol("crashmail_0", warnings.append)
    assert protocol.feed(b"HELLO\n") == [O.UNKNOWN]
    assert warnings == [
        "crashmail_0: has entered the UNKNOWN state and will no longer receive events, this "
        "usually indicates the process violated the eventlistener protocol"
    ]


# -- READY ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\n", b"R", b"\x00", b"READY\n", b"RESULT 2\nOK", b"\xff"])
def test_ready_any_byte_is_spurious(data: bytes) -> None:
    """Any output while READY (nothing was sent yet) makes the listener UNKNOWN."""
    protocol, warnings = _protocol()
    assert protocol.feed(b"READY\n") == [O.READY]
    assert protocol.feed(data) == [O.UNKNOWN]
    assert protocol.state is L.UNKNOWN
    assert warnings == [UNKNOWN_WARNING]


# -- BUSY -----------------------------------------------------------------------------------


def test_sent_makes_the_listener_busy() -> None:
    """sent() moves a READY listener to BUSY, with nothing to report."""
    protocol, warnings = _busy()
    assert protocol.state is L.BUSY
    assert warnings == []


# (chunks read after the event was sent, outcomes, state afterwards)
BUSY: list[tuple[list[bytes], list[Outcome], ListenerState]] = [
    ([b"RESULT 2\nOK"], [O.PROCESSED], L.ACKNOWLEDGED),
    ([b"RESULT 4\nFAIL"], [O.REJECTED], L.ACKNOWLEDGED),
    ([b"RESULT 2\nNO"], [O.REJECTED], L.ACKNOWLEDGED),
    ([b"RESULT 3\nOK\n"], [O.REJECTED], L.ACKNOWLEDGED),  # the body is OK\n, not OK
    # The prefix is not checked: the first 7 characters are dropped.
    ([b"XXXXXX 2\nOK"], [O.PROCESSED], L.ACKNOWLEDGED),
    ([b"RESULT_2\nOK"], [O.PROCESSED], L.ACKNOWLEDGED),
    # Waiting: for the newline of the result line, then for the whole body.
    ([b"RESULT 2"], [], L.BUSY),
    ([b"RESULT 2\n"], [], L.BUSY),
    ([b"RESULT 2\nO"], [], L.BUSY),
    ([b"RESULT 2\nO", b"K"], [O.PROCESSED], L.ACKNOWLEDGED),
    ([b"RESULT 4\nFA", b"IL"], [O.REJECTED], L.ACKNOWLEDGED),
    ([b"RESULT 1", b"0\n0123456789"], [O.REJECTED], L.ACKNOWLEDGED),
    # Anything after the body is ACKNOWLEDGED input (test_handle_listener_state_busy_gobbles).
    ([b"RESULT 2\nOK\nREADY\n"], [O.PROCESSED, O.UNKNOWN], L.UNKNOWN),
    # What superlance's childutils really sends: no newline after the body.
    ([b"RESULT 2\nOKREADY\n"], [O.PROCESSED, O.READY], L.READY),
    ([b"RESULT 2\nOK", b"READY\n"], [O.PROCESSED, O.READY], L.READY),
    ([b"RESULT 4\nFAILREADY\n"], [O.REJECTED, O.READY], L.READY),
    ([b"RESULT 2\nOKREA"], [O.PROCESSED], L.ACKNOWLEDGED),
    ([b"RESULT 2\nOKREADY\nX"], [O.PROCESSED, O.READY, O.UNKNOWN], L.UNKNOWN),
]


@pytest.mark.parametrize(("chunks", "outcomes", "state"), BUSY)
def test_busy(chunks: list[bytes], outcomes: list[Outcome], state: ListenerState) -> None:
    """BUSY reads `RESULT <n>\\n` and n bytes: OK is processed, anything else rejected."""
    protocol, warnings = _busy()
    assert _feed_all(protocol, chunks) == outcomes
    assert protocol.state is state
    assert warnings == ([UNKNOWN_WARNING] if state is L.UNKNOWN else [])


# (result line, what the warning shows between the quotes)
BAD_RESULT_LINES: list[tuple[bytes, str]] = [
    (b"RESULT x", "RESULT x"),
    (b"RESULT", "RESULT"),
    (b"", ""),
    (b"RESULT 2 OK", "RESULT 2 OK"),
    (b"RESULT 2.0", "RESULT 2.0"),
    ("RESULT dé".encode(), "RESULT dé"),
]


@pytest.mark.parametrize(("line", "shown"), BAD_RESULT_LINES)
def test_bad_result_line(line: bytes, shown: str) -> None:
    """A result line without an integer warns, rejects the event, then goes UNKNOWN."""
    protocol, warnings = _busy()
    assert protocol.feed(line + b"\nOK") == [O.REJECTED, O.UNKNOWN]
    assert protocol.state is L.UNKNOWN
    assert warnings == [f"{NAME}: bad result line: '{shown}'", UNKNOWN_WARNING]


def test_bad_result_line_waits_for_its_newline() -> None:
    """A bad result line is judged only once its newline has arrived."""
    protocol, warnings = _busy()
    assert protocol.feed(b"RESULT x") == []
    assert protocol.state is L.BUSY
    assert protocol.feed(b"\n") == [O.REJECTED, O.UNKNOWN]
    assert warnings == [f"{NAME}: bad result line: 'RESULT x'", UNKNOWN_WARNING]


# supervisord formats the line with '%s' between literal quotes, not with repr(): a quote or
# a backslash is shown as is, and undecodable bytes as "Undecodable: b'...'".
BAD_RESULT_LINES_VERBATIM: list[tuple[bytes, str]] = [
    (b"RESULT 'x'", "RESULT 'x'"),
    (b"RESULT \\x", "RESULT \\x"),
    (b"RESULT \xff", "Undecodable: b'RESULT \\xff'"),
]


@pytest.mark.parametrize(("line", "shown"), BAD_RESULT_LINES_VERBATIM)
def test_bad_result_line_is_quoted_like_supervisord(line: bytes, shown: str) -> None:
    """The bad result line is shown between quotes verbatim, as supervisord's '%s'."""
    protocol, warnings = _busy()
    assert protocol.feed(line + b"\n") == [O.REJECTED, O.UNKNOWN]
    assert warnings[0] == f"{NAME}: bad result line: '{shown}'"


# -- UNKNOWN --------------------------------------------------------------------------------


def test_unknown_swallows_everything() -> None:
    """Once UNKNOWN, nothing the listener writes produces an outcome or another warning."""
    protocol, warnings = _protocol()
    assert protocol.feed(b"HELLO\n") == [O.UNKNOWN]
    for data in [b"READY\n", b"RESULT 2\nOK", b"READY\nRESULT 4\nFAILREADY\n", b"x" * 100]:
        assert protocol.feed(data) == []
        assert protocol.state is L.UNKNOWN
    assert protocol.feed(b"") == []
    assert warnings == [UNKNOWN_WARNING]


# -- Arbitrary read boundaries ----------------------------------------------------------------

# (id, what the listener writes between events, outcomes).  An event is sent (sent()) at the
# start of every segment after the first, if the listener is READY then: a listener cannot
# answer an event it was not sent, so no read ever spans two segments.
CONVERSATIONS: list[tuple[str, list[bytes], list[Outcome]]] = [
    (
        "ok",
        [b"READY\n", b"RESULT 2\nOK", b"READY\n"],
        [O.READY, O.PROCESSED, O.READY],
    ),
    (
        "ok-superlance",
        [b"READY\n", b"RESULT 2\nOKREADY\n", b"RESULT 2\nOKREADY\n"],
        [O.READY, O.PROCESSED, O.READY, O.PROCESSED, O.READY],
    ),
    (
        "fail-then-ok",
        [b"READY\n", b"RESULT 4\nFAILREADY\n", b"RESULT 2\nOKREADY\n"],
        [O.READY, O.REJECTED, O.READY, O.PROCESSED, O.READY],
    ),
    (
        "long-body",
        [b"READY\n", b"RESULT 12\nhello world!READY\n"],
        [O.READY, O.REJECTED, O.READY],
    ),
    (
        "gobbles",
        [b"READY\n", b"RESULT 2\nOK\nREADY\n"],
        [O.READY, O.PROCESSED, O.UNKNOWN],
    ),
    (
        "bad-result",
        [b"READY\n", b"RESULT x\nOKREADY\n"],
        [O.READY, O.REJECTED, O.UNKNOWN],
    ),
    ("garbage", [b"HELLO\nREADY\n"], [O.UNKNOWN]),
    ("spurious", [b"READY\nRESULT 2\nOK"], [O.READY, O.UNKNOWN]),
]


def _converse(
    segments: Sequence[bytes], cuts: Iterable[int]
) -> tuple[list[Outcome], ListenerState, list[str]]:
    """Play the conversation, reading the stream in pieces cut at cuts (and segment ends)."""
    protocol, warnings = _protocol()
    stream = b"".join(segments)
    ends = list(itertools.accumulate(len(segment) for segment in segments))
    starts = set(ends[:-1])
    points = sorted({0, *ends, *(cut for cut in cuts if 0 < cut < len(stream))})
    outcomes: list[Outcome] = []
    for start, end in zip(points, points[1:]):
        if start in starts and protocol.state is L.READY:
            protocol.sent()
        outcomes += protocol.feed(stream[start:end])
    return outcomes, protocol.state, warnings


def _bytewise(length: int) -> Iterator[list[int]]:
    yield list(range(1, length))


def _two_way(length: int) -> Iterator[list[int]]:
    for cut in range(1, length):
        yield [cut]


def _random(length: int) -> Iterator[list[int]]:
    rng = random.Random(20250611)
    for _ in range(200):
        yield rng.sample(range(1, length), rng.randint(1, length - 1))


CHUNKINGS = {"bytewise": _bytewise, "two-way": _two_way, "random": _random}


@pytest.mark.parametrize(("segments", "outcomes"), [c[1:] for c in CONVERSATIONS])
def test_conversation_read_whole(segments: list[bytes], outcomes: list[Outcome]) -> None:
    """Each conversation, one read per segment, gives the outcomes of supervisord's rules."""
    assert _converse(segments, [])[0] == outcomes


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize(
    ("segments", "outcomes"),
    [c[1:] for c in CONVERSATIONS],
    ids=[c[0] for c in CONVERSATIONS],
)
def test_read_boundaries_do_not_matter(
    segments: list[bytes], outcomes: list[Outcome], chunking: str
) -> None:
    """However the stream is cut into reads, outcomes, final state and warnings are the same."""
    whole = _converse(segments, [])
    assert whole[0] == outcomes
    length = len(b"".join(segments))
    for cuts in CHUNKINGS[chunking](length):
        assert _converse(segments, cuts) == whole, cuts


# -- Envelope -------------------------------------------------------------------------------

NON_ASCII_LOG = events.process_log("uni", "uni", 19810, "stdout", "héllo Øresund\n")

# (event, serial, poolserial, server, pool, the exact text)
ENVELOPES: list[tuple[Event, int, int, str, str, str]] = [
    (
        events.process_state(S.RUNNING, "victim", "victim", S.STARTING, pid=20385),
        0,
        0,
        "supervisor",
        "recorder",
        "ver:3.0 server:supervisor serial:0 pool:recorder poolserial:0 "
        "eventname:PROCESS_STATE_RUNNING len:65\n"
        "processname:victim groupname:victim from_state:STARTING pid:20385",
    ),
    (
        events.tick(5, 1795405680),
        32,
        7,
        "myhost",
        "ticker",
        "ver:3.0 server:myhost serial:32 pool:ticker poolserial:7 eventname:TICK_5 len:15\n"
        "when:1795405680",
    ),
    (
        events.group_change("recorder", added=True),
        1,
        1,
        "supervisor",
        "recorder",
        "ver:3.0 server:supervisor serial:1 pool:recorder poolserial:1 "
        "eventname:PROCESS_GROUP_ADDED len:19\ngroupname:recorder\n",
    ),
    (
        events.supervisor_state(running=False),
        104,
        3,
        "supervisor",
        "all",
        "ver:3.0 server:supervisor serial:104 pool:all poolserial:3 "
        "eventname:SUPERVISOR_STATE_CHANGE_STOPPING len:0\n",
    ),
    (
        NON_ASCII_LOG,
        5,
        2,
        "supervisor",
        "logs",
        "ver:3.0 server:supervisor serial:5 pool:logs poolserial:2 "
        "eventname:PROCESS_LOG_STDOUT len:69\n"
        "processname:uni groupname:uni pid:19810 channel:stdout\nhéllo Øresund\n",
    ),
]


@pytest.mark.parametrize(("event", "serial", "poolserial", "server", "pool", "text"), ENVELOPES)
def test_envelope_text(
    event: Event, serial: int, poolserial: int, server: str, pool: str, text: str
) -> None:
    """The envelope is supervisord's header line, in its token order, then the payload."""
    assert Envelope(event, serial, poolserial).text(server, pool) == text


@pytest.mark.parametrize(("event", "serial", "poolserial", "server", "pool", "text"), ENVELOPES)
def test_envelope_header_tokens(
    event: Event, serial: int, poolserial: int, server: str, pool: str, text: str
) -> None:
    """Every header token is key:value with no colon or whitespace in either (get_headers)."""
    header, newline, payload = (
        Envelope(event, serial, poolserial).text(server, pool).partition("\n")
    )
    assert newline == "\n"
    tokens = header.split(" ")
    assert [token.split(":")[0] for token in tokens] == [
        "ver",
        "server",
        "serial",
        "pool",
        "poolserial",
        "eventname",
        "len",
    ]
    for token in tokens:
        assert re.fullmatch(r"[^:\s]+:[^:\s]*", token), token
    assert payload == event.payload


def test_envelope_len_counts_characters() -> None:
    """`len` counts characters (len:69 for 71 bytes, as supervisord): text readers stay aligned."""
    text = Envelope(NON_ASCII_LOG, 0, 0).text("supervisor", "logs")
    assert len(NON_ASCII_LOG.payload) == 69
    assert len(NON_ASCII_LOG.payload.encode("utf-8")) == 71
    assert "len:69\n" in text
    # A text-mode reader, as childutils.EventListenerProtocol.wait: header, then len characters.
    stdin = io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8")
    headers = dict(token.split(":") for token in stdin.readline().split())
    assert stdin.read(int(headers["len"])) == NON_ASCII_LOG.payload
    assert stdin.read() == ""


def test_redelivery_keeps_serials() -> None:
    """A rejected event is written again with the same serial and poolserial."""
    errors: list[str] = []
    buffer = PoolBuffer("p", frozenset({"EVENT"}), 10, itertools.count(), errors.append)
    buffer.accept(events.tick(5, 0))
    buffer.accept(events.tick(5, 5))
    buffer.accept(events.tick(5, 10))
    buffer.waiting.popleft()
    envelope = buffer.waiting.popleft()
    first = envelope.text("supervisor", "p")
    buffer.accept(events.tick(5, 15))
    buffer.rejected(envelope)
    again = buffer.waiting.popleft()
    assert again is envelope
    assert (again.serial, again.poolserial) == (1, 1)
    assert again.text("supervisor", "p") == first
    assert "serial:1 pool:p poolserial:1 " in first
    assert errors == []


# -- PoolBuffer: subscriptions --------------------------------------------------------------

# The types an event can have: the leaves (abstract types like PROCESS_STATE are never emitted).
ALL_TYPES = sorted(set(EVENT_TYPES) - set(EVENT_TYPES.values()))
PROCESS_STATES = [f"PROCESS_STATE_{state.name}" for state in ProcessState]
TICKS = ["TICK_5", "TICK_60", "TICK_3600"]

# (subscribed types, event type, wanted)
WANTS: list[tuple[frozenset[str], str, bool]] = [
    (frozenset({"PROCESS_STATE_EXITED"}), "PROCESS_STATE_EXITED", True),
    (frozenset({"PROCESS_STATE_EXITED"}), "PROCESS_STATE_RUNNING", False),
    (frozenset({"PROCESS_STATE_EXITED"}), "PROCESS_STATE", False),
    (frozenset({"TICK_60"}), "TICK_60", True),
    (frozenset({"TICK_60"}), "TICK_5", False),
    (frozenset({"PROCESS_LOG"}), "PROCESS_LOG_STDERR", True),
    (frozenset({"PROCESS_LOG"}), "PROCESS_COMMUNICATION_STDERR", False),
    (frozenset({"SUPERVISOR_STATE_CHANGE"}), "SUPERVISOR_STATE_CHANGE_STOPPING", True),
    (frozenset({"TICK_5", "PROCESS_GROUP"}), "PROCESS_GROUP_REMOVED", True),
    (frozenset({"TICK_5", "PROCESS_GROUP"}), "TICK_5", True),
    (frozenset({"TICK_5", "PROCESS_GROUP"}), "TICK_60", False),
    *((frozenset({"PROCESS_STATE"}), name, name in PROCESS_STATES) for name in ALL_TYPES),
    *((frozenset({"TICK"}), name, name in TICKS) for name in ALL_TYPES),
    *((frozenset({"EVENT"}), name, True) for name in ALL_TYPES),
    *((frozenset(), name, False) for name in ALL_TYPES),
]


@pytest.mark.parametrize(("subscribed", "name", "wanted"), WANTS)
def test_wants(subscribed: frozenset[str], name: str, wanted: bool) -> None:
    """A pool wants its exact types and every subtype of an abstract one, nothing else."""
    buffer = PoolBuffer("p", subscribed, 10, itertools.count(), _ignore)
    assert buffer.wants(Event(name, "", {})) is wanted


def test_process_state_covers_every_state() -> None:
    """The subscription tables above cover all eight process states and every leaf type."""
    assert len(PROCESS_STATES) == 8
    assert len(ALL_TYPES) == 20
    assert not {"EVENT", "PROCESS_STATE", "TICK"} & set(ALL_TYPES)
    assert all(name in EVENT_TYPES for name in PROCESS_STATES + TICKS)


# -- PoolBuffer: serials ------------------------------------------------------------------------


def test_serials_are_global_and_poolserials_per_pool() -> None:
    """Two pools sharing one counter: serials run across both, poolserials per pool from 0."""
    serials = itertools.count()
    errors: list[str] = []
    a = PoolBuffer("a", frozenset({"EVENT"}), 10, serials, errors.append)
    b = PoolBuffer("b", frozenset({"EVENT"}), 10, serials, errors.append)
    for when, buffer in enumerate([a, b, b, a, b, a, a]):
        buffer.accept(events.tick(5, when * 5))
    assert [(e.serial, e.poolserial) for e in a.waiting] == [(0, 0), (3, 1), (5, 2), (6, 3)]
    assert [(e.serial, e.poolserial) for e in b.waiting] == [(1, 0), (2, 1), (4, 2)]
    assert [e.event.payload for e in a.waiting] == [
        "when:0",
        "when:15",
        "when:25",
        "when:30",
    ]
    assert errors == []


def test_one_event_has_one_serial_in_every_pool() -> None:
    """An event accepted by two pools carries the same serial in both, as in supervisord."""
    serials = itertools.count()
    a = PoolBuffer("a", frozenset({"EVENT"}), 10, serials, _ignore)
    b = PoolBuffer("b", frozenset({"TICK"}), 10, serials, _ignore)
    for when in (0, 5):
        event = events.tick(5, when)
        for buffer in (a, b):
            buffer.accept(event)
    assert [(e.serial, e.poolserial) for e in a.waiting] == [(0, 0), (1, 1)]
    assert [(e.serial, e.poolserial) for e in b.waiting] == [(0, 0), (1, 1)]


# -- PoolBuffer: overflow -------------------------------------------------------------------

# (buffer_size, events accepted, first taken out for delivery before the burst,
#  serials left waiting, serials discarded in order)
OVERFLOWS: list[tuple[int, int, bool, list[int], list[int]]] = [
    (2, 6, False, [4, 5], [0, 1, 2, 3]),
    (2, 6, True, [4, 5], [1, 2, 3]),  # E7: the listener got 0, then 4 and 5
    (1, 3, False, [2], [0, 1]),
    (3, 3, False, [0, 1, 2], []),
    (10, 6, False, [0, 1, 2, 3, 4, 5], []),
]


@pytest.mark.parametrize(("size", "count", "pop_first", "kept", "dropped"), OVERFLOWS)
def test_overflow_drops_the_oldest(
    size: int, count: int, pop_first: bool, kept: list[int], dropped: list[int]
) -> None:
    """A full buffer drops its oldest event for each new one, with supervisord's error line."""
    errors: list[str] = []
    buffer = PoolBuffer("slow", frozenset({"TICK"}), size, itertools.count(), errors.append)
    for n in range(count):
        buffer.accept(events.tick(5, n * 5))
        if n == 0 and pop_first:
            assert buffer.waiting.popleft().serial == 0
    assert [e.serial for e in buffer.waiting] == kept
    assert [e.poolserial for e in buffer.waiting] == kept
    assert [e.event.payload for e in buffer.waiting] == [f"when:{n * 5}" for n in kept]
    assert errors == [f"pool slow event buffer overflowed, discarding event {n}" for n in dropped]
    assert buffer.overflowed == len(dropped)  # what /metrics reports


def test_rejected_goes_back_to_the_head() -> None:
    """rejected() puts the envelope first in line, the same object with the same serials."""
    errors: list[str] = []
    buffer = PoolBuffer("p", frozenset({"EVENT"}), 10, itertools.count(), errors.append)
    for when in (0, 5, 10):
        buffer.accept(events.tick(5, when))
    envelope = buffer.waiting.popleft()
    buffer.accept(events.tick(5, 15))
    buffer.rejected(envelope)
    assert buffer.waiting[0] is envelope
    assert [(e.serial, e.poolserial) for e in buffer.waiting] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert errors == []


def test_rejected_into_a_full_buffer_overflows() -> None:
    """A rejection into a full buffer discards the oldest waiting event, as supervisord."""
    errors: list[str] = []
    buffer = PoolBuffer("p", frozenset({"EVENT"}), 2, itertools.count(), errors.append)
    buffer.accept(events.tick(5, 0))
    envelope = buffer.waiting.popleft()
    buffer.accept(events.tick(5, 5))
    buffer.accept(events.tick(5, 10))
    buffer.rejected(envelope)
    assert [e.serial for e in buffer.waiting] == [0, 2]
    assert errors == ["pool p event buffer overflowed, discarding event 1"]
