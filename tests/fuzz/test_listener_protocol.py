"""The listener protocol parser (initsup.listeners.ListenerProtocol) on any bytes, in any
chunking: it never raises, says nothing after UNKNOWN, warns only as documented, and where
the input stays within initsup's bounds it says what supervisord's own dispatcher
(supervisor.dispatchers.PEventListenerDispatcher, driven here with a stand-in process)
says, outcome for outcome."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st
from supervisor import dispatchers
from supervisor.dispatchers import PEventListenerDispatcher, default_handler
from supervisor.events import EventRejectedEvent
from supervisor.states import EventListenerStates

from initsup.listeners import (
    MAX_RESULT_BODY,
    UNKNOWN_WARNING,
    ListenerProtocol,
    ListenerState,
    Outcome,
)

NAME = "listener"
UNKNOWN_LINE = UNKNOWN_WARNING.format(name=NAME)

# Listener output made of protocol turns with their near misses, and garbage.
_TURNS = st.tuples(
    st.sampled_from([b"RESULT ", b"RESULT", b"RESUL", b"", b"result ", b"RESULTS"]),
    st.one_of(
        st.sampled_from([b"0", b"2", b"4", b"x", b"-1", b" 2", b"2 ", b"1_0", b"+2", b"9" * 12]),
        st.binary(max_size=3),
    ),
    st.sampled_from([b"\n", b"", b"\r\n"]),
    st.one_of(st.sampled_from([b"OK", b"FAIL", b"OK\n"]), st.binary(max_size=6)),
    st.sampled_from([b"READY\n", b"READY", b"", b"\nREADY\n", b"READY\nREADY\n", b"READ"]),
).map(b"".join)
_STREAMS = st.tuples(
    st.sampled_from([b"READY\n", b"READY\n", b"READY", b"", b"\xffREADY\n"]),
    st.lists(_TURNS, max_size=4),
    st.binary(max_size=4),
).map(lambda parts: parts[0] + b"".join(parts[1]) + parts[2])


@st.composite
def _valid(draw: st.DrawFn) -> tuple[list[bytes], list[Outcome]]:
    """A well-behaved listener's stdout, as segments (what it writes between two events),
    and the outcomes supervisord's rules give."""
    bodies = draw(st.lists(st.one_of(st.just(b"OK"), st.binary(max_size=12)), max_size=5))
    segments = [b"READY\n"]
    expected = [Outcome.READY]
    for body in bodies:
        segments.append(b"RESULT %d\n%s" % (len(body), body) + b"READY\n")
        expected += [Outcome.PROCESSED if body == b"OK" else Outcome.REJECTED, Outcome.READY]
    return segments, expected


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


@given(_valid(), st.lists(st.integers(0, 64), max_size=6))
def test_a_well_behaved_listener_in_any_chunking(
    conversation: tuple[list[bytes], list[Outcome]], cuts: list[int]
) -> None:
    segments, expected = conversation
    warnings: list[str] = []
    protocol = ListenerProtocol(NAME, warnings.append)
    outcomes: list[Outcome] = []
    for segment in segments:
        if protocol.state is ListenerState.READY:
            protocol.sent()  # the listener writes its result only after an event came
        for chunk in _cut(segment, cuts):
            outcomes += protocol.feed(chunk)
    assert outcomes == expected
    assert protocol.state is ListenerState.READY
    assert warnings == []


