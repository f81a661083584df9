"""Kubernetes Events on initsup's pod, so `kubectl describe pod` shows a program's crashes.

The API server, token and CA are found as in-cluster clients find them: the URL the
configuration made of KUBERNETES_SERVICE_HOST/PORT ("" outside a cluster: no jobs), the
service account's `token` (named as token_file, so the courier re-reads it at each send
and a rotated token is picked up), its `ca.crt`, and the namespace from POD_NAMESPACE or
the service account's `namespace` file (read once, here; "default" if unreadable).  The
pod is POD_NAME, else the host's name (a pod's hostname is its name), with POD_UID and
NODE_NAME when the Downward API gives them; CONTAINER_NAME adds the container's fieldPath.

One crash is one Event, and its repeats are one series, as the kubelet counts a
container's BackOffs: the first alert of a (program, reason) POSTs an Event named
`<pod>.<16 hex digits>`, later ones PATCH it (core v1: count, lastTimestamp, message;
events.k8s.io/v1: series.count and series.lastObservedTime, its note being immutable).
Events expire (the API server keeps them about an hour), so a PATCH answered 404
starts the series anew under a new name; a POST answered 409 (the name is taken) is
sent again under a new name.
"""

from __future__ import annotations

import os

from initsup.alerts.alert import hostname, pod
from initsup.alerts.parts import (
    GOOD_EVENTS,
    Format,
    camel,
    clean,
    cut_bytes,
    dumps,
    how,
    http_job,
    last_line,
    rfc3339,
    rfc3339_micro,
    suppressed,
    title,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from initsup.alerts.alert import Alert
    from initsup.alerts.parts import Job
    from initsup.model_notify import NotifierConfig

EVENTS_API = "events.k8s.io/v1"
CONTROLLER = "initsup.dev/initsup"  # reportingController: a qualified name, as required
MESSAGE_BYTES = 1024  # the API server's limit on an Event's message (note), in bytes
MERGE_PATCH = "application/merge-patch+json"
_NAME_BYTES = 253 - 17  # a DNS subdomain's 253, less ".<16 hex digits>"
_ACTIONS = {
    "PROCESS_STATE_FATAL": "GaveUp",
    "ESSENTIAL_EXIT": "StoppingContainer",
    "PROCESS_UNHEALTHY": "HealthCheck",
    "PROCESS_HEALTHY": "HealthCheck",
    "PROCESS_READY": "ReadinessCheck",
    "PROCESS_NOT_READY": "ReadinessCheck",
    "PROCESS_STATE_RUNNING": "Started",
}


def restart_coming(alert: Alert) -> bool:
    """Whether an exit is followed by a restart (the Alert says so; an alert made without
    knowing, say by a test, counts an unexpected exit as one, as autorestart=unexpected)."""
    if alert.event != "PROCESS_STATE_EXITED":
        return False
    return alert.restarting if alert.restarting is not None else alert.expected is not True


def reason(alert: Alert) -> str:
    """BackOff (an exit, a restart coming), Failed, Unhealthy, else the event's CamelCase."""
    if restart_coming(alert):
        return "BackOff"
    if alert.event in ("PROCESS_STATE_FATAL", "ESSENTIAL_EXIT"):
        return "Failed"
    if alert.event == "PROCESS_UNHEALTHY":
        return "Unhealthy"
    return camel(alert.event)[:128]


def action(alert: Alert) -> str:
    """events.k8s.io/v1's action: what initsup does about it ("Restarting", "GaveUp")."""
    if alert.event == "PROCESS_STATE_EXITED":
        return "Restarting" if restart_coming(alert) else "Exited"
    return _ACTIONS.get(alert.event, "StateChange")


def message(alert: Alert) -> str:
    """The Event's message: what happened, how, the restarts, stderr's last line."""
    text = title(alert)
    ended = how(alert)
    if ended:
        text += ": " + ended
    if alert.restarts:
        text += f", restart {alert.restarts}"
    text += suppressed(alert)
    line = last_line(alert)
    if line:
        text += f"; stderr: {line}"
    return cut_bytes(text, MESSAGE_BYTES)


def subdomain(text: str) -> str:
    """`text` as a DNS subdomain (lowercase letters, digits, '-', '.'), for Event names."""
    labels = []
    for label in text.lower().split("."):
        kept = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in label)
        if kept.strip("-"):
            labels.append(kept.strip("-"))
    name = ".".join(labels)[:_NAME_BYTES].rstrip(".-")
    return name or "initsup"


