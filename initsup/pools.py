"""Event listener pools at run time: who gets which event, over which pipe, and when.

Each pool buffers the events it subscribed to (listeners.PoolBuffer) and hands the oldest
to the first of its processes that is RUNNING and has said READY, one event at a time per
listener.  A listener's stdin is a pipe initsup writes events into (non-blocking); its
stdout is read as the protocol (listeners.ListenerProtocol), never logged; its stderr is
logged like any program's.  A listener that rejects an event, or dies while busy with it,
gets the same event back (same serials) once it, or its successor, is READY again.

TICK_* timers run only while some pool subscribes to them, on wall-clock boundaries.
"""

from __future__ import annotations

import itertools
import os
import time

from initsup import events
from initsup.listeners import Envelope, ListenerProtocol, ListenerState, Outcome, PoolBuffer
from initsup.loop import Timer, do_nothing
from initsup.model import GroupConfig
from initsup.output import OutputWriter, PipeRelay
from initsup.process import Process
from initsup.states import ProcessState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.logs import Logger
    from initsup.loop import EventLoop
    from initsup.waits import Waits

TICK_PERIODS = (5, 60, 3600)


class _Listener:
    """One running listener process: its protocol state, stdin, and the event it holds."""

    def __init__(
        self, process: Process, protocol: ListenerProtocol, stdin: OutputWriter, stdin_fd: int
    ) -> None:
        self.process = process
        self.protocol = protocol
        self.stdin = stdin
        self.stdin_fd = stdin_fd
        self.current: Envelope | None = None