class _Supervisord:
    """supervisord's dispatcher on a stand-in process, reporting initsup's Outcomes."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.warnings: list[str] = []
        self.broken = False
        logger = SimpleNamespace(warn=self.warnings.append, debug=lambda msg: None)
        config = SimpleNamespace(
            name=NAME, stdout_logfile=None, options=SimpleNamespace(logger=logger)
        )
        group = SimpleNamespace(config=SimpleNamespace(result_handler=default_handler))
        self.process = SimpleNamespace(config=config, group=group, listener_state=None)
        self.dispatcher = PEventListenerDispatcher(self.process, "stdout", 0)
        change = self.dispatcher._change_listener_state

        def changed(state: int) -> None:
            if state == EventListenerStates.READY:
                self.outcomes.append(Outcome.READY)
            elif state == EventListenerStates.UNKNOWN:
                self.outcomes.append(Outcome.UNKNOWN)
            change(state)

        handle = self.dispatcher.handle_result

        def handled(result: bytes) -> None:
            self.outcomes.append(Outcome.PROCESSED if result == b"OK" else Outcome.REJECTED)
            handle(result)

        self.dispatcher._change_listener_state = changed
        self.dispatcher.handle_result = handled

    def notify(self, event: Any) -> None:
        # A bad RESULT line: supervisord goes UNKNOWN, then rejects; initsup says both in
        # the other order, REJECTED then UNKNOWN.
        if isinstance(event, EventRejectedEvent) and self.outcomes[-1:] == [Outcome.UNKNOWN]:
            self.outcomes[-1:] = [Outcome.REJECTED, Outcome.UNKNOWN]

    def sent(self) -> None:
        self.process.listener_state = EventListenerStates.BUSY

    def feed(self, data: bytes) -> None:
        self.dispatcher.state_buffer += data
        try:
            self.dispatcher.handle_listener_state_change()
        except RecursionError:  # supervisord on RESULT -1: it loops until the stack ends
            self.broken = True

    def settled(self) -> list[Outcome]:
        """The outcomes once the listener writes again.  supervisord judges a `RESULT 0`
        only when more bytes come (its body is complete at once, but it looks again only
        on new data); initsup judges it at once.  The outcome is the same: rejected."""
        if self.dispatcher.resultlen == 0 and not self.broken:
            return [*self.outcomes, Outcome.REJECTED]
        return self.outcomes

    @property
    def within_bounds(self) -> bool:
        """supervisord takes any length; initsup refuses negative and huge ones."""
        length = self.dispatcher.resultlen
        return not self.broken and (length is None or 0 <= length <= MAX_RESULT_BODY)


@example(b"READY\nRESULT 0\n", [], [])  # supervisord judges it only on more data
@given(_STREAMS, st.lists(st.integers(0, 64), max_size=6), st.lists(st.booleans(), max_size=8))
def test_any_output_as_supervisord_says_and_never_raises(
    stream: bytes, cuts: list[int], send: list[bool]
) -> None:
    warnings: list[str] = []
    protocol = ListenerProtocol(NAME, warnings.append)
    reference = _Supervisord()
    outcomes: list[Outcome] = []
    comparable = True
    saved = dispatchers.notify
    dispatchers.notify = reference.notify
    try:
        # A listener that said READY waits for its event: a read ends there, mostly.
        ready = [i + 6 for i in range(len(stream)) if stream.startswith(b"READY\n", i)]
        for i, chunk in enumerate(_cut(stream, cuts + ready)):
            if protocol.state is ListenerState.READY and (send[i : i + 1] or [True])[0]:
                protocol.sent()
                reference.sent()
            outcomes += protocol.feed(chunk)
            if comparable:
                reference.feed(chunk)
                comparable = reference.within_bounds
    finally:
        dispatchers.notify = saved
    if Outcome.UNKNOWN in outcomes:
        assert outcomes.index(Outcome.UNKNOWN) == len(outcomes) - 1  # then silence
        assert protocol.state is ListenerState.UNKNOWN
    assert all(w == UNKNOWN_LINE or w.startswith(f"{NAME}: bad result line: '") for w in warnings)
    event(f"{min(len(outcomes), 5)}+ outcomes" if comparable else "past initsup's bounds")
    if comparable:
        assert outcomes == reference.settled()
        bad = [w for w in reference.warnings if "bad result line" in w or "UNKNOWN" in w]
        assert warnings == bad
