"""Alertmanager's v2 API: firing alerts POSTed to <url>/api/v2/alerts, resolved with endsAt.

Alertmanager knows an alert by its label set, so every alert of one program and one kind
(alertname) has the same labels from its first send to its resolution: `alertname`,
`program`, `group`, `severity`, `instance` (the host), `pod`/`namespace`/`node` when the
Downward API says, and the notifier's labels= (which may replace any of these).  What
changes from one crash to the next goes in the annotations (`summary`, `description`).

The format remembers which alerts fire, per program, so that a recovery can end them:
`resolved(alert)` for PROCESS_STATE_RUNNING ends the program's state alerts (EXITED,
FATAL, BACKOFF...), PROCESS_HEALTHY its PROCESS_UNHEALTHY alert and PROCESS_READY its
PROCESS_NOT_READY alert, each re-sent with `endsAt` = now and then forgotten.

Alertmanager resolves an alert that carries no endsAt by itself once resolve_timeout (5
minutes by default) passes without the alert being sent again.  So `refresh()` re-sends
every alert still firing, unchanged, and the outbox calls it every REFRESH seconds while
anything fires: a program that stays FATAL stays an alert.  An alert nothing can end
(ESSENTIAL_EXIT, or a good event asked for in events=) is sent once and left to
resolve_timeout, as is everything once initsup itself has ended.
"""

from __future__ import annotations

from initsup.alerts.parts import (
    Format,
    camel,
    clean,
    details,
    dumps,
    http_job,
    rfc3339_micro,
    summary,
    tail,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from initsup.alerts.alert import Alert
    from initsup.alerts.parts import Job
    from initsup.model_notify import NotifierConfig

REFRESH = 60.0  # seconds between refresh() calls while an alert fires (< resolve_timeout)
ALERT_NAMES = {
    "PROCESS_STATE_EXITED": "InitsupProgramExited",
    "PROCESS_STATE_FATAL": "InitsupProgramFatal",
    "PROCESS_UNHEALTHY": "InitsupProgramUnhealthy",
    "ESSENTIAL_EXIT": "InitsupEssentialExit",
}
CRITICAL = frozenset({"PROCESS_STATE_FATAL", "ESSENTIAL_EXIT"})  # else severity=warning
# A recovery event, and which firing alerts of its program it ends.
RECOVERIES: dict[str, Callable[[str], bool]] = {
    "PROCESS_STATE_RUNNING": lambda event: (
        event.startswith("PROCESS_STATE_") and event != "PROCESS_STATE_RUNNING"
    ),
    "PROCESS_HEALTHY": lambda event: event == "PROCESS_UNHEALTHY",
    "PROCESS_READY": lambda event: event == "PROCESS_NOT_READY",
}
_POD_LABELS = {"name": "pod", "namespace": "namespace", "node": "node"}


def alertname(event: str) -> str:
    """The alert's name: InitsupProgramExited..., else "Initsup" + the event in CamelCase."""
    return ALERT_NAMES.get(event) or "Initsup" + camel(event)


def endable(event: str) -> bool:
    """Whether some recovery ends an alert of this event (then it is kept and refreshed)."""
    return any(ends(event) for ends in RECOVERIES.values())


class Alertmanager(Format):
    """Postable alerts for Alertmanager's v2 API, and the alerts that still fire."""

    batches = True
    resolves = True

    def __init__(
        self, notifier: NotifierConfig, environ: Mapping[str, str], wall: Callable[[], float]
    ) -> None:
        super().__init__(notifier, environ, wall)
        self.url = self.notifier.url.rstrip("/") + "/api/v2/alerts"
        # (group, program, event) -> the alert as posted, with "startsAt" kept as a time
        self.firing: dict[tuple[str, str, str], dict[str, Any]] = {}

    def jobs(self, alerts: list[Alert]) -> list[Job]:
        posted = []
        for alert in alerts:
            key = (alert.group, alert.program, alert.event)
            earlier = self.firing.get(key)
            fields = {
                "labels": self.labels(alert),
                "annotations": describe(alert, self.notifier.stderr_lines),
                "start": earlier["start"] if earlier else alert.time,  # one alert, one startsAt
            }
            if endable(alert.event):
                self.firing[key] = fields
            posted.append(_postable(fields))
        return [self._post(posted)] if posted else []

    def resolved(self, alert: Alert) -> list[Job]:
        ends = RECOVERIES.get(alert.event)
        if ends is None:
            return []
        keys = [
            key for key in self.firing if key[:2] == (alert.group, alert.program) and ends(key[2])
        ]
        now = self.wall()
        posted = []
        for key in keys:
            fields = self.firing.pop(key)
            # endsAt never before startsAt, which Alertmanager refuses
            posted.append({**_postable(fields), "endsAt": rfc3339_micro(max(now, fields["start"]))})
        return [self._post(posted)] if posted else []

    def refresh(self) -> list[Job]:
        """Every alert still firing, sent again as it was, so that Alertmanager does not
        resolve it after resolve_timeout; [] when none fires.  Call every REFRESH s."""
        posted = [_postable(fields) for fields in self.firing.values()]
        return [self._post(posted)] if posted else []

    def labels(self, alert: Alert) -> dict[str, str]:
        """The alert's identity: the same for every alert of one program and one kind."""
        labels = {
            "alertname": alertname(alert.event),
            "program": clean(alert.program),
            "group": clean(alert.group),
            "severity": "critical" if alert.event in CRITICAL else "warning",
            "instance": clean(alert.hostname),
        }
        for key, label in _POD_LABELS.items():
            labels[label] = clean(alert.pod.get(key) or "")
        labels.update(self.notifier.labels)
        return {name: value for name, value in labels.items() if value}

    def _post(self, posted: list[dict[str, Any]]) -> Job:
        return http_job(self.notifier, "POST", self.url, dumps(posted))


def _postable(fields: dict[str, Any]) -> dict[str, Any]:
    """A remembered alert as Alertmanager takes it (startsAt from the kept time)."""
    return {
        "labels": fields["labels"],
        "annotations": fields["annotations"],
        "startsAt": rfc3339_micro(fields["start"]),
    }


def describe(alert: Alert, stderr_lines: int) -> dict[str, str]:
    """What changes from one alert to the next: a summary line, the facts, stderr's tail."""
    description = "\n".join(details(alert))
    stderr = tail(alert, stderr_lines)
    if stderr:
        description += "\n\nLast lines of stderr:\n" + stderr
    return {"summary": summary(alert), "description": description}