class Pools:
    """Every listener pool of one supervisor.

    It hears of events on the bus, of state changes through waits, and asks
    identifier() for the server name each event carries (the configuration's, which a
    reload may change); it never needs the supervisor itself."""

    def __init__(
        self,
        loop: EventLoop,
        bus: events.EventBus,
        waits: Waits,
        logger: Logger,
        identifier: Callable[[], str],
    ) -> None:
        self._loop = loop
        self._bus = bus
        self._logger = logger
        self._identifier = identifier
        self.buffers: dict[str, PoolBuffer] = {}
        self._serials = itertools.count()  # one global serial across pools, as supervisord
        self._listeners: dict[int, _Listener] = {}  # by pid
        self._dispatch_pending: set[str] = set()
        self._tick_timer: Timer | None = None
        self._last_tick: dict[int, int] = {}
        # At shutdown: (pools, callback) waiting for those pools to have nothing left to hand
        # a listener, and the timer that gives up on them.
        self._hearing: list[tuple[set[str], Callable[[], None], Timer]] = []
        bus.subscribe(self._publish)
        waits.watch(self._changed)

    # -- pools -----------------------------------------------------------------------

    def add(self, group: GroupConfig) -> None:
        """Create the pool of a listener group (before its GROUP_ADDED is published)."""
        assert group.listener is not None
        self.buffers[group.name] = PoolBuffer(
            group.name,
            group.listener.events,
            group.listener.buffer_size,
            self._serials,
            self._logger.error,
        )
        self._arm_ticks()

    def remove(self, name: str) -> None:
        """Forget a pool (its processes are stopped already)."""
        self.buffers.pop(name, None)
        self._arm_ticks()

    def is_listener(self, process: Process) -> bool:
        """Whether process belongs to a pool."""
        return process.group in self.buffers

    # -- events in -----------------------------------------------------------------------

    def _publish(self, event: events.Event) -> None:
        for name, buffer in self.buffers.items():
            if buffer.wants(event):
                buffer.accept(event)
                self._dispatch_soon(name)

    def _dispatch_soon(self, pool: str) -> None:
        # Dispatch after the current step: an event published in the middle of a state
        # change must not reach a listener before the change is complete.
        if pool not in self._dispatch_pending:
            self._dispatch_pending.add(pool)
            self._loop.call_later(0, lambda: self._dispatch(pool))

    def _dispatch(self, pool: str) -> None:
        self._dispatch_pending.discard(pool)
        buffer = self.buffers.get(pool)
        if buffer is None:
            return
        while buffer.waiting:
            listener = self._ready_listener(pool)
            if listener is None:
                return
            envelope = buffer.waiting.popleft()
            listener.current = envelope
            listener.protocol.sent()
            text = envelope.text(self._identifier(), pool)
            listener.stdin.write(text.encode("utf-8", "surrogateescape"))

    def _ready_listener(self, pool: str) -> _Listener | None:
        """The first listener of the pool, in pool order, RUNNING and READY (supervisord)."""
        candidates = [
            listener
            for listener in self._listeners.values()
            if listener.process.group == pool
            and listener.process.state == ProcessState.RUNNING
            and listener.protocol.state == ListenerState.READY
            and not listener.stdin.broken
        ]
        candidates.sort(
            key=lambda listener: (listener.process.config.priority, listener.process.name)
        )
        return candidates[0] if candidates else None

    def _changed(self, process: Process) -> None:
        if process.state == ProcessState.RUNNING and self.is_listener(process):
            self._dispatch_soon(process.group)

    # -- listener processes --------------------------------------------------------------

    def attach(self, process: Process, pid: int, stdin_fd: int, stdout_fd: int) -> None:
        """A listener was spawned: speak the protocol over its pipes."""
        warn = self._logger.warning
        protocol = ListenerProtocol(process.name, warn)
        stdin = OutputWriter(self._loop, stdin_fd)
        listener = _Listener(process, protocol, stdin, stdin_fd)
        self._listeners[pid] = listener

        def on_output(data: bytes) -> None:
            for outcome in protocol.feed(data):
                self._outcome(listener, outcome)

        PipeRelay(self._loop, stdout_fd, None, on_output, do_nothing)

    def _outcome(self, listener: _Listener, outcome: Outcome) -> None:
        pool = listener.process.group
        if outcome == Outcome.READY:
            self._dispatch_soon(pool)
        elif outcome == Outcome.PROCESSED:
            listener.current = None
            self._heard_yet()
        elif outcome == Outcome.REJECTED:
            self._logger.warning(f"{listener.process.name}: event was rejected")
            self._give_back(listener)

    def _give_back(self, listener: _Listener) -> None:
        envelope, listener.current = listener.current, None
        buffer = self.buffers.get(listener.process.group)
        if envelope is not None and buffer is not None:
            buffer.rejected(envelope)
            self._dispatch_soon(listener.process.group)

    def exited(self, pid: int) -> None:
        """A listener process ended: an event it was busy with goes back to its pool."""
        listener = self._listeners.pop(pid, None)
        if listener is None:
            return
        self._give_back(listener)
        listener.stdin.abandon()  # whatever was queued was for the dead process
        try:
            os.close(listener.stdin_fd)
        except OSError:
            pass
        self._heard_yet()

    # -- at shutdown ---------------------------------------------------------------------

    def when_heard(self, pools: set[str], grace: float, callback: Callable[[], None]) -> None:
        """callback() once these pools' listeners have taken and processed every event
        waiting for them (the shutdown's own STOPPING and STOPPED among them), or after
        grace seconds, whichever comes first; at once when nothing is waiting."""
        if not self._busy(pools):
            callback()
            return
        timer = self._loop.call_later(grace, lambda: self._stop_hearing(callback))
        self._hearing.append((pools, callback, timer))

    def _busy(self, pools: set[str]) -> bool:
        """Whether a live listener of these pools holds an event, or could take one."""
        for listener in self._listeners.values():
            if listener.process.group not in pools or listener.stdin.broken:
                continue
            if listener.process.state not in (ProcessState.RUNNING, ProcessState.STARTING):
                continue
            buffer = self.buffers.get(listener.process.group)
            if listener.current is not None or (buffer is not None and buffer.waiting):
                return True
        return False

    def _heard_yet(self) -> None:
        for pools, callback, _timer in list(self._hearing):
            if not self._busy(pools):
                self._stop_hearing(callback)

    def _stop_hearing(self, callback: Callable[[], None]) -> None:
        for entry in self._hearing:
            if entry[1] is callback:
                self._hearing.remove(entry)
                entry[2].cancel()
                # From the next pass: this may be the middle of a reap or a protocol read.
                self._loop.call_later(0, callback)
                return

    # -- ticks ---------------------------------------------------------------------------

    def _wanted_ticks(self) -> list[int]:
        return [
            period
            for period in TICK_PERIODS
            if any(buffer.wants_type(f"TICK_{period}") for buffer in self.buffers.values())
        ]

    def _arm_ticks(self) -> None:
        if self._tick_timer is not None:
            self._tick_timer.cancel()
            self._tick_timer = None
        periods = self._wanted_ticks()
        if not periods:
            return
        now = time.time()
        for period in periods:
            self._last_tick.setdefault(period, int(now // period) * period)
        delay = min((int(now // p) + 1) * p - now for p in periods)
        self._tick_timer = self._loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._tick_timer = None
        now = time.time()
        for period in self._wanted_ticks():  # 5 before 60 before 3600, as supervisord
            when = int(now // period) * period
            if when > self._last_tick.get(period, 0):
                self._last_tick[period] = when
                self._bus.publish(events.tick(period, when))
        self._arm_ticks()
