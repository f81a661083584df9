"""Each process's health and readiness, kept from its checks, its sd_notify messages and
its state changes; liveness's action; the JSON records of every change.

One Health per supervisor, made with the first program that has a check, notify= or
dependencies (initsup.supervisor).  It follows every process through `waits` (a watcher
told of each state change) and keeps its Facts (initsup.health.facts):

- a check runs from the loop's timers while the process is alive (STARTING or RUNNING):
  0.05 s after the spawn, then twice as long after each failure until the first pass
  (capped at the interval), then every interval;
- `retries` failures in a row outside the start period make it unhealthy (before its
  first pass, the quick checks' failures count once per interval), a pass makes it
  healthy again; each change is a record and, with on_unhealthy=restart or stop, an
  action (a restart waits as the program's own restarts do: at once, then 1, 2, 4... s
  up to backoff_max, counted afresh after backoff_reset healthy seconds);
- ready: alive, and READY=1 came (notify=true), or its check has passed (else), or it is
  RUNNING (neither); never while unhealthy.  A readiness change is told to `waits` too,
  so that start order (initsup.health.order) and anything else waiting hears of it.
"""

from __future__ import annotations

import os

from initsup import events
from initsup.health.facts import Facts, Result
from initsup.health.order import StartOrder
from initsup.process import backoff
from initsup.states import ProcessState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.children import Children
    from initsup.health.notify import NotifySocket
    from initsup.health.probes import Probe
    from initsup.logs import Logger
    from initsup.loop import EventLoop, Timer
    from initsup.process import Process
    from initsup.reaper import Owners
    from initsup.waits import Waits

    class Host(Protocol):
        """What health needs of the supervisor."""

        processes: dict[str, Process]
        waits: Waits
        loop: EventLoop
        owners: Owners
        children: Children
        logger: Logger

        @property
        def shutting_down(self) -> bool: ...
        def now(self) -> float: ...
        def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...
        def publish(self, event: events.Event) -> None: ...
        def log(self, level: str, message: str, **fields: Any) -> None: ...


ALIVE = frozenset({ProcessState.STARTING, ProcessState.RUNNING})
FIRST_CHECK = 0.05  # seconds after a spawn; doubled after each failure until a pass
STATUS_CHARS = 200  # of sd_notify's STATUS=, shown by ctl status


class _Tracked:
    """What health keeps of one process beyond its Facts."""

    __slots__ = (
        "count_at",
        "delay",
        "notified",
        "passed",
        "probe",
        "restarts",
        "seen",
        "timer",
        "wants",
    )

    def __init__(self) -> None:
        self.seen: ProcessState | None = None  # the state last heard of
        self.probe: Probe | None = None  # made at its first check
        self.timer: Timer | None = None  # the next check, or the restart after on_unhealthy
        self.delay = FIRST_CHECK  # until the next check, while it has not passed yet
        self.count_at = 0.0  # before a first pass, the next failure that counts from here
        self.passed = False  # its check has passed since its start
        self.notified = False  # READY=1 since its start
        self.restarts = 0  # on_unhealthy restarts in a row, for their backoff
        self.wants = ""  # "restart" once on_unhealthy=restart has stopped it


