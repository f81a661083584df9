"""Fewer, better alerts: meetbill/supervise's alarm_interval, and crashmailbatch's batches.

Throttle: per program and event, the first alert in an interval goes out at once; later
ones in the interval are counted (and said, as ALERT_SUPPRESSED records) and held; when
the interval ends with a count, the latest held alert goes out carrying it as
`suppressed`, and opens the next interval.  A program crashing in a loop therefore costs
one message per interval, each saying how many crashes it stands for; one crash costs one
message.  Keys are (program, event): a FATAL is never held back behind the EXITEDs that
led to it.

Batcher: alerts collected for `batch` seconds from the first (or until MAX_BATCH of
them), then sent as one.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.alerts.alert import Alert
    from initsup.loop import EventLoop, Timer

MAX_BATCH = 100  # alerts in one send at most: a message stays readable and bounded


class _Window:
    __slots__ = ("held", "suppressed", "timer")

    def __init__(self, timer: Timer) -> None:
        self.timer = timer
        self.suppressed = 0
        self.held: Alert | None = None  # the latest alert counted, sent at the end


class Throttle:
    """alarm_interval for one notifier; interval 0 passes every alert straight on."""

    def __init__(
        self,
        loop: EventLoop,
        interval: float,
        send: Callable[[Alert], None],
        held: Callable[[Alert, int], None],
    ) -> None:
        self._loop = loop
        self._interval = interval
        self._send = send
        self._held = held  # held(alert, count so far): an alert counted, not sent
        self._windows: dict[tuple[str, str], _Window] = {}

    def offer(self, alert: Alert) -> None:
        if self._interval <= 0:
            self._send(alert)
            return
        key = (f"{alert.group}:{alert.program}", alert.event)
        window = self._windows.get(key)
        if window is None:
            self._open(key)
            self._send(alert)
            return
        window.suppressed += 1
        window.held = alert
        self._held(alert, window.suppressed)

    def _open(self, key: tuple[str, str]) -> None:
        timer = self._loop.call_later(self._interval, lambda: self._close(key))
        self._windows[key] = _Window(timer)

    def _close(self, key: tuple[str, str]) -> None:
        window = self._windows.pop(key, None)
        if window is None or window.held is None:
            return
        self._open(key)  # the summary is this interval's one alert
        window.held.suppressed = window.suppressed
        self._send(window.held)

    def flush(self) -> None:
        """Send every count still held (initsup is exiting) and forget the intervals."""
        windows, self._windows = self._windows, {}
        for window in windows.values():
            window.timer.cancel()
            if window.held is not None:
                window.held.suppressed = window.suppressed
                self._send(window.held)


class Batcher:
    """Alerts collected for `seconds` from the first, then sent as one; 0: each alone."""

    def __init__(
        self, loop: EventLoop, seconds: float, send: Callable[[list[Alert]], None]
    ) -> None:
        self._loop = loop
        self._seconds = seconds
        self._send = send
        self._batch: list[Alert] = []
        self._timer: Timer | None = None

    def offer(self, alert: Alert) -> None:
        if self._seconds <= 0:
            self._send([alert])
            return
        self._batch.append(alert)
        if len(self._batch) >= MAX_BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(self._seconds, self.flush)

    def flush(self) -> None:
        """Send what is collected now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        if batch:
            self._send(batch)
