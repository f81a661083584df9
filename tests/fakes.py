"""Fakes for unit tests of the state machine: a clock that only moves when told, and a host.

`FakeHost` implements the `Host` protocol of `initsup.process` without touching the OS:
timers live on a `FakeClock` and run only from `advance()`, spawns hand out increasing
fake pids (or raise scripted `SpawnFailed`s), and every signal, event, log line and state
change is recorded for the test to compare with what supervisord does.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from initsup.events import Event
from initsup.loop import Timer
from initsup.process import SpawnFailed

if TYPE_CHECKING:
    from initsup.process import Process

FIRST_PID = 1000
WALL_OFFSET = 1_700_000_000.0  # the fake wall clock is the monotonic one shifted here
# Deadlines within this of the target time count as due: sums such as 0.99 + 0.01 must
# reach a 1 s deadline whatever the rounding of the float additions.
EPSILON = 1e-9


def exited(code: int) -> int:
    """The wait status of a process that exited with code."""
    return code << 8


def killed(signum: int) -> int:
    """The wait status of a process terminated by signum (no core dump)."""
    return signum


class FakeClock:
    """A monotonic clock that only moves when `advance()` is called."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward without running anything (FakeHost.advance runs timers)."""
        assert seconds >= 0, "time only moves forward"
        self.now += seconds


class FakeHost:
    """A Host for `Process`: records everything, runs timers only from `advance()`."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.shutting_down = False
        self.fail_spawns: list[SpawnFailed] = []  # raised by the next spawns, in order
        self.spawns: list[tuple[str, int | None]] = []  # (name, pid or None when failed)
        self.sent: list[tuple[int, int, bool]] = []  # (pid, signum, to_group)
        self.events: list[Event] = []
        self.logs: list[tuple[str, str]] = []  # (level, message)
        self.log_fields: list[dict[str, Any]] = []  # the keyword fields of each log call
        self.changes: list[str] = []  # state names, one per host.changed() call
        self.ended: list[bool] = []  # process.ended_for_good at each host.changed() call
        self._timers: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._pids = itertools.count(FIRST_PID)

    # -- the Host protocol -------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now

    def wall(self) -> float:
        return WALL_OFFSET + self.clock.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self.clock.now + delay, callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._sequence), timer))
        return timer

    def spawn(self, process: Process) -> int:
        if self.fail_spawns:
            self.spawns.append((process.name, None))
            raise self.fail_spawns.pop(0)
        pid = next(self._pids)
        self.spawns.append((process.name, pid))
        return pid

    def send(self, pid: int, signum: int, to_group: bool) -> None:
        self.sent.append((pid, signum, to_group))

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def log(self, level: str, message: str, **fields: Any) -> None:
        self.logs.append((level, message))
        self.log_fields.append(fields)

    def changed(self, process: Process) -> None:
        self.changes.append(process.state.name)
        self.ended.append(process.ended_for_good)

    # -- driving time ------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock forward, running every due timer at its deadline, in order.

        Timers that callbacks schedule within the window run too, in deadline order
        (ties in scheduling order), as the real loop would over several passes.
        """
        assert seconds >= 0, "time only moves forward"
        target = self.clock.now + seconds
        while True:
            timer = self._next_due(target)
            if timer is None:
                break
            self.clock.now = max(self.clock.now, timer.deadline)
            timer.cancelled = True  # as EventLoop does: a timer runs once
            timer.callback()
        self.clock.now = max(self.clock.now, target)

    def _next_due(self, target: float) -> Timer | None:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)
        if timers and timers[0][0] <= target + EPSILON:
            return heapq.heappop(timers)[2]
        return None

    def pending_timers(self) -> list[float]:
        """Deadlines of the timers that have neither run nor been cancelled."""
        return sorted(d for d, _, t in self._timers if not t.cancelled)

    # -- reading the record ------------------------------------------------------------

    def forget(self) -> None:
        """Clear the record of events, signals, logs and changes (spawns are kept)."""
        self.events.clear()
        self.sent.clear()
        self.logs.clear()
        self.log_fields.clear()
        self.changes.clear()
        self.ended.clear()

    def history(self) -> list[tuple[str, str]]:
        """Every event published so far, as (name, payload)."""
        return [(e.name, e.payload) for e in self.events]

    def take(self) -> list[tuple[str, str]]:
        """The events published since the last take(), as (name, payload)."""
        taken = self.history()
        self.events.clear()
        return taken

    def spawned_pids(self) -> list[int]:
        """The pids of successful spawns, in order."""
        return [pid for _, pid in self.spawns if pid is not None]
