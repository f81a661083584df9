"""From the event bus to each notifier: which events alert, the Alert's facts, throttling.

Alerts subscribes to the bus as any other reader of events does.  For each notifier it
keeps what that notifier asked for (events=, with supervisord's supertypes; programs=;
expected=): an EXITED alerts only when the exit was unexpected, unless expected=true.
The Alert is made from the event and from what the supervisor knows of the program at
that moment (its state, restarts, last exit and core dump, its stderr's last lines), then
passes the notifier's Throttle (alarm_interval) and Batcher (batch) to its Outbox.  A
program's recovery (RUNNING again, HEALTHY, READY) is handed to formats that end alerts
(Alertmanager's endsAt), throttled never.  At shutdown `flush` lets the last alerts go
out (the essential program's end, above all) within a bounded wait.
"""

from __future__ import annotations

from initsup import events
from initsup.alerts import alert as facts
from initsup.alerts import formats
from initsup.alerts.courier import OVERSTAY
from initsup.alerts.outbox import Outbox, publish_soon
from initsup.alerts.parts import TAIL_CHARS
from initsup.alerts.throttle import Batcher, Throttle
from initsup.feeds import key
from initsup.signals import signal_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Protocol

    from initsup.alerts.alert import Alert
    from initsup.alerts.outbox import Host as OutboxHost
    from initsup.feeds import OutputFeeds
    from initsup.loop import Timer
    from initsup.model_notify import NotifierConfig
    from initsup.process import Process

    class Host(OutboxHost, Protocol):
        """What the hub reads from the supervisor."""

        bus: events.EventBus
        output: OutputFeeds
        processes: dict[str, Process]

        def wall(self) -> float: ...


RECOVERIES = frozenset({"PROCESS_STATE_RUNNING", "PROCESS_HEALTHY", "PROCESS_READY"})
REFRESH = 60.0  # seconds between re-sends of alerts still firing (Alertmanager's)
MOST_FLUSH = 10.0  # seconds a shutdown waits for the last alerts at most
REAP_WAIT = 1.0  # then seconds it waits for the couriers it killed to be reaped
TAIL_BYTES = 16384  # of recent stderr looked at for its last lines


class Alerts:
    """Every notifier of a configuration, fed from the bus."""

    def __init__(
        self, host: Host, notifiers: list[NotifierConfig], environ: Mapping[str, str]
    ) -> None:
        self.host = host
        self._environ = environ
        self._pod = facts.pod(environ)
        self._hostname = facts.hostname()
        self.notifiers: list[_Notifier] = []
        self._retired: list[_Notifier] = []  # replaced by a reload, still sending
        self._flush_timer: Timer | None = None
        self._flushed: Callable[[], None] | None = None
        self.configure(notifiers)
        host.bus.subscribe(self._on_event)

    def configure(self, notifiers: list[NotifierConfig]) -> None:
        """Take a reload's notifiers: unchanged ones keep their intervals and queues;
        changed and removed ones hear no more events and finish what they hold."""
        running = {n.config.name: n for n in self.notifiers}
        self._retired = [n for n in self._retired if not n.outbox.idle]
        self.notifiers = []
        for config in notifiers:
            old = running.pop(config.name, None)
            if old is not None and old.config == config:
                self.notifiers.append(old)
                continue
            if old is not None:
                running[config.name] = old  # retired below
            if config.url:  # a kubernetes notifier outside a pod sends nothing
                made = formats.make(config, self._environ)
                self.notifiers.append(_Notifier(self, config, made))
        for old in running.values():
            old.flush()
            self._retired.append(old)

    def _on_event(self, event: events.Event) -> None:
        for notifier in self.notifiers:
            try:
                notifier.consider(event)
            except Exception as exc:  # never into the bus: the publisher is mid-transition
                self.host.loop.on_error(f"alerts of {notifier.config.name}", exc)

    def make(self, event: events.Event, stderr_lines: int) -> Alert:
        """The Alert for event: its fields, and the program's facts now."""
        fields = event.fields
        program, group = str(fields.get("program", "")), str(fields.get("group", ""))
        process = self.host.processes.get(f"{group}:{program}")
        exit_code, signal = fields.get("exit_code"), fields.get("signal")
        core_dumped = bool(fields.get("core_dumped", False))
        if exit_code is None and process is not None and process.exit_code is not None:
            exit_code = process.exit_code  # FATAL, ESSENTIAL_EXIT: the last end's
            signal = signal_name(process.last_signal) if process.last_signal else None
            core_dumped = process.last_core_dumped
        expected = fields.get("expected")
        return facts.Alert(
            event.name,
            program,
            group,
            time=self.host.wall(),
            state=process.state.name if process is not None else str(fields.get("state", "")),
            from_state=fields.get("from_state"),
            pid=fields.get("pid") or None,
            exit_code=exit_code,
            signal=signal,
            core_dumped=core_dumped,
            expected=expected if isinstance(expected, bool) else None,
            restarts=process.restarts if process is not None else 0,
            restarting=_restarting(event.name, process),
            stderr_tail=self._tail(process, stderr_lines),
            message=str(fields.get("message", "")),
            detail=str(fields.get("detail", "")),
            host=self._hostname,
            pod_fields=self._pod,
        )

    def _tail(self, process: Process | None, lines: int) -> str:
        if process is None or lines <= 0:
            return ""
        stream = "stdout" if process.config.redirect_stderr else "stderr"
        recent = self.host.output.recent(key(process.group, process.name, stream))
        text = recent[-TAIL_BYTES:].decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])[-TAIL_CHARS:]

    # -- shutdown ----------------------------------------------------------------------

    def flush(self, done: Callable[[], None]) -> None:
        """Send what throttles and batches hold, wait (MOST_FLUSH s at most) for every
        outbox to empty, then done()."""
        every = self.notifiers + self._retired
        for notifier in every:
            notifier.flush()
        self._flushed = done
        wait = min(MOST_FLUSH, max((n.config.timeout + OVERSTAY for n in every), default=0))
        self._flush_timer = self.host.loop.call_later(wait, self._give_up_flush)
        self.idle_now()

    def idle_now(self) -> None:
        """An outbox emptied: when all have and a flush waits, it is over."""
        every = self.notifiers + self._retired
        if self._flushed is not None and all(n.outbox.idle for n in every):
            self._end_flush()

    def _give_up_flush(self) -> None:
        """Past the wait: kill the couriers still sending, and end once they are reaped
        (at most REAP_WAIT s more), so that initsup leaves no child of its own behind."""
        self._flush_timer = None
        left = [0]

        def reaped() -> None:
            left[0] -= 1
            if left[0] == 0:
                self._end_flush()

        for notifier in self.notifiers + self._retired:
            left[0] += notifier.close("initsup is exiting", reaped)
        if left[0] == 0:
            self._end_flush()
        else:
            self._flush_timer = self.host.loop.call_later(REAP_WAIT, self._end_flush)

    def _end_flush(self) -> None:
        done, self._flushed = self._flushed, None
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if done is not None:  # after the records already on their way (publish_soon)
            self.host.loop.call_later(0, done)

    def close(self, why: str = "initsup is exiting") -> None:
        """Kill couriers under way and drop what waits (each said in a record)."""
        for notifier in self.notifiers + self._retired:
            notifier.close(why)