class Health:
    """Facts, checks and notify messages of every process of one supervisor."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._tracked: dict[Process, _Tracked] = {}
        self._notify: NotifySocket | None = None
        self._notify_open = False
        self.order = StartOrder(host)
        host.waits.watch(self.changed)

    def add(self, process: Process) -> None:
        """Keep facts of process from now on (its group was added)."""
        config = process.config
        check = "notify" if config.notify else (config.health.kind if config.health else None)
        process.facts = Facts(check)
        self._tracked[process] = _Tracked()
        if config.notify and not self._notify_open:
            self._notify_open = True
            self._open_notify()
        self.changed(process)

    def forget(self, process: Process) -> None:
        """process's group is removed: its checks stop."""
        tracked = self._tracked.pop(process, None)
        if tracked is not None:
            self._stop_checks(tracked)
        self.order.forget(process)

    def call_off(self, process: Process) -> None:
        """A stop asked by hand: no start of process is pending any more (one waiting
        for its dependencies, or the restart after on_unhealthy)."""
        self.order.forget(process)
        tracked = self._tracked.get(process)
        if tracked is not None and (tracked.wants or process.state == ProcessState.STOPPED):
            tracked.wants = ""
            self._stop_checks(tracked)

    def close(self) -> None:
        for tracked in self._tracked.values():
            self._stop_checks(tracked)
        if self._notify is not None:
            self._notify.close()

    def _open_notify(self) -> None:
        """NOTIFY_SOCKET for notify=true programs, beside the control socket."""
        from initsup.health.notify import NotifySocket

        host = self._host
        control = host.children.child_environment.get("INITSUP_SOCKET")
        path = f"{control}.notify" if control else f"/tmp/initsup-{os.getpid()}.notify"
        try:
            self._notify = NotifySocket(host.loop, path, self._notified, host.logger.log)
        except OSError as exc:
            host.logger.error(f"notify=true programs cannot say READY=1: {path}: {exc}")
            return
        host.children.notify_path = path

    def _probe(self, process: Process) -> Probe:
        """process's check (it has one), its commands started as the program is."""
        from initsup.health import probes

        check = process.config.health
        assert check is not None
        starter = self._host.children.check_starter(process.config)
        return probes.make(check, self._host.loop, self._host.owners, starter)

    # -- state changes ---------------------------------------------------------------

    def changed(self, process: Process) -> None:
        """A watcher of `waits`: process changed state, or its readiness changed."""
        tracked = self._tracked.get(process)
        facts = process.facts
        if tracked is None or facts is None:
            return
        state = process.state
        if state != tracked.seen:
            was, tracked.seen = tracked.seen, state
            facts.reached.add(state.name)
            self._new_state(process, tracked, facts, was)
        self.order.changed()

    def _new_state(
        self, process: Process, tracked: _Tracked, facts: Facts, was: ProcessState | None
    ) -> None:
        state = process.state
        if state == ProcessState.STARTING and was not in ALIVE:
            self._stop_checks(tracked)
            tracked.passed = tracked.notified = False
            tracked.delay = FIRST_CHECK
            facts.healthy = None
            facts.failures = 0
            check = process.config.health
            if check is not None:
                tracked.count_at = self._host.now() + check.interval
                tracked.timer = self._host.call_later(FIRST_CHECK, lambda: self._check(process))
        elif state not in ALIVE:
            self._stop_checks(tracked)
            facts.healthy = None
            facts.last = None  # of a run that is over: ctl status says nothing of it
            facts.status = ""
            if state == ProcessState.STOPPED and tracked.wants == "restart":
                tracked.wants = ""
                self._restart_later(process, tracked)
        self._update_ready(process, tracked, facts)

    def _stop_checks(self, tracked: _Tracked) -> None:
        if tracked.timer is not None:
            tracked.timer.cancel()
            tracked.timer = None
        if tracked.probe is not None and tracked.probe.running:
            tracked.probe.cancel()

    # -- readiness ---------------------------------------------------------------------

    def _update_ready(self, process: Process, tracked: _Tracked, facts: Facts) -> None:
        config = process.config
        if config.notify:
            base = tracked.notified
        elif config.health is not None:
            base = tracked.passed
        else:
            base = process.state == ProcessState.RUNNING
        ready = base and process.state in ALIVE and facts.healthy is not False
        if ready == facts.ready:
            return
        facts.ready = ready
        if ready:
            facts.ever_ready = True
        if facts.check is not None:  # else RUNNING is ready, and its record says so
            self._host.publish(_record(ready, process))
        self._host.waits.changed(process)  # start order, and anything else waiting

    def _notified(self, pid: int, fields: dict[str, str]) -> None:
        """A datagram on NOTIFY_SOCKET from pid (sd_notify)."""
        from initsup.health import notify

        by_pid = {p.pid: p for p in self._tracked if p.config.notify and p.pid > 0}
        sender = notify.sender_of(pid, by_pid)
        process = by_pid.get(sender) if sender is not None else None
        if process is None or process.facts is None:
            self._host.log("debug", f"ignored a notify message from pid {pid}", pid=pid)
            return
        tracked = self._tracked[process]
        if "STATUS" in fields:
            process.facts.status = fields["STATUS"][:STATUS_CHARS]
        if fields.get("READY") == "1":
            tracked.notified = True
        if fields.get("RELOADING") == "1" or fields.get("STOPPING") == "1":
            tracked.notified = False
        self._update_ready(process, tracked, process.facts)

    # -- checks ------------------------------------------------------------------------

    def _check(self, process: Process) -> None:
        tracked = self._tracked.get(process)
        if tracked is None or process.state not in ALIVE:
            return
        tracked.timer = None
        if tracked.probe is None:
            tracked.probe = self._probe(process)
        started = self._host.now()
        tracked.probe.run(lambda result: self._checked(process, result, started))

    def _checked(self, process: Process, result: Result, started: float) -> None:
        tracked = self._tracked.get(process)
        facts = process.facts
        check = process.config.health
        if tracked is None or facts is None or check is None or process.state not in ALIVE:
            return
        facts.last = result
        if result.ok:
            self._passed(process, tracked, facts)
            delay = check.interval
        else:
            self._failed(process, tracked, facts, started)
            delay = check.interval if tracked.passed else tracked.delay
            tracked.delay = min(check.interval, tracked.delay * 2)
        self._update_ready(process, tracked, facts)
        self.order.changed()  # a dependant's words say what its dependency's check said
        if process.state in ALIVE and tracked.timer is None:
            tracked.timer = self._host.call_later(delay, lambda: self._check(process))

    def _passed(self, process: Process, tracked: _Tracked, facts: Facts) -> None:
        tracked.passed = True
        facts.failures = 0
        if facts.healthy is not True:
            facts.healthy = True
            self._host.publish(_check_record("PROCESS_HEALTHY", process, facts))
        if (
            tracked.restarts
            and self._host.now() - process.running_at >= process.config.backoff_reset
        ):
            tracked.restarts = 0

    def _failed(self, process: Process, tracked: _Tracked, facts: Facts, started: float) -> None:
        check = process.config.health
        assert check is not None and facts.last is not None
        if started - process.started_at < check.start_period:
            self._not_counted(process, "in its start period")
            return
        if not tracked.passed:
            # Until a first pass the quick checks look for readiness: their failures
            # count once per interval, as Docker's would, so `retries` failures still
            # take `retries` intervals to make a program unhealthy.
            if started < tracked.count_at:
                self._not_counted(process, "before its first pass")
                return
            tracked.count_at = started + check.interval
        facts.failures += 1
        if facts.failures < check.retries or facts.healthy is False:
            self._host.log(
                "debug",
                f"{process.name}: check failed ({facts.failures}/{check.retries}):"
                f" {facts.last.detail}",
                program=process.name,
            )
            return
        facts.healthy = False
        self._host.publish(_check_record("PROCESS_UNHEALTHY", process, facts))
        self._act(process, tracked)

    def _not_counted(self, process: Process, when: str) -> None:
        last = process.facts.last if process.facts is not None else None
        detail = last.detail if last is not None else ""
        self._host.log(
            "debug", f"{process.name}: check failed {when}: {detail}", program=process.name
        )

    # -- liveness's action ---------------------------------------------------------------

    def _act(self, process: Process, tracked: _Tracked) -> None:
        action = process.config.on_unhealthy
        if action == "none" or self._host.shutting_down:
            return
        self._host.log(
            "warning",
            f"{process.name}: unhealthy: {'restarting' if action == 'restart' else 'stopping'}"
            " it (on_unhealthy)",
            program=process.name,
        )
        if action == "restart":
            tracked.wants = "restart"
        process.stop()

    def _restart_later(self, process: Process, tracked: _Tracked) -> None:
        tracked.restarts += 1
        delay = backoff(tracked.restarts, process.config.backoff_max)

        def restart() -> None:
            tracked.timer = None
            if process.state == ProcessState.STOPPED and not self._host.shutting_down:
                process.start()

        if delay > 0:
            self._host.log(
                "info",
                f"{process.name}: restarting in {delay:g} s (unhealthy {tracked.restarts}"
                " times in a row)",
                program=process.name,
                delay=delay,
            )
        tracked.timer = self._host.call_later(delay, restart)


