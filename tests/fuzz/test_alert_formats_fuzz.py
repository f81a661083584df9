"""Alerts made of anything (initsup.alerts formats): a program's name and its stderr come from
outside and may hold any character, lone surrogates included.  Every format turns any
Alert into jobs without raising, and every body stays what its receiver accepts: the
webhook's valid against docs/alert.schema.json, Slack's blocks within 3000 characters,
the mail ASCII with one-line headers, Alertmanager's labels strings, Kubernetes Events
valid against the real schemas with names and messages the API server takes.  Replies
of any shape to Kubernetes jobs ask for nothing or for a valid POST."""

from __future__ import annotations

import json
import re
from email import message_from_string, policy
from typing import Any

import jsonschema
import kubernetes_validate
from hypothesis import given
from hypothesis import strategies as st

from initsup.alerts.alert import Alert
from initsup.alerts.formats import make
from initsup.model_notify import NotifierConfig
from tests.helpers import ROOT

SCHEMA = jsonschema.Draft202012Validator(
    json.loads((ROOT / "docs" / "alert.schema.json").read_text())
)
EVENTS = [
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_UNHEALTHY",
    "PROCESS_HEALTHY",
    "PROCESS_READY",
    "PROCESS_NOT_READY",
    "ESSENTIAL_EXIT",
]
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)  # surrogates too
_TEXT = _ANY_TEXT | st.sampled_from(["", "\n", "\r\n\r\n", "```", "<&>", '"}', "\udcff"])
_OPTIONAL = st.none() | _TEXT
_TAIL = st.lists(_TEXT, max_size=30).map("\n".join) | st.text(max_size=5000)
ALERTS = st.builds(
    Alert,
    event=st.sampled_from(EVENTS),
    program=_TEXT,
    group=_TEXT,
    time=st.floats(0, 4e9),
    state=_TEXT,
    from_state=_OPTIONAL,
    pid=st.none() | st.integers(1, 2**22),
    exit_code=st.none() | st.integers(0, 255),
    signal=_OPTIONAL,
    core_dumped=st.booleans(),
    expected=st.none() | st.booleans(),
    restarts=st.integers(0, 10**6),
    stderr_tail=_TAIL,
    message=_TEXT,
    detail=_TEXT,
    host=_TEXT,
    pod_fields=st.fixed_dictionaries({k: _OPTIONAL for k in ("name", "namespace", "node", "uid")}),
    suppressed=st.integers(0, 10**6),
    firing=st.booleans(),
)
BATCHES = st.lists(ALERTS, min_size=1, max_size=4)
ENVIRON = st.fixed_dictionaries(
    {},
    optional={
        "POD_NAME": _TEXT,
        "POD_NAMESPACE": _TEXT,
        "POD_UID": _TEXT,
        "NODE_NAME": _TEXT,
        "CONTAINER_NAME": _TEXT,
    },
)


def _bodies(kind: str, alerts: list[Alert], **kwargs: Any) -> list[Any]:
    config = NotifierConfig("n", kind, "https://receiver.example/x", **kwargs)
    jobs = make(config, {}, wall=lambda: 1796000100.0).jobs(alerts)
    assert len(jobs) == 1
    body = jobs[0]["body"]
    body.encode("utf-8")
    return [json.loads(body)]


@given(BATCHES, st.integers(0, 40), st.sampled_from([0.0, 5.0]))
def test_webhook_bodies_always_match_the_schema(
    alerts: list[Alert], lines: int, batch: float
) -> None:
    (body,) = _bodies("webhook", alerts, stderr_lines=lines, batch=batch)
    SCHEMA.validate(body)
    for alert in body.get("alerts", [body]):
        assert alert["stderr_tail"].count("\n") < max(lines, 1)


@given(BATCHES)
def test_slack_blocks_always_fit(alerts: list[Alert]) -> None:
    (body,) = _bodies("slack", alerts)
    assert len(body["blocks"]) <= 50
    for block in body["blocks"]:
        for text in [block["text"]] if "text" in block else block["elements"]:
            assert text["type"] == "mrkdwn" and len(text["text"]) <= 3000
            assert "<" not in text["text"] and ">" not in text["text"]


@given(BATCHES, _TEXT, st.sampled_from([0.0, 60.0]))
def test_mail_is_always_ascii_with_one_line_headers(
    alerts: list[Alert], prefix: str, batch: float
) -> None:
    config = NotifierConfig(
        "m", "mail", "smtp://mx:25", to=["ops@example.com"], subject=prefix, batch=batch
    )
    (job,) = make(config, {}, wall=lambda: 1796000100.0).jobs(alerts)
    job["message"].encode("ascii")
    head = job["message"].split("\r\n\r\n", 1)[0]
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] not in " \t"]
    assert sorted(names) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        ]
    )
    parsed = message_from_string(job["message"].replace("\r\n", "\n"), policy=policy.default)
    assert "\n" not in str(parsed["Subject"])


@given(BATCHES)
def test_alertmanager_labels_are_always_strings(alerts: list[Alert]) -> None:
    (posted,) = _bodies("alertmanager", alerts)
    for alert in posted:
        assert all(isinstance(v, str) and v for v in alert["labels"].values())
        assert set(alert) == {"labels", "annotations", "startsAt"}


@given(ALERTS, ALERTS, ENVIRON, st.sampled_from(["v1", "events.k8s.io/v1"]))
def test_kubernetes_events_are_always_valid(
    first: Alert, second: Alert, environ: dict[str, str], api: str
) -> None:
    # one (program, reason) series: the same program, event and expectation
    second.program, second.group, second.event = first.program, first.group, first.event
    second.expected = first.expected
    fmt = make(
        NotifierConfig("k", "kubernetes", "https://10.0.0.1", api=api), environ, wall=lambda: 1.5e9
    )
    post, patch = fmt.jobs([first, second])
    assert (post["method"], patch["method"]) == ("POST", "PATCH")
    event = json.loads(post["body"])
    kubernetes_validate.validate(event, "1.37", strict=True)
    assert SUBDOMAIN.match(event["metadata"]["name"]) and len(event["metadata"]["name"]) <= 253
    assert len((event.get("message") or event["note"]).encode("utf-8")) <= 1024
    merged = {**event, **json.loads(patch["body"])}
    kubernetes_validate.validate(merged, "1.37", strict=True)
    (again,) = fmt.answered(patch, {"status": 404})
    kubernetes_validate.validate(json.loads(again["body"]), "1.37", strict=True)


_REPLIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@given(ALERTS, _REPLIES, st.dictionaries(st.sampled_from(["method", "url", "body"]), _REPLIES))
def test_kubernetes_answers_to_anything_are_nothing_or_a_post(
    alert: Alert, reply: Any, job: Any
) -> None:
    fmt = make(NotifierConfig("k", "kubernetes", "https://10.0.0.1"), {}, wall=lambda: 1.5e9)
    (post,) = fmt.jobs([alert])
    for asked in (post, job, {**post, **job}):
        for answer in (reply, {"status": reply}, {"status": 409}, {"status": 404}):
            follow = fmt.answered(asked, answer)
            assert follow == [] or [j["method"] for j in follow] == ["POST"]
