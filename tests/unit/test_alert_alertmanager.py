"""Unit tests for initsup.alerts.alertmanager: postable alerts, resolutions and refreshes.

Every body is checked against the postableAlerts shape of Alertmanager's v2 API
(prometheus/alertmanager api/v2/openapi.yaml: a list of objects with `labels`, a map of
strings, required; `annotations` likewise; `startsAt`/`endsAt` RFC 3339 date-times;
`generatorURL`), written below as a JSON Schema, stricter than the API in two ways that
catch mistakes: no other keys, and label names as Alertmanager's classic validation
wants them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

import jsonschema
import pytest

from initsup.alerts.alert import Alert
from initsup.alerts.alertmanager import Alertmanager, alertname
from initsup.alerts.formats import make
from initsup.model_notify import NotifierConfig
from tests.unit.test_alert_formats import sample

LABEL_SET = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
    "additionalProperties": {"type": "string", "minLength": 1},
}
POSTABLE_ALERTS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["labels", "annotations", "startsAt"],
        "additionalProperties": False,
        "properties": {
            "labels": {**LABEL_SET, "minProperties": 1},
            "annotations": LABEL_SET,
            "startsAt": {"type": "string"},
            "endsAt": {"type": "string"},
            "generatorURL": {"type": "string"},
        },
    },
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
WALL = 1796000100.0


def when(text: str) -> float:
    """An RFC 3339 time's seconds since the epoch; it must be one."""
    assert RFC3339.match(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = WALL

    def __call__(self) -> float:
        return self.now


def manager(clock: Clock | None = None, **kwargs: Any) -> Alertmanager:
    kwargs.setdefault("url", "http://alertmanager:9093")
    config = NotifierConfig("am", "alertmanager", **kwargs)
    made = make(config, {}, wall=clock or Clock())
    assert isinstance(made, Alertmanager)
    return made


def posted(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts of the one job in `jobs`, checked against the API's shape."""
    (job,) = jobs
    assert (job["kind"], job["method"]) == ("http", "POST")
    assert job["url"] == "http://alertmanager:9093/api/v2/alerts"
    assert job["headers"]["Content-Type"] == "application/json"
    alerts: list[dict[str, Any]] = json.loads(job["body"])
    jsonschema.Draft202012Validator(POSTABLE_ALERTS).validate(alerts)
    for alert in alerts:
        start = when(alert["startsAt"])
        if "endsAt" in alert:
            assert when(alert["endsAt"]) >= start
    return alerts


def test_a_crash_is_posted_with_its_labels_and_annotations() -> None:
    (alert,) = posted(manager().jobs([sample(suppressed=2)]))
    assert alert["labels"] == {
        "alertname": "InitsupProgramExited",
        "program": "web",
        "group": "web",
        "severity": "warning",
        "instance": "web-0",
        "pod": "web-0",
        "namespace": "shop",
        "node": "node-1",
    }
    assert alert["annotations"]["summary"] == (
        "web (group web) exited unexpectedly: terminated by SIGSEGV (core dumped), restart 4,"
        " pod shop/web-0 on node-1 (+2 suppressed)"
    )
    description = alert["annotations"]["description"]
    assert "exit: terminated by SIGSEGV (core dumped) (exit code 139)" in description
    assert description.endswith("Last lines of stderr:\nstarting\nSegmentation fault")
    assert when(alert["startsAt"]) == 1796000000.25
    assert "endsAt" not in alert


@pytest.mark.parametrize("url", ["http://alertmanager:9093", "http://alertmanager:9093/"])
def test_the_api_path_is_added_to_the_base_url(url: str) -> None:
    posted(manager(url=url).jobs([sample()]))


def test_names_and_severities_of_each_event() -> None:
    assert [alertname(e) for e in ("PROCESS_STATE_FATAL", "PROCESS_UNHEALTHY")] == [
        "InitsupProgramFatal",
        "InitsupProgramUnhealthy",
    ]
    assert alertname("ESSENTIAL_EXIT") == "InitsupEssentialExit"
    assert alertname("PROCESS_NOT_READY") == "InitsupProcessNotReady"
    assert alertname("PROCESS_STATE_BACKOFF") == "InitsupProcessStateBackoff"
    events = ["PROCESS_STATE_FATAL", "ESSENTIAL_EXIT", "PROCESS_UNHEALTHY", "PROCESS_STATE_EXITED"]
    alerts = posted(manager().jobs([sample(event=e, program=e.lower()) for e in events]))
    assert [a["labels"]["severity"] for a in alerts] == [
        "critical",
        "critical",
        "warning",
        "warning",
    ]


def test_pod_labels_only_when_known_and_the_notifiers_labels_added() -> None:
    bare = sample(
        host="box", pod_fields={"name": None, "namespace": None, "node": None, "uid": None}
    )
    (alert,) = posted(manager(labels={"team": "shop", "severity": "page"}).jobs([bare]))
    assert alert["labels"] == {
        "alertname": "InitsupProgramExited",
        "program": "web",
        "group": "web",
        "severity": "page",
        "instance": "box",
        "team": "shop",
    }


def test_a_batch_is_one_post() -> None:
    alerts = posted(manager(batch=10.0).jobs([sample(program="a"), sample(program="b")]))
    assert [a["labels"]["program"] for a in alerts] == ["a", "b"]


def running(program: str = "web") -> Alert:
    return sample(event="PROCESS_STATE_RUNNING", program=program, firing=False, signal=None)


def test_running_again_resolves_the_programs_exit_and_fatal_alerts() -> None:
    clock = Clock()
    am = manager(clock)
    fired = posted(
        am.jobs(
            [
                sample(),
                sample(event="PROCESS_STATE_FATAL"),
                sample(event="PROCESS_UNHEALTHY"),
                sample(program="other"),
            ]
        )
    )
    clock.now = WALL + 30
    ended = posted(am.resolved(running()))
    assert [a["labels"] for a in ended] == [fired[0]["labels"], fired[1]["labels"]]
    assert [a["annotations"] for a in ended] == [fired[0]["annotations"], fired[1]["annotations"]]
    assert all(when(a["endsAt"]) == WALL + 30 for a in ended)
    assert all(a["startsAt"] == fired[0]["startsAt"] for a in ended)
    assert am.resolved(running()) == []  # forgotten once resolved
    left = posted(am.refresh())
    assert [a["labels"]["alertname"] for a in left] == [
        "InitsupProgramUnhealthy",
        "InitsupProgramExited",
    ]
    assert [a["labels"]["program"] for a in left] == ["web", "other"]


def test_healthy_resolves_only_unhealthy_and_ready_only_not_ready() -> None:
    am = manager()
    am.jobs([sample(), sample(event="PROCESS_UNHEALTHY"), sample(event="PROCESS_NOT_READY")])
    (ended,) = posted(am.resolved(sample(event="PROCESS_HEALTHY", firing=False)))
    assert ended["labels"]["alertname"] == "InitsupProgramUnhealthy"
    (ended,) = posted(am.resolved(sample(event="PROCESS_READY", firing=False)))
    assert ended["labels"]["alertname"] == "InitsupProcessNotReady"
    assert am.resolved(sample(event="PROCESS_HEALTHY", firing=False)) == []
    assert [a["labels"]["alertname"] for a in posted(am.refresh())] == ["InitsupProgramExited"]


def test_nothing_firing_nothing_to_resolve_or_refresh() -> None:
    am = manager()
    assert am.resolved(running()) == []
    assert am.refresh() == []
    assert am.resolved(sample()) == []  # not a recovery
    assert am.jobs([]) == []


def test_a_refresh_sends_the_firing_alert_as_it_was() -> None:
    clock = Clock()
    am = manager(clock)
    first = posted(am.jobs([sample()]))
    clock.now += 600
    assert posted(am.refresh()) == first


def test_a_repeat_keeps_its_first_start_and_takes_the_new_facts() -> None:
    am = manager()
    (first,) = posted(am.jobs([sample()]))
    (again,) = posted(am.jobs([sample(time=1796000050.0, restarts=5)]))
    assert again["labels"] == first["labels"]
    assert again["startsAt"] == first["startsAt"]
    assert "restart 5" in again["annotations"]["summary"]
    (ended,) = posted(am.resolved(running()))
    assert ended["startsAt"] == first["startsAt"] and "restart 5" in ended["annotations"]["summary"]


def test_an_end_never_comes_before_its_start() -> None:
    clock = Clock()
    am = manager(clock)
    am.jobs([sample(time=WALL + 100)])  # the wall clock went back meanwhile
    (ended,) = posted(am.resolved(running()))
    assert ended["endsAt"] == ended["startsAt"]


def test_alerts_nothing_can_end_are_sent_once_and_not_refreshed() -> None:
    am = manager()
    posted(am.jobs([sample(event="ESSENTIAL_EXIT"), sample(event="PROCESS_HEALTHY")]))
    assert am.refresh() == []


def test_hostile_names_stay_label_values() -> None:
    (alert,) = posted(manager().jobs([sample(program='a"b\n{}\udcff', group="g=h,i")]))
    assert alert["labels"]["program"] == 'a"b\n{}\\xff'
    assert alert["labels"]["group"] == "g=h,i"
    assert "\n" not in alert["annotations"]["summary"]


def test_the_schema_here_refuses_what_alertmanager_refuses() -> None:
    good = posted(manager().jobs([sample()]))
    for broken in (
        [{**good[0], "labels": {}}],
        [{**good[0], "labels": {"bad-name": "x"}}],
        [{**good[0], "labels": {"n": 1}}],
        [{k: v for k, v in good[0].items() if k != "labels"}],
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(POSTABLE_ALERTS).validate(broken)
    assert not RFC3339.match("2026-11-30 00:53:20")


def test_times_are_utc() -> None:
    (alert,) = posted(manager().jobs([sample(time=0.5)]))
    assert alert["startsAt"] == "1970-01-01T00:00:00.500000Z"
    assert datetime.fromtimestamp(when(alert["startsAt"]), timezone.utc).year == 1970