def _record(ready: bool, process: Process) -> events.Event:
    """PROCESS_READY or PROCESS_NOT_READY, for a program whose readiness is its own fact
    (a check's or notify's): not a supervisord event, so no listener gets it."""
    facts = process.facts
    name = "PROCESS_READY" if ready else "PROCESS_NOT_READY"
    fields: dict[str, Any] = {"program": process.name, "group": process.group}
    if facts is not None:
        fields["check"] = facts.check
        if facts.last is not None and not ready:
            fields["detail"] = facts.last.detail
    word = "ready" if ready else f"not ready ({process.state.name})"
    return events.Event(name, "", {**fields, "message": f"{process.name}: {word}"})


def _check_record(name: str, process: Process, facts: Facts) -> events.Event:
    result = facts.last
    check = process.config.health
    healthy = name == "PROCESS_HEALTHY"
    fields: dict[str, Any] = {
        "program": process.name,
        "group": process.group,
        "check": facts.check,
        "target": check.target() if check is not None else "",
        "result": "healthy" if healthy else "unhealthy",
    }
    detail = ""
    if result is not None:
        detail = result.detail
        fields.update(detail=detail, duration=round(result.duration, 6), output=result.output)
    if healthy:
        message = f"{process.name}: healthy ({detail})"
    else:
        message = f"{process.name}: unhealthy after {facts.failures} failed checks ({detail})"
        fields["failures"] = facts.failures
    fields["message"] = message
    return events.Event(name, "", fields, level="info" if healthy else "warning")
