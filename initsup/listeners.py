"""supervisord's event listener protocol, byte for byte, and the buffer of a listener pool.

A listener says `READY\\n` on its stdout; initsup writes one event to its stdin (a header
line, then `len` characters of payload); the listener answers `RESULT <n>\\n` and n bytes,
`OK` or anything else (a rejection), and then `READY\\n` again.  `ListenerProtocol` reads
that stream in whatever pieces it arrives and says what happened; `PoolBuffer` holds a
pool's waiting events with supervisord's serials and overflow rule.  Neither touches the OS:
the supervisor writes, reads and dispatches.

Differences from supervisord, on purpose: a rejected event goes back to the pool of the
listener that rejected it only (supervisord's handle_rejected also re-buffers it into every
pool whose listeners share that priority, a bug recorded in the reference).
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Callable, Iterator

from initsup.events import Event, is_a


class ListenerState(enum.Enum):
    """supervisord's listener states (states.EventListenerStates)."""

    ACKNOWLEDGED = 10
    READY = 20
    BUSY = 30
    UNKNOWN = 40


L = ListenerState
READY_TOKEN = b"READY\n"
# supervisord waits without limit for the end of a RESULT line and for its body; a listener
# that floods while busy would then grow initsup's memory forever.  Results are `OK` or
# `FAIL`: these bounds are far above any real one.
MAX_RESULT_LINE = 1024
MAX_RESULT_BODY = 1 << 20
UNKNOWN_WARNING = (
    "{name}: has entered the UNKNOWN state and will no longer receive events, this usually "
    "indicates the process violated the eventlistener protocol"
)


class Outcome(enum.Enum):
    """What a piece of listener output meant."""

    READY = "ready"  # it wants an event
    PROCESSED = "processed"  # RESULT with body OK
    REJECTED = "rejected"  # RESULT with another body, or a bad RESULT line: re-buffer
    UNKNOWN = "unknown"  # it broke the protocol: no more events for this process


class ListenerProtocol:
    """Parses one listener process's stdout; starts ACKNOWLEDGED, as after a spawn."""

    def __init__(self, name: str, warn: Callable[[str], None]) -> None:
        self.name = name
        self.state = L.ACKNOWLEDGED
        self._warn = warn
        self._pending = b""
        self._body_length: int | None = None  # while BUSY: known once RESULT n was read

    def sent(self) -> None:
        """An event was written to the listener: READY -> BUSY."""
        self.state = L.BUSY
        self._body_length = None

    def feed(self, data: bytes) -> list[Outcome]:
        """Consume output; return what it meant, in order."""
        outcomes: list[Outcome] = []
        self._pending += data
        while self._pending and self.state != L.UNKNOWN:
            step = self._step()
            if step is None:
                break  # waiting for more bytes
            outcomes.extend(step)
        if self.state == L.UNKNOWN:
            self._pending = b""  # nothing a broken listener says matters any more
        return outcomes

    def _step(self) -> list[Outcome] | None:
        if self.state == L.ACKNOWLEDGED:
            if len(self._pending) < len(READY_TOKEN):
                return None  # as supervisord: judged only once 6 bytes are there
            if not self._pending.startswith(READY_TOKEN):
                return self._unknown()
            self._pending = self._pending[len(READY_TOKEN) :]
            self.state = L.READY
            return [Outcome.READY]
        if self.state == L.READY:
            return self._unknown()  # spurious data: nothing may come while READY
        return self._result()

    def _result(self) -> list[Outcome] | None:
        if self._body_length is None:
            line, newline, rest = self._pending.partition(b"\n")
            if not newline:
                if len(self._pending) > MAX_RESULT_LINE:
                    return self._bad_result(self._pending[:MAX_RESULT_LINE])
                return None
            try:
                # As supervisord: the first 7 characters are dropped, not checked.
                self._body_length = int(line[7:])
                if not 0 <= self._body_length <= MAX_RESULT_BODY:
                    raise ValueError(line)
            except ValueError:
                self._body_length = None
                return self._bad_result(line)
            self._pending = rest
        if len(self._pending) < self._body_length:
            return None
        body = self._pending[: self._body_length]
        self._pending = self._pending[self._body_length :]
        self.state = L.ACKNOWLEDGED
        self._body_length = None
        return [Outcome.PROCESSED if body == b"OK" else Outcome.REJECTED]

    def _bad_result(self, line: bytes) -> list[Outcome]:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = f"Undecodable: {line!r}"
        self._warn(f"{self.name}: bad result line: '{text}'")  # supervisord's quoting
        return [Outcome.REJECTED, *self._unknown()]

    def _unknown(self) -> list[Outcome]:
        self.state = L.UNKNOWN
        self._warn(UNKNOWN_WARNING.format(name=self.name))
        return [Outcome.UNKNOWN]