def read_namespace(serviceaccount: str) -> str:
    """The namespace file of the service account, or "default" when it cannot be read.

    Non-blocking (a FIFO there must not hang initsup) and size-capped.
    """
    try:
        fd = os.open(f"{serviceaccount}/namespace", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return "default"
    try:
        data = os.read(fd, 254)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip() or "default"


def path_segment(text: str) -> str:
    """`text` percent-encoded for one segment of a URL path."""
    safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
    return "".join(
        c if c in safe else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
        for c in text
    )


class Series:
    """One (program, reason)'s Event: its name, how often it happened, the latest alert."""

    __slots__ = ("alert", "count", "name")

    def __init__(self, name: str, alert: Alert) -> None:
        self.name = name
        self.count = 1
        self.alert = alert


class Kubernetes(Format):
    """Events on the pod through the API server, each repeat counted on its Event."""

    batches = False

    def __init__(
        self, notifier: NotifierConfig, environ: Mapping[str, str], wall: Callable[[], float]
    ) -> None:
        super().__init__(notifier, environ, wall)
        account = notifier.serviceaccount.rstrip("/") or "/"
        found = pod(environ)
        self.namespace = clean(found["namespace"] or read_namespace(account))
        self.instance = clean(hostname())[:128]  # reportingInstance: at most 128
        self.pod = clean(found["name"] or hostname())
        self.regarding: dict[str, str] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": self.pod,
            "namespace": self.namespace,
        }
        if found["uid"]:
            self.regarding["uid"] = clean(found["uid"])
        if environ.get("CONTAINER_NAME"):
            self.regarding["fieldPath"] = f"spec.containers{{{clean(environ['CONTAINER_NAME'])}}}"
        self.node = clean(found["node"] or "")
        self.events_api = notifier.api == EVENTS_API
        api = "/apis/events.k8s.io/v1" if self.events_api else "/api/v1"
        self.url = (
            f"{notifier.url.rstrip('/')}{api}/namespaces/{path_segment(self.namespace)}/events"
        )
        # the token file, read by the courier at each send; a token= given instead wins
        self.token_file = "" if notifier.token else notifier.token_file or f"{account}/token"
        self.ca_file = notifier.ca_file or f"{account}/ca.crt"
        self.series: dict[tuple[str, str, str], Series] = {}  # (group, program, reason)
        self._serial = 0

    def jobs(self, alerts: list[Alert]) -> list[Job]:
        if not self.notifier.url:
            return []  # not in a cluster
        found = []
        for alert in alerts:
            key = (alert.group, alert.program, reason(alert))
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = Series(self._name(), alert)
                found.append(self._create(series))
            else:
                series.count += 1
                series.alert = alert
                found.append(self._repeat(series))
        return found

    def answered(self, job: Job, reply: dict[str, Any]) -> list[Job]:
        """A PATCH answered 404 (the Event expired): the series anew, under a new name; a
        POST answered 409 (the name is taken): the POST again, under a new name."""
        try:
            status, method, url = reply.get("status"), job.get("method"), str(job.get("url"))
        except AttributeError:
            return []
        if (method, status) not in (("PATCH", 404), ("POST", 409)):
            return []
        name = url.rsplit("/", 1)[-1] if method == "PATCH" else self._posted_name(job)
        for series in self.series.values():
            if series.name == name and name:
                series.name = self._name()
                series.count = 1
                return [self._create(series)]
        return []

    def _posted_name(self, job: Job) -> str:
        """The name in a POST's body (this format's own JSON), or "" if there is none."""
        from initsup.jsoncodec import loads

        try:
            return str(loads(str(job.get("body")))["metadata"]["name"])
        except Exception:  # not a body this format made: nothing to follow up
            return ""

    def _name(self) -> str:
        """A new Event name: the pod's, then 16 hex digits of the time in nanoseconds
        (as the kubelet names its Events) plus a serial, so no two names are alike."""
        self._serial += 1
        stamp = (int(self.wall() * 1e9) + self._serial) % 2**64
        return f"{subdomain(self.pod)}.{stamp:016x}"

    def _create(self, series: Series) -> Job:
        alert = series.alert
        event: dict[str, Any] = {
            "apiVersion": EVENTS_API if self.events_api else "v1",
            "kind": "Event",
            "metadata": {"name": series.name, "namespace": self.namespace},
            "reason": reason(alert),
            "type": "Normal" if alert.event in GOOD_EVENTS else "Warning",
            "reportingInstance": self.instance,
        }
        if self.events_api:
            event["regarding"] = dict(self.regarding)
            event["note"] = message(alert)
            event["action"] = action(alert)
            event["eventTime"] = rfc3339_micro(alert.time)
            event["reportingController"] = CONTROLLER
        else:
            event["involvedObject"] = dict(self.regarding)
            event["message"] = message(alert)
            event["source"] = {"component": "initsup", **({"host": self.node} if self.node else {})}
            event["firstTimestamp"] = event["lastTimestamp"] = rfc3339(alert.time)
            event["count"] = 1
            event["reportingComponent"] = "initsup"
        return self._http("POST", self.url, dumps(event), "application/json")

    def _repeat(self, series: Series) -> Job:
        alert = series.alert
        if self.events_api:
            patch: dict[str, Any] = {
                "series": {"count": series.count, "lastObservedTime": rfc3339_micro(alert.time)}
            }
        else:
            patch = {
                "count": series.count,
                "lastTimestamp": rfc3339(alert.time),
                "message": message(alert),
            }
        return self._http("PATCH", f"{self.url}/{series.name}", dumps(patch), MERGE_PATCH)

    def _http(self, method: str, url: str, body: str, content_type: str) -> Job:
        return http_job(
            self.notifier,
            method,
            url,
            body,
            content_type,
            token_file=self.token_file,
            ca_file=self.ca_file,
        )
