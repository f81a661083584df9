"""docs/alerts.md says what initsup does: its Kubernetes objects are valid Kubernetes (its
own schemas, through kubernetes-validate) and fit together (the Role lets the pod's
service account post Events, the Downward API fills the variables alerts read), every
INI example and the Deployment's variables are configurations initsup loads, and its
tables of keys, defaults and events are the loader's and the model's."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from initsup import events, model, model_notify
from initsup.alerts import alert, formats, kubernetes
from initsup.config import alerts as config_alerts
from initsup.config import load
from tests.helpers import ROOT

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (pip install '.[test]')"
)
yaml = pytest.importorskip("yaml", reason="PyYAML comes with kubernetes-validate")

DOC = (ROOT / "docs" / "alerts.md").read_text()
# What a pod's environment has besides the Deployment's own variables.
IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC, re.MULTILINE | re.DOTALL)


def objects() -> dict[str, dict[str, Any]]:
    """The doc's Kubernetes objects by kind (one of each)."""
    found = [doc for block in blocks("yaml") for doc in yaml.safe_load_all(block) if doc]
    by_kind = {doc["kind"]: doc for doc in found}
    assert len(by_kind) == len(found), "one object of each kind"
    return by_kind


def table(heading: str) -> dict[str, list[str]]:
    """The first table after the line `heading`: its first column (backticks off, a
    `a`, `b` cell split) to the row's other cells."""
    after = DOC[DOC.index(heading + "\n") :]
    rows: dict[str, list[str]] = {}
    started = False
    for line in after.splitlines()[1:]:
        if not line.startswith("|"):
            if started:
                break
            continue
        started = True
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if set(cells[0]) <= set("- "):
            continue
        for key in re.findall(r"`([^`]+)`", cells[0]):
            rows[key] = cells[1:]
    return rows


def loaded(text: str, tmp_path: Path, environ: dict[str, str]) -> model.Config:
    """The configuration text makes with environ; no warning but a command's absence."""
    path = tmp_path / "initsup.ini"
    path.write_text(text)
    config, warnings = load(str(path), {"PATH": "/usr/bin:/bin", **environ})
    unexpected = [w for w in warnings if "cannot be run" not in w]
    assert unexpected == []
    return config


def deployment_environ() -> dict[str, str]:
    """The Deployment's env as the pod gets it (each valueFrom with a stand-in value)."""
    (container,) = objects()["Deployment"]["spec"]["template"]["spec"]["containers"]
    stand_ins = {"INITSUP_NOTIFY_SLACK__URL": "https://hooks.slack.com/services/T0/B0/X"}
    environ = dict(IN_A_POD)
    for var in container["env"]:
        environ[var["name"]] = var.get("value", stand_ins.get(var["name"], "from-the-pod"))
    return environ


# -- Kubernetes objects --------------------------------------------------------------


def test_the_example_has_its_account_its_rights_and_its_workload() -> None:
    assert set(objects()) == {"ServiceAccount", "Role", "RoleBinding", "Deployment"}


@pytest.mark.parametrize("kind", ["ServiceAccount", "Role", "RoleBinding", "Deployment"])
def test_each_object_is_valid_against_kubernetes_schemas(kind: str) -> None:
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(objects()[kind], version, strict=True)  # raises when not


def test_a_broken_object_is_caught() -> None:
    """The validation above can fail: a Role rule with a misspelt field is refused."""
    role = objects()["Role"]
    role["rules"][0]["verb"] = role["rules"][0].pop("verbs")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(role, kubernetes_validate.latest_version(), strict=True)