class _Notifier:
    """One notifier: what it wants, its throttle, batcher, format and outbox."""

    def __init__(self, hub: Alerts, config: NotifierConfig, fmt: formats.Format) -> None:
        host = hub.host
        self._hub = hub
        self.config = config
        self._format = fmt
        self.outbox = Outbox(config, fmt, host)
        self.outbox.on_idle = hub.idle_now
        self._batcher = Batcher(host.loop, config.batch if fmt.batches else 0, self._send)
        self._throttle = Throttle(host.loop, config.alarm_interval, self._batcher.offer, self._held)
        self._wanted: dict[str, bool] = {}  # event name -> whether events= covers it
        self._refresh: Timer | None = None

    def consider(self, event: events.Event) -> None:
        name = event.name
        wanted = self._wanted.get(name)
        if wanted is None:
            wanted = any(events.is_a(name, kind) for kind in self.config.events)
            self._wanted[name] = wanted
        ends = name in RECOVERIES and self._format.resolves  # a recovery that may end alerts
        if not (wanted or ends) or not self._covers(event.fields):
            return
        if ends:
            recovery = self._hub.make(event, 0)
            recovery.firing = False
            self._put(self._format.resolved(recovery), recovery)
        if wanted and (name != "PROCESS_STATE_EXITED" or self._unexpected(event)):
            self._throttle.offer(self._hub.make(event, self.config.stderr_lines))

    def _covers(self, fields: dict[str, Any]) -> bool:
        programs = self.config.programs
        return not programs or bool({fields.get("program"), fields.get("group")} & programs)

    def _unexpected(self, event: events.Event) -> bool:
        return self.config.expected or not event.fields.get("expected", False)

    def _held(self, alert: Alert, count: int) -> None:
        about = {"alert": alert.event, "program": alert.program, "group": alert.group}
        message = (
            f"alert {alert.event} for {alert.program} held back by alarm_interval"
            f" ({self.config.name}: {count} so far)"
        )
        fields: dict[str, Any] = {"notifier": self.config.name, "type": self.config.kind, **about}
        fields.update(suppressed=count, message=message)
        publish_soon(self._hub.host, events.Event("ALERT_SUPPRESSED", "", fields))

    def _send(self, alerts: list[Alert]) -> None:
        self._put(self._format.jobs(alerts), *alerts)
        if self._refresh is None and hasattr(self._format, "refresh"):
            self._refresh = self._hub.host.loop.call_later(REFRESH, self._refreshed)

    def _put(self, jobs: list[formats.Job], *alerts: Alert) -> None:
        if not jobs:
            return
        first = alerts[0]
        about: dict[str, Any] = {"alert": first.event, "program": first.program}
        about["group"] = first.group
        if len(alerts) > 1:
            about["count"] = len(alerts)
            about["programs"] = sorted({a.program for a in alerts})
        if first.suppressed:
            about["suppressed"] = first.suppressed
        self.outbox.put(jobs, about)

    def _refreshed(self) -> None:
        self._refresh = None
        jobs = self._format.refresh()  # type: ignore[attr-defined]
        if jobs:
            about = {"alert": "REFRESH", "program": "", "group": ""}
            self.outbox.put(jobs, about)
            self._refresh = self._hub.host.loop.call_later(REFRESH, self._refreshed)

    def flush(self) -> None:
        self._throttle.flush()
        self._batcher.flush()
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None

    def close(self, why: str, reaped: Callable[[], None] | None = None) -> bool:
        self.flush()
        return self.outbox.close(why, reaped)


def _restarting(name: str, process: Process | None) -> bool | None:
    """After an exit, whether a restart is coming (autorestart said yes, no limit hit)."""
    if name != "PROCESS_STATE_EXITED" or process is None:
        return None
    return not process.ended_for_good