class Envelope:
    """An event as a pool delivers it: with its serials, which a re-delivery keeps."""

    __slots__ = ("event", "poolserial", "serial")

    def __init__(self, event: Event, serial: int, poolserial: int) -> None:
        self.event = event
        self.serial = serial
        self.poolserial = poolserial

    def text(self, server: str, pool: str) -> str:
        """The header line and payload; `len` counts characters, as supervisord does."""
        payload = self.event.payload
        header = (
            f"ver:3.0 server:{server} serial:{self.serial} pool:{pool} "
            f"poolserial:{self.poolserial} eventname:{self.event.name} len:{len(payload)}\n"
        )
        return header + payload


class PoolBuffer:
    """A pool's subscription and its FIFO of waiting events, at most buffer_size long."""

    def __init__(
        self,
        name: str,
        events: frozenset[str],
        buffer_size: int,
        serials: Iterator[int],
        error: Callable[[str], None],
    ) -> None:
        self.name = name
        self.events = events
        self.buffer_size = buffer_size
        self._serials = serials  # shared by every pool: supervisord's global serial
        self._poolserials = itertools.count()
        self._error = error
        self.waiting: deque[Envelope] = deque()
        self.overflowed = 0  # events discarded since start (for /metrics)

    def wants(self, event: Event) -> bool:
        """Whether the pool subscribed to this event's type or one above it."""
        return self.wants_type(event.name)

    def wants_type(self, name: str) -> bool:
        """Whether the pool subscribed to event type name or one above it."""
        return any(is_a(name, kind) for kind in self.events)

    def accept(self, event: Event) -> None:
        """Buffer a new event, dropping the oldest when full (with supervisord's log line).

        An event has one serial in every pool: the first pool to accept it numbers it.
        """
        if event.serial is None:
            event.serial = next(self._serials)
        self._make_room()
        self.waiting.append(Envelope(event, event.serial, next(self._poolserials)))

    def rejected(self, envelope: Envelope) -> None:
        """Put a rejected (or undelivered) event back at the head, serials unchanged.

        A full buffer overflows first, as supervisord's _acceptEvent(head=True) does.
        """
        self._make_room()
        self.waiting.appendleft(envelope)

    def _make_room(self) -> None:
        if len(self.waiting) >= self.buffer_size:
            dropped = self.waiting.popleft()
            self.overflowed += 1
            self._error(
                f"pool {self.name} event buffer overflowed, discarding event {dropped.serial}"
            )


class CommCapture:
    """supervisord's capture mode: what a program writes between the two tokens is an event.

    Tokens may arrive split across reads; captured data is cut at maxbytes (the size of
    supervisord's capture log).  The output itself is logged as usual.
    """

    BEGIN = b"<!--XSUPERVISOR:BEGIN-->"
    END = b"<!--XSUPERVISOR:END-->"

    def __init__(self, maxbytes: int) -> None:
        self.maxbytes = maxbytes
        self.capturing = False
        self._seen = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Consume output; return every completed capture, in order."""
        captured: list[bytes] = []
        self._seen += data
        while True:
            if not self.capturing:
                start = self._seen.find(self.BEGIN)
                if start < 0:
                    self._seen = self._seen[-(len(self.BEGIN) - 1) :]  # a token may be cut
                    return captured
                self._seen = self._seen[start + len(self.BEGIN) :]
                self.capturing = True
            end = self._seen.find(self.END)
            if end < 0:
                # Keep what fits, plus room for a cut END token.
                self._seen = self._seen[: self.maxbytes + len(self.END)]
                return captured
            captured.append(self._seen[:end][: self.maxbytes])
            self._seen = self._seen[end + len(self.END) :]
            self.capturing = False
