"""Unit tests for initsup.alerts.kubernetes: Events on the pod, counted, expired, renamed.

Every Event body is validated with kubernetes-validate against the real Kubernetes
schemas (strict: no key they do not know), for the oldest and the newest version the
package has, in both APIs; a PATCH is merged into the Event it changes (RFC 7386, as
the API server does) and the result validated too.  What those schemas do not say and
the API server checks (names, lengths, eventTime, series.count >= 2) is checked here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from initsup.alerts import kubernetes
from initsup.alerts.formats import make
from initsup.alerts.kubernetes import Kubernetes
from initsup.model_notify import NotifierConfig
from tests.receivers.apis import merge_patch
from tests.unit.test_alert_formats import sample

API = "https://10.96.0.1:443"
VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED = re.compile(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
POD_ENV = {
    "POD_NAME": "web-0",
    "POD_NAMESPACE": "shop",
    "POD_UID": "6f1c0b9e-7a51-4d3c-9b1e-2f0a4c5d6e7f",
    "NODE_NAME": "node-1",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1796000100.0

    def __call__(self) -> float:
        return self.now


def events(
    environ: dict[str, str] | None = None, clock: Clock | None = None, **kw: Any
) -> Kubernetes:
    kw.setdefault("url", API)
    made = make(
        NotifierConfig("k8s", "kubernetes", **kw),
        POD_ENV if environ is None else environ,
        wall=clock or Clock(),
    )
    assert isinstance(made, Kubernetes)
    return made


def valid(event: dict[str, Any]) -> dict[str, Any]:
    """The Event as the API server would take it: schema, name, lengths, times."""
    for version in VERSIONS:
        kubernetes_validate.validate(event, version, strict=True)
    name = event["metadata"]["name"]
    assert len(name) <= 253 and SUBDOMAIN.match(name), name
    assert 0 < len(event["reason"]) <= 128
    assert len(event["reportingInstance"]) <= 128
    if event["apiVersion"] == "v1":
        assert len(event["message"].encode("utf-8")) <= 1024
        assert SECONDS.match(event["firstTimestamp"]) and SECONDS.match(event["lastTimestamp"])
        assert event["involvedObject"]["namespace"] == event["metadata"]["namespace"]
    else:
        assert len(event["note"].encode("utf-8")) <= 1024
        assert MICROS.match(event["eventTime"])
        assert QUALIFIED.match(event["reportingController"])
        assert 0 < len(event["action"]) <= 128
        assert event["regarding"]["namespace"] == event["metadata"]["namespace"]
        if "series" in event:
            assert event["series"]["count"] >= 2 and MICROS.match(
                event["series"]["lastObservedTime"]
            )
    assert event["type"] in ("Normal", "Warning")
    return event


def one(jobs: list[dict[str, Any]], method: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (job,) = jobs
    assert (job["kind"], job["method"]) == ("http", method)
    body: dict[str, Any] = json.loads(job["body"])
    return job, body


def test_a_crash_is_a_core_v1_event_on_the_pod() -> None:
    job, event = one(events().jobs([sample()]), "POST")
    assert job["url"] == f"{API}/api/v1/namespaces/shop/events"
    assert job["headers"]["Content-Type"] == "application/json"
    assert job["token_file"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert job["ca_file"] == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    assert job["token"] is None
    valid(event)
    assert re.match(r"^web-0\.[0-9a-f]{16}$", event["metadata"]["name"])
    assert event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "web-0",
        "namespace": "shop",
        "uid": POD_ENV["POD_UID"],
    }
    assert (event["reason"], event["type"], event["count"]) == ("BackOff", "Warning", 1)
    assert event["message"] == (
        "web (group web) exited unexpectedly: terminated by SIGSEGV (core dumped), restart 4;"
        " stderr: Segmentation fault"
    )
    assert event["source"] == {"component": "initsup", "host": "node-1"}
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-11-30T00:53:20Z"
    assert event["reportingComponent"] == "initsup"
    assert event["reportingInstance"] == os.uname().nodename


def test_an_events_k8s_io_event_has_what_that_api_requires() -> None:
    job, event = one(events(api="events.k8s.io/v1").jobs([sample()]), "POST")
    assert job["url"] == f"{API}/apis/events.k8s.io/v1/namespaces/shop/events"
    valid(event)
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert event["regarding"]["name"] == "web-0"
    assert (event["reason"], event["action"]) == ("BackOff", "Restarting")
    assert event["eventTime"] == "2026-11-30T00:53:20.250000Z"
    assert event["reportingController"] == "initsup.dev/initsup"
    assert event["note"].startswith("web (group web) exited unexpectedly")
    for legacy in ("count", "source", "firstTimestamp", "lastTimestamp", "series", "message"):
        assert legacy not in event


@pytest.mark.parametrize("api", ["v1", "events.k8s.io/v1"])
def test_reasons_types_and_actions_of_each_event(api: str) -> None:
    fmt = events(api=api)
    cases = {
        "PROCESS_STATE_FATAL": ("Failed", "Warning", "GaveUp"),
        "ESSENTIAL_EXIT": ("Failed", "Warning", "StoppingContainer"),
        "PROCESS_UNHEALTHY": ("Unhealthy", "Warning", "HealthCheck"),
        "PROCESS_HEALTHY": ("ProcessHealthy", "Normal", "HealthCheck"),
        "PROCESS_READY": ("ProcessReady", "Normal", "ReadinessCheck"),
        "PROCESS_NOT_READY": ("ProcessNotReady", "Warning", "ReadinessCheck"),
        "PROCESS_STATE_RUNNING": ("ProcessStateRunning", "Normal", "Started"),
        "PROCESS_STATE_BACKOFF": ("ProcessStateBackoff", "Warning", "StateChange"),
    }
    for name, (reason, kind, action) in cases.items():
        alert = sample(event=name, program=name.lower(), signal=None, exit_code=None)
        _, event = one(fmt.jobs([alert]), "POST")
        valid(event)
        assert (event["reason"], event["type"]) == (reason, kind)
        assert event.get("action", action) == action
    _, expected = one(fmt.jobs([sample(expected=True, signal=None, exit_code=0)]), "POST")
    assert valid(expected)["reason"] == "ProcessStateExited"


def test_repeats_patch_the_same_core_v1_event() -> None:
    clock = Clock()
    fmt = events(clock=clock)
    _, created = one(fmt.jobs([sample()]), "POST")
    name = created["metadata"]["name"]
    current = created
    for count in (2, 3):
        later = sample(
            time=1796000000.25 + count * 10, restarts=4 + count, stderr_tail=f"boom {count}"
        )
        job, patch = one(fmt.jobs([later]), "PATCH")
        assert job["url"] == f"{API}/api/v1/namespaces/shop/events/{name}"
        assert job["headers"]["Content-Type"] == "application/merge-patch+json"
        assert set(patch) == {"count", "lastTimestamp", "message"}
        current = valid(merge_patch(current, patch))
        assert current["count"] == count
        assert current["firstTimestamp"] == "2026-11-30T00:53:20Z"
        assert current["lastTimestamp"] == f"2026-11-30T00:53:{20 + count * 10}Z"
        assert current["message"].endswith(f"restart {4 + count}; stderr: boom {count}")


def test_repeats_patch_the_series_of_an_events_k8s_io_event() -> None:
    fmt = events(api="events.k8s.io/v1")
    _, created = one(fmt.jobs([sample()]), "POST")
    job, patch = one(fmt.jobs([sample(time=1796000010.5)]), "PATCH")
    assert job["url"].endswith(
        f"/apis/events.k8s.io/v1/namespaces/shop/events/{created['metadata']['name']}"
    )
    assert patch == {"series": {"count": 2, "lastObservedTime": "2026-11-30T00:53:30.500000Z"}}
    valid(merge_patch(created, patch))
    _, patch = one(fmt.jobs([sample()]), "PATCH")
    assert patch["series"]["count"] == 3


def test_each_program_and_reason_is_a_series_of_its_own() -> None:
    fmt = events()
    names = set()
    for alert in (sample(), sample(program="worker"), sample(event="PROCESS_STATE_FATAL")):
        _, event = one(fmt.jobs([alert]), "POST")
        names.add(valid(event)["metadata"]["name"])
    assert len(names) == 3
    assert one(fmt.jobs([sample(program="worker")]), "PATCH")


def test_an_expired_event_starts_its_series_anew() -> None:
    fmt = events()
    _, created = one(fmt.jobs([sample()]), "POST")
    patch_job, _ = one(fmt.jobs([sample(restarts=5)]), "PATCH")
    assert fmt.answered(patch_job, {"ok": False, "status": 500, "retry": True}) == []
    assert fmt.answered(patch_job, {"ok": True, "status": 200}) == []
    _, again = one(
        fmt.answered(patch_job, {"ok": False, "status": 404, "detail": "HTTP 404"}), "POST"
    )
    valid(again)
    assert again["metadata"]["name"] != created["metadata"]["name"]
    assert again["count"] == 1 and again["message"].endswith(
        "restart 5; stderr: Segmentation fault"
    )
    job, patch = one(fmt.jobs([sample()]), "PATCH")
    assert job["url"].endswith("/" + again["metadata"]["name"]) and patch["count"] == 2
    assert fmt.answered(patch_job, {"status": 404}) == []  # a stale reply: already anew


def test_a_taken_name_is_posted_again_under_a_new_one() -> None:
    fmt = events(api="events.k8s.io/v1")
    post, created = one(fmt.jobs([sample()]), "POST")
    _, again = one(fmt.answered(post, {"ok": False, "status": 409}), "POST")
    valid(again)
    assert again["metadata"]["name"] != created["metadata"]["name"]
    assert {k: v for k, v in again.items() if k != "metadata"} == {
        k: v for k, v in created.items() if k != "metadata"
    }
    assert fmt.answered(post, {"ok": True, "status": 201}) == []


@pytest.mark.parametrize(
    "reply",
    [{}, {"status": "404"}, {"status": None}, {"status": [404]}, "404", None, 404],
)
def test_an_odd_reply_or_job_asks_for_nothing(reply: Any) -> None:
    fmt = events()
    post, _ = one(fmt.jobs([sample()]), "POST")
    patch, _ = one(fmt.jobs([sample()]), "PATCH")
    assert fmt.answered(patch, reply) == []
    assert fmt.answered({**post, "body": "{not json"}, {"status": 409}) == []
    assert fmt.answered({"method": "PATCH"}, {"status": 404}) == []
    assert fmt.answered(None, {"status": 404}) == []  # type: ignore[arg-type]


def test_outside_a_cluster_there_is_nothing_to_send() -> None:
    fmt = events(url="")
    assert fmt.jobs([sample()]) == []
    assert fmt.answered({"method": "PATCH", "url": "x"}, {"status": 404}) == []


def test_the_service_account_gives_namespace_token_and_ca(tmp_path: Path) -> None:
    (tmp_path / "namespace").write_text("payments\n")
    env = {"POD_NAME": "api-7"}
    job, event = one(events(env, serviceaccount=str(tmp_path) + "/").jobs([sample()]), "POST")
    assert job["url"] == f"{API}/api/v1/namespaces/payments/events"
    assert (job["token_file"], job["ca_file"]) == (f"{tmp_path}/token", f"{tmp_path}/ca.crt")
    valid(event)
    assert event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "api-7",
        "namespace": "payments",
    }
    assert event["source"] == {"component": "initsup"}


def test_the_notifiers_own_ca_and_token_win(tmp_path: Path) -> None:
    job, _ = one(events(ca_file="/etc/ca.pem", token="secret").jobs([sample()]), "POST")
    assert (job["ca_file"], job["token"], job["token_file"]) == ("/etc/ca.pem", "secret", None)
    job, _ = one(events(token_file="/run/token").jobs([sample()]), "POST")
    assert job["token_file"] == "/run/token"


def test_an_unreadable_namespace_is_default(tmp_path: Path) -> None:
    assert kubernetes.read_namespace(str(tmp_path / "missing")) == "default"
    (tmp_path / "namespace").mkdir()
    assert kubernetes.read_namespace(str(tmp_path)) == "default"


def test_a_fifo_as_namespace_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "namespace")
    assert kubernetes.read_namespace(str(tmp_path)) == "default"


def test_a_huge_namespace_file_is_capped(tmp_path: Path) -> None:
    (tmp_path / "namespace").write_text("n" * 100_000)
    assert len(kubernetes.read_namespace(str(tmp_path))) == 254


def test_the_container_is_named_when_the_pod_says_which(tmp_path: Path) -> None:
    _, event = one(events({**POD_ENV, "CONTAINER_NAME": "app"}).jobs([sample()]), "POST")
    assert valid(event)["involvedObject"]["fieldPath"] == "spec.containers{app}"


def test_a_hostname_without_pod_name_is_made_a_valid_event_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kubernetes, "hostname", lambda: "My_Host..-Name-")
    _, event = one(events({"POD_NAMESPACE": "shop"}).jobs([sample()]), "POST")
    valid(event)
    assert event["involvedObject"]["name"] == "My_Host..-Name-"
    assert re.match(r"^my-host\.name\.[0-9a-f]{16}$", event["metadata"]["name"])
    assert kubernetes.subdomain("x" * 500 + ".y") == "x" * 236
    assert kubernetes.subdomain("___") == "initsup"


@pytest.mark.parametrize("api", ["v1", "events.k8s.io/v1"])
def test_hostile_names_and_output_still_make_valid_events(api: str) -> None:
    alert = sample(
        program='We"b\n_/.. ' + "é" * 300,
        group="G:\udcff",
        stderr_tail="first\n" + "日本語" * 1000 + "\n \n",
        signal=None,
        exit_code=3,
    )
    env = {**POD_ENV, "POD_NAME": "Web_0", "POD_NAMESPACE": "sh op/../x"}
    job, event = one(events(env, api=api).jobs([alert]), "POST")
    valid(event)
    assert "/namespaces/sh%20op%2F..%2Fx/events" in job["url"]
    text = event.get("message") or event["note"]
    assert text.endswith("...") and "\n" not in text and "\\xff" in text
    job, patch = one(events(env, api=api).jobs([alert, alert])[1:], "PATCH")
    valid(merge_patch(event, patch))


def test_a_batch_of_alerts_is_one_job_each() -> None:
    fmt = events()
    assert not fmt.batches
    jobs = fmt.jobs([sample(), sample(), sample(program="b")])
    assert [job["method"] for job in jobs] == ["POST", "PATCH", "POST"]


def test_event_names_are_unique_under_a_stopped_clock() -> None:
    fmt = events()
    names = {
        json.loads(fmt.jobs([sample(program=f"p{i}")])[0]["body"])["metadata"]["name"]
        for i in range(50)
    }
    assert len(names) == 50


def test_the_validation_here_refuses_what_the_api_server_refuses() -> None:
    for api in ("v1", "events.k8s.io/v1"):
        _, event = one(events(api=api).jobs([sample()]), "POST")
        for broken in (
            {**event, "surprise": 1},
            {**event, "metadata": {**event["metadata"], "name": "Web_0.x"}},
            {**event, "type": "Error"},
            {**event, "reason": "R" * 129},
        ):
            with pytest.raises((kubernetes_validate.ValidationError, AssertionError)):
                valid(broken)
    _, event = one(events(api="events.k8s.io/v1").jobs([sample()]), "POST")
    with pytest.raises(AssertionError):
        valid({**event, "series": {"count": 1, "lastObservedTime": event["eventTime"]}})
    with pytest.raises(kubernetes_validate.ValidationError):
        valid({k: v for k, v in event.items() if k != "eventTime"})


def test_an_exit_with_no_restart_coming_is_no_back_off() -> None:
    assert kubernetes.reason(sample(restarting=True)) == "BackOff"
    assert kubernetes.reason(sample(restarting=False)) != "BackOff"
    assert kubernetes.action(sample(restarting=False)) == "Exited"
    assert kubernetes.reason(sample(restarting=None)) == "BackOff"  # unexpected: autorestart's