def test_the_role_lets_the_pod_s_account_create_and_patch_events_in_both_groups() -> None:
    found = objects()
    (rule,) = found["Role"]["rules"]
    assert set(rule["apiGroups"]) == {"", "events.k8s.io"}
    assert rule["resources"] == ["events"]
    assert set(rule["verbs"]) == {"create", "patch"}
    binding, account = found["RoleBinding"], found["ServiceAccount"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": found["Role"]["metadata"]["name"],
    }
    (subject,) = binding["subjects"]
    assert subject == {"kind": "ServiceAccount", **account["metadata"]}
    pod = found["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    namespaces = {o["metadata"]["namespace"] for o in found.values()}
    assert len(namespaces) == 1  # a Role only grants rights in its own namespace


def test_the_downward_api_fills_the_variables_alerts_read() -> None:
    (container,) = objects()["Deployment"]["spec"]["template"]["spec"]["containers"]
    paths = {
        var["name"]: var["valueFrom"]["fieldRef"]["fieldPath"]
        for var in container["env"]
        if "fieldRef" in var.get("valueFrom", {})
    }
    assert paths == {
        alert.POD_VARIABLES["name"]: "metadata.name",
        alert.POD_VARIABLES["namespace"]: "metadata.namespace",
        alert.POD_VARIABLES["node"]: "spec.nodeName",
        alert.POD_VARIABLES["uid"]: "metadata.uid",
    }


def test_the_slack_url_comes_from_the_secret_the_doc_creates() -> None:
    (container,) = objects()["Deployment"]["spec"]["template"]["spec"]["containers"]
    (var,) = [v for v in container["env"] if v["name"] == "INITSUP_NOTIFY_SLACK__URL"]
    ref = var["valueFrom"]["secretKeyRef"]
    (create,) = [b for b in blocks("sh") if "kubectl create secret" in b]
    words = shlex.split(create.replace("\\\n", " "))
    assert words[:4] == ["kubectl", "create", "secret", "generic"]
    assert words[4] == ref["name"]
    assert f"--from-literal={ref['key']}=https://hooks.slack.com/services/T000/B000/XXXX" in words


# -- configurations --------------------------------------------------------------------


def test_every_ini_example_loads(tmp_path: Path) -> None:
    """Each INI block is a configuration initsup reads, every key known and applying to
    its type (programs without a notifier get the crash loop's notifier-free defaults)."""
    examples = blocks("ini")
    assert len(examples) >= 8
    environ = {"SMTP_PASSWORD": "s3cret"}
    for number, example in enumerate(examples):
        text = example
        if "[program:" not in text:
            text = "[program:worker]\ncommand=python -m worker\n\n" + text
        config = loaded(text, tmp_path, environ)
        types = re.findall(r"^type=(\w+)$", text, re.MULTILINE)
        assert sorted(n.kind for n in config.notifiers) == sorted(types), number


def test_the_mail_example_is_what_its_words_say(tmp_path: Path) -> None:
    (text,) = [b for b in blocks("ini") if "type=mail" in b]
    config = loaded("[program:w]\ncommand=w\n" + text, tmp_path, {"SMTP_PASSWORD": "s3cret"})
    (mail,) = config.notifiers
    assert mail.url == "smtp://smtp.example.com:587"
    assert mail.tls == "starttls"
    assert mail.to == ["ops@example.com", "oncall@example.com"]
    assert mail.password == "s3cret"
    assert mail.batch == 60


def test_the_give_up_example_is_what_its_words_say(tmp_path: Path) -> None:
    (text,) = [b for b in blocks("ini") if "max_tries=5" in b]
    config = loaded(text, tmp_path, {})
    (worker,) = [p for g in config.groups for p in g.processes if p.name == "worker"]
    assert (worker.max_tries, worker.max_tries_window, worker.max_tries_if_coredumped) == (
        5,
        60,
        1,
    )
    assert worker.essential


def test_the_deployment_s_variables_make_its_two_notifiers(tmp_path: Path) -> None:
    """The Deployment's env with the image's file: Slack from the Secret, throttled, and
    Kubernetes Events on the API server the pod's variables name."""
    (image_file,) = [b for b in blocks("ini") if "max_tries_if_coredumped=2" in b]
    config = loaded(image_file, tmp_path, deployment_environ())
    notifiers = {n.name: n for n in config.notifiers}
    assert set(notifiers) == {"slack", "k8s"}
    assert notifiers["slack"].kind == "slack"
    assert notifiers["slack"].url == "https://hooks.slack.com/services/T0/B0/X"
    assert notifiers["slack"].alarm_interval == 300
    assert notifiers["k8s"].kind == "kubernetes"
    assert notifiers["k8s"].url == "https://10.96.0.1:443"
    assert notifiers["k8s"].serviceaccount == model_notify.SERVICEACCOUNT


def test_the_environment_example_makes_what_its_comments_say(tmp_path: Path) -> None:
    (example,) = [b for b in blocks("sh") if "INITSUP_NOTIFY_OPS=" in b]
    environ = dict(IN_A_POD)
    for line in example.splitlines():
        name, _, value = line.partition("#")[0].strip().partition("=")
        environ[name] = value
    config = loaded("[program:web]\ncommand=web\n", tmp_path, environ)
    notifiers = {n.name: n for n in config.notifiers}
    assert notifiers["ops"].kind == "slack"
    assert notifiers["ops"].alarm_interval == 300
    assert notifiers["k8s"].kind == "kubernetes"


# -- the tables ------------------------------------------------------------------------


def test_the_key_table_lists_every_key_the_loader_knows() -> None:
    documented = set(table("## The keys"))
    known = set(config_alerts._CONVERTERS) | {"type", "url", "token_env"}
    assert documented == known


def _shown(value: object) -> str:
    """A model default as the doc writes it: false, 5, 0.5, auto."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize(
    "key",
    [
        "expected",
        "tls",
        "api",
        "serviceaccount",
        "alarm_interval",
        "rate_limit",
        "batch",
        "timeout",
        "retries",
        "queue",
        "stderr_lines",
    ],
)
def test_a_documented_default_is_the_model_s(key: str) -> None:
    default = table("## The keys")[key][0].strip("`")
    assert default == _shown(getattr(model_notify.NotifierConfig("n", "webhook"), key))


def test_the_default_events_are_the_model_s() -> None:
    default = table("## The keys")["events"][0].strip("`")
    assert frozenset(default.split(",")) == model_notify.DEFAULT_ALERT_EVENTS
    assert f"The default is `{default}`" in DOC


def test_the_give_up_keys_and_their_defaults_are_the_model_s() -> None:
    rows = table("Per program, in `[program:x]` (meetbill/supervise's names), the give-up keys:")
    process = model.ProcessConfig.__init__.__kwdefaults__
    assert process is not None
    assert {key: row[0].strip("`") for key, row in rows.items()} == {
        key: f"{process[key]:g}"
        for key in ("max_tries", "max_tries_window", "max_tries_if_coredumped")
    }


def test_initsup_s_own_events_are_all_listed() -> None:
    listed = set(table("## The events"))
    assert set(events.OWN_EVENTS) <= listed
    assert listed - set(events.OWN_EVENTS) <= set(events.EVENT_TYPES) | {
        "PROCESS_STATE_BACKOFF",
        "_STARTING",
        "_RUNNING",
        "_STOPPED",
    }


def test_what_an_alert_carries_is_the_alert_s_fields() -> None:
    fields = set(table("## What an alert carries"))
    body = alert.Alert("PROCESS_STATE_EXITED", "w", "w", time=0.0).as_dict()
    assert fields == set(body)


def test_the_webhook_body_example_has_the_alert_s_fields() -> None:
    """The alert's fields, after the body's version and the notifier's name."""
    body = json.loads(blocks("json")[0])
    fields = alert.Alert("PROCESS_STATE_EXITED", "w", "w", time=0.0).as_dict()
    assert set(body) == {"version", "notifier", *fields}
    assert set(body["pod"]) == set(alert.POD_VARIABLES)


def test_the_records_listed_are_the_ones_initsup_writes() -> None:
    """Each record of the table is one the alerts package publishes, and the example
    record names the alert's event as `alert`, as they do."""
    rows = table(
        "Every alert leaves a JSON record on initsup's stdout, next to the event that made it:"
    )
    sources = "".join(
        (ROOT / "initsup" / "alerts" / name).read_text() for name in ("hub.py", "outbox.py")
    )
    assert set(rows) == {"ALERT_SENT", "ALERT_FAILED", "ALERT_DROPPED", "ALERT_SUPPRESSED"}
    for name in rows:
        assert f'"{name}"' in sources, name
    record = json.loads(blocks("json")[1])
    assert record["event"] in rows
    assert {"notifier", "type", "alert", "program", "group", "attempt", "status"} <= set(record)


def test_the_webhook_body_example_is_valid_against_the_schema() -> None:
    schema_path = ROOT / "docs" / "alert.schema.json"
    if not schema_path.exists():
        pytest.skip("docs/alert.schema.json is not there yet")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(json.loads(blocks("json")[0]), schema)


def slugs(text: str) -> set[str]:
    """The anchors of a Markdown text's headings, as GitHub makes them."""
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_doc_s_links_lead_somewhere() -> None:
    links = re.findall(r"\]\(([^)#]*)(?:#([^)]+))?\)", DOC)
    assert links
    for target, anchor in links:
        if target.startswith("http"):
            continue
        if target == "alert.schema.json" and not (ROOT / "docs" / target).exists():
            continue  # written beside this doc; its own test checks it
        text = DOC if not target else (ROOT / "docs" / target).read_text()
        if anchor:
            assert anchor in slugs(text), f"{target}#{anchor}"


# -- the messages shown are the ones the formats write ---------------------------------


def example_alert(**changes: Any) -> alert.Alert:
    """The webhook example's alert, as the hub would have made it."""
    fields = json.loads(blocks("json")[0])
    for key in ("version", "notifier"):
        fields.pop(key)
    event, program, group = (fields.pop(k) for k in ("event", "program", "group"))
    fields["host"], fields["pod_fields"] = fields.pop("hostname"), fields.pop("pod")
    fields.update(changes)
    return alert.Alert(event, program, group, **fields)


def text_block_holding(words: str) -> str:
    (found,) = [b for b in blocks("text") if words in b]
    return found


def test_the_slack_line_shown_is_what_slack_gets() -> None:
    line = formats.slack_line(example_alert(suppressed=19))
    assert text_block_holding(":rotating_light:") == line + "\n"


def test_the_mail_shown_is_crashmail_s_as_initsup_writes_it() -> None:
    crash = example_alert()
    mail = model_notify.NotifierConfig("mail", "mail", "smtp://mail:25", to=["ops@example.com"])
    assert text_block_holding("Process worker in group worker") == formats.mail_text(crash, mail)
    assert f"`{formats.mail_subject(crash)}`" in DOC
    (job,) = formats.make(mail, {}).jobs([crash])
    assert f"Subject: initsup: {formats.mail_subject(crash)}" in job["message"]
    assert "| `subject` | `initsup` |" in DOC
    assert f"(`{formats.batch_line(crash)}`)" in DOC


def test_the_event_shown_by_kubectl_has_initsup_s_message() -> None:
    crash = example_alert(
        exit_code=1,
        signal=None,
        core_dumped=False,
        restarts=4,
        stderr_tail="Traceback (most recent call last):\nValueError: no such queue\n",
    )
    listing = text_block_holding("Warning  BackOff")
    assert listing.rstrip("\n").endswith("  initsup  " + kubernetes.message(crash))
    assert kubernetes.reason(crash) == "BackOff"
