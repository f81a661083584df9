"""Start order gated on readiness, and the reverse order of stops.

A program with depends_on= (or dependent_startup_wait_for=) that would start by itself
(autostart, or a group added) waits here until what it depends on is there: each
dependency, every process of that program, ready now or done (ended as expected, for
good); or, for the plugin's other states, having reached one of them since it was
added.  Re-checked in the loop pass after any process changes state or readiness, so a
dependant starts within a pass of its dependency becoming ready, never in the middle of
that dependency's own transition.  While it waits, its facts say what for; a dependency
that cannot become ready by itself (FATAL, or stopped with nothing to start it) is said
once, as a warning.

A start asked by hand (`ctl start`, startProcess) does not wait: the operator decides.
"""

from __future__ import annotations

from initsup.health.verdicts import ready
from initsup.model import READY
from initsup.states import ProcessState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.loop import Timer
    from initsup.process import Process

    class Host(Protocol):
        processes: dict[str, Process]

        @property
        def shutting_down(self) -> bool: ...
        def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...
        def log(self, level: str, message: str, **fields: Any) -> None: ...


STUCK = frozenset({ProcessState.FATAL, ProcessState.STOPPED})


class StartOrder:
    """The processes whose start waits for their dependencies."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._pending: list[Process] = []  # in the order their starts were asked
        self._stuck: set[tuple[int, str]] = set()  # (id of a waiter, dependency) said
        self._soon = False

    def request(self, process: Process) -> None:
        """Start process once its dependencies allow (in the next loop pass at the
        soonest: the other groups of a start-up are asked for first)."""
        if process not in self._pending:
            self._pending.append(process)
            self.changed()

    def forget(self, process: Process) -> None:
        if process in self._pending:
            self._pending.remove(process)
            if process.facts is not None:
                process.facts.waiting_for = []

    @property
    def waiting(self) -> list[Process]:
        return list(self._pending)

    def changed(self) -> None:
        """Something changed: look at the waiting starts in the next loop pass."""
        if self._pending and not self._soon:
            self._soon = True
            self._host.call_later(0, self._start_ready)

    def _start_ready(self) -> None:
        self._soon = False
        if self._host.shutting_down:
            self._pending.clear()
            return
        for process in list(self._pending):
            if process not in self._pending:
                continue
            if process.state not in (ProcessState.STOPPED, ProcessState.EXITED):
                self.forget(process)  # started by hand meanwhile
                continue
            waiting = self.unmet(process)
            facts = process.facts
            if waiting and facts is not None and not facts.waiting_for:
                self._host.log(
                    "info",
                    f"{process.name}: waiting for {', '.join(waiting)} before starting",
                    program=process.name,
                )
            if facts is not None:
                facts.waiting_for = waiting
            if waiting:
                continue
            self.forget(process)
            self._host.log(
                "info",
                f"{process.name}: what it depends on is ready: starting",
                program=process.name,
            )
            process.start()

    def unmet(self, process: Process) -> list[str]:
        """What process still waits for, in words: one item per dependency."""
        waiting = []
        for name, wanted in process.config.depends_on.items():
            found = [p for p in self._host.processes.values() if p.config.program == name]
            if not found:
                waiting.append(f"{name} (not loaded)")
                continue
            blocker = next((p for p in found if not _satisfies(p, wanted)), None)
            if blocker is not None:
                words = "not started yet" if blocker in self._pending else _words(blocker, wanted)
                waiting.append(f"{name} ({words})")
                self._say_stuck(process, blocker)
        return waiting

    def _say_stuck(self, process: Process, blocker: Process) -> None:
        key = (id(process), blocker.name)
        if blocker.state not in STUCK or blocker in self._pending or key in self._stuck:
            return
        self._stuck.add(key)
        self._host.log(
            "warning",
            f"{process.name}: waits for {blocker.name}, which is {blocker.state.name} and"
            " will not become ready by itself (start it: initsup ctl start"
            f" {blocker.namespec})",
            program=process.name,
            dependency=blocker.name,
        )

    def depths(self) -> dict[str, int]:
        """How many dependencies deep each program is (0: it depends on nothing): stops
        go deepest first, so that a program stops before what it depends on."""
        programs = {p.config.program: p.config.depends_on for p in self._host.processes.values()}
        found: dict[str, int] = {}

        def level(name: str, trail: frozenset[str]) -> int:
            if name not in found:
                deps = [d for d in programs.get(name, {}) if d in programs and d not in trail]
                found[name] = 1 + max((level(d, trail | {d}) for d in deps), default=-1)
            return found[name]

        for name in programs:
            level(name, frozenset({name}))
        return found


def _satisfies(process: Process, wanted: frozenset[str]) -> bool:
    facts = process.facts
    reached = facts.reached if facts is not None else set()
    return any(ready(process)[0] if w == READY else w in reached for w in wanted)


def _words(process: Process, wanted: frozenset[str]) -> str:
    facts = process.facts
    if READY in wanted and facts is not None and facts.last is not None and not facts.ready:
        return f"{process.state.name}, not ready: {facts.last.detail}"
    if READY in wanted:
        return f"{process.state.name}, not ready"
    return f"{process.state.name}, waiting for {' or '.join(sorted(wanted))}"
