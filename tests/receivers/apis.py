"""Stand-ins for the APIs alerts are pushed to: a Kubernetes API server's Events, Alertmanager's v2.

Both check what they get as the real servers would (the Kubernetes objects against the
real schemas, with kubernetes-validate; Alertmanager's postable alerts for shape) and
answer a bad one as the real servers do (422, 400), recording it apart.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
from pathlib import Path
from typing import Any

import kubernetes_validate

from tests.receivers.common import tls_files
from tests.receivers.web import Handler, HttpBase, Request

K8S_VERSION = "1.30"  # the Kubernetes version whose schemas the objects must meet
# /api/v1/namespaces/NS/events[/NAME] and /apis/events.k8s.io/v1/namespaces/NS/events[/NAME]
_EVENT_PATH = re.compile(
    r"^/(?P<prefix>api/v1|apis/events\.k8s\.io/v1)/namespaces/(?P<ns>[^/]+)/events"
    r"(?:/(?P<name>[^/?]+))?/?(?:\?.*)?$"
)
_API_VERSIONS = {"api/v1": "v1", "apis/events.k8s.io/v1": "events.k8s.io/v1"}
_OTHER_NAMESPACE = (
    "the namespace of the provided object does not match the namespace sent on the request"
)
_MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def status(code: int, reason: str, message: str, **details: str) -> dict[str, Any]:
    """A Kubernetes Status object, as the API server answers a failure."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386's JSON merge patch of target (what strategic merge does for an Event's
    fields, which are all scalars and maps)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class KubernetesApi(HttpBase):
    """A Kubernetes API server for Events, over TLS, behind a bearer token (settable:
    `rotate`).  Creates (POST) and patches (PATCH, merge or strategic merge) core v1 and
    events.k8s.io/v1 Events, stored by name in `events`; every object written is
    validated with kubernetes-validate (strict) and an invalid one is answered 422 and
    kept in `invalid` with the reason.  Writes tmp_path/serviceaccount (token, ca.crt,
    namespace) as a pod's service account mount."""

    def __init__(self, tmp_path: Path, namespace: str = "default", token: str = "token-1") -> None:
        cert, key = tls_files(tmp_path / "kubernetes-tls")
        super().__init__(tls=(cert, key), token=token)
        self.namespace = namespace
        self.serviceaccount = tmp_path / "serviceaccount"
        self.serviceaccount.mkdir()
        (self.serviceaccount / "ca.crt").write_bytes(cert.read_bytes())
        (self.serviceaccount / "namespace").write_text(namespace)
        self.rotate(token)
        self.events: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []  # ("create" | "patch", object)
        self.invalid: list[tuple[dict[str, Any], str]] = []
        self._versions = itertools.count(1)

    def rotate(self, token: str) -> None:
        """A new token, on the server and in the service account's token file (replaced
        whole, as the kubelet swaps it)."""
        path = self.serviceaccount / "token"
        fresh = path.with_name(".token.new")
        fresh.write_text(token + "\n")
        os.replace(fresh, path)
        self.token = token

    def environ(self) -> dict[str, str]:
        """The variables an in-cluster client finds the API server by."""
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port)}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The successful writes ((verb, object)) once count of them were made."""
        return self.wait_count(self.writes, count, timeout)

    def serve(self, handler: Handler, request: Request) -> None:
        if not self.authorized(request):
            self.reply(handler, request, 401, status(401, "Unauthorized", "Unauthorized"))
            return
        found = _EVENT_PATH.match(request.path)
        if found is None or found["ns"] != self.namespace:
            missing = "the server could not find the requested resource"
            self.reply(handler, request, 404, status(404, "NotFound", missing))
            return
        api, name = _API_VERSIONS[found["prefix"]], found["name"]
        if request.method == "POST" and name is None:
            code, body = self._create(api, request.json)
        elif request.method == "PATCH" and name is not None:
            code, body = self._patch(api, name, request)
        elif request.method == "GET" and name in self.events:
            code, body = 200, self.events[name]
        else:
            code, body = 405, status(405, "MethodNotAllowed", f"{request.method} not allowed")
        self.reply(handler, request, code, body)

    def _create(self, api: str, obj: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(obj, dict) or obj.get("kind") != "Event" or obj.get("apiVersion") != api:
            return 400, status(400, "BadRequest", f"not an {api} Event")
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace", self.namespace) != self.namespace:
            return 400, status(400, "BadRequest", _OTHER_NAMESPACE)
        meta["namespace"] = self.namespace
        name = meta.get("name") or (meta.get("generateName", "") + f"{next(self._versions):05x}")
        if name in self.events:
            return 409, status(409, "AlreadyExists", f'events "{name}" already exists', name=name)
        meta["name"] = name
        meta.setdefault("uid", f"00000000-0000-4000-8000-{abs(hash(name)) % 10**12:012d}")
        meta.setdefault("creationTimestamp", _now())
        return self._store("create", api, name, obj, 201)

    def _patch(self, api: str, name: str, request: Request) -> tuple[int, dict[str, Any]]:
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in _MERGE_PATCHES:
            unknown = f"the body of the request was in an unknown format: {kind}"
            return 415, status(415, "UnsupportedMediaType", unknown)
        if name not in self.events:
            group = "events.k8s.io" if api != "v1" else ""
            details = {"name": name, "kind": "events", **({"group": group} if group else {})}
            return 404, status(404, "NotFound", f'events "{name}" not found', **details)
        if not isinstance(request.json, dict):
            return 400, status(400, "BadRequest", "the patch is not a JSON object")
        patched = merge_patch(self.events[name], request.json)
        patched["apiVersion"], patched["kind"] = api, "Event"
        patched["metadata"]["name"] = name
        return self._store("patch", api, name, patched, 200)

    def _store(
        self, verb: str, api: str, name: str, obj: dict[str, Any], code: int
    ) -> tuple[int, dict[str, Any]]:
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            message = f'Event.{api} "{name}" is invalid: {exc.message}'
            self.add(self.invalid, (obj, message))
            return 422, status(422, "Invalid", message, name=name, kind="Event")
        self.events[name] = obj
        self.add(self.writes, (verb, obj))
        return code, obj


_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_POSTABLE_KEYS = {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}


def rfc3339(value: Any) -> datetime.datetime | None:
    """The time of an RFC 3339 timestamp, None when value is not one."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # fromisoformat before 3.11 takes 3 or 6 digits of a fraction only
        digits = rest[: len(rest) - 6]
        text = f"{head}.{(digits + '000000')[:6]}{rest[len(digits) :]}"
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def alert_problems(alert: Any) -> list[str]:
    """What makes alert not a postable alert of Alertmanager's v2 API ([]: nothing)."""
    if not isinstance(alert, dict):
        return ["an alert is not an object"]
    problems = [f"unknown field {key}" for key in sorted(set(alert) - _POSTABLE_KEYS)]
    for field in ("labels", "annotations"):
        value = alert.get(field, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            problems.append(f"{field} is not a map of strings")
    labels = alert.get("labels")
    if not labels or not isinstance(labels, dict):
        problems.append("labels missing or empty")
    else:
        problems += [f"invalid label name {k!r}" for k in labels if not _LABEL_NAME.match(str(k))]
    times = {}
    for field in ("startsAt", "endsAt"):
        if field in alert:
            when = rfc3339(alert[field])
            if when is None:
                problems.append(f"{field} is not an RFC 3339 time: {alert[field]!r}")
            else:
                times[field] = when
    if "startsAt" in times and "endsAt" in times and times["endsAt"] < times["startsAt"]:
        problems.append("start time must be before end time")
    if not isinstance(alert.get("generatorURL", ""), str):
        problems.append("generatorURL is not a string")
    return problems


class AlertmanagerApi(HttpBase):
    """Alertmanager's POST /api/v2/alerts: a JSON list of postable alerts, each checked
    for shape (alert_problems); a bad one is answered 400 and kept in `invalid`, good
    ones are recorded in `alerts` (and each post in `posts`)."""

    def __init__(self, tls: bool | tuple[Path, Path] = False, token: str | None = None) -> None:
        super().__init__(tls, token)
        self.alerts: list[dict[str, Any]] = []
        self.posts: list[list[dict[str, Any]]] = []
        self.invalid: list[tuple[Any, list[str]]] = []

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The alerts received once count of them came."""
        return self.wait_count(self.alerts, count, timeout)

    def serve(self, handler: Handler, request: Request) -> None:
        if not self.authorized(request):
            self.reply(handler, request, 401, {"code": 401, "message": "unauthorized"})
            return
        if request.path.split("?")[0] != "/api/v2/alerts" or request.method != "POST":
            self.reply(handler, request, 404, {"code": 404, "message": "not found"})
            return
        body = request.json
        problems = ["the body is not a list"] if not isinstance(body, list) else []
        for alert in body if isinstance(body, list) else []:
            problems += alert_problems(alert)
        if problems:
            self.add(self.invalid, (body, problems))
            self.reply(handler, request, 400, {"code": 400, "message": "; ".join(problems)})
            return
        self.posts.append(body)
        for alert in body:
            self.add(self.alerts, alert)
        self.reply(handler, request, 200, b"")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
