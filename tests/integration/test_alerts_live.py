"""Alerts from a real initsup to real receivers on loopback: a webhook and Slack over
HTTP, mail over SMTP with STARTTLS and AUTH (aiosmtpd), Alertmanager firing then
resolved, and Kubernetes Events behind TLS and a bearer token that rotates mid-test,
every Event checked against the real schemas (kubernetes-validate)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from email import message_from_string
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.helpers import INITSUP, ROOT, env
from tests.receivers import AlertmanagerApi, HttpReceiver, KubernetesApi, SmtpReceiver
from tests.supervised import Supervised

ALERT_SCHEMA = json.loads((ROOT / "docs" / "alert.schema.json").read_text())
POD = {"POD_NAME": "web-0", "POD_NAMESPACE": "default", "NODE_NAME": "node-1"}
POD_UID = "6f0b3a5e-2a7c-4a57-9d43-3c4e0e0d9a11"
# Fails once, loudly, then stays up: one crash, then a recovery.
ONCE = (
    "command=sh -c 'if [ -e failed ]; then exec sleep 1000; fi;"
    " touch failed; echo cannot reach db >&2; exit 3'\n"
    "startsecs=0\n"
)


def crash_once(tmp_path: Path) -> str:
    return f"[program:web]\n{ONCE}directory={tmp_path}\n"


def test_a_webhook_and_slack_get_the_crash_with_its_facts(tmp_path: Path) -> None:
    with HttpReceiver() as hook, HttpReceiver() as slack:
        ini = (
            "[program:web]\ncommand=sh -c 'echo cannot reach db >&2; exit 3'\n"
            "startsecs=0\nautorestart=false\n"
            f"[notify:hook]\ntype=webhook\nurl={hook.url}/in\nheaders=X-Team: ops\n"
            "token_env=HOOK_TOKEN\n"
            f"[notify:slack]\ntype=slack\nurl={slack.url}/services/T0/B0/secret\n"
        )
        variables = {**POD, "POD_UID": POD_UID, "HOOK_TOKEN": "s3cret"}
        run = Supervised(tmp_path, ini, variables)
        try:
            [request] = hook.wait_for(1)
            body = request.json
            jsonschema.validate(body, ALERT_SCHEMA)
            assert (request.method, request.path) == ("POST", "/in")
            assert request.headers["authorization"] == "Bearer s3cret"
            assert request.headers["x-team"] == "ops"
            assert (body["event"], body["program"], body["group"]) == (
                "PROCESS_STATE_EXITED",
                "web",
                "web",
            )
            assert (body["exit_code"], body["signal"], body["core_dumped"]) == (3, None, False)
            assert body["stderr_tail"] == "cannot reach db"
            assert body["restarting"] is False  # autorestart=false
            assert body["pod"] == {
                "name": "web-0",
                "namespace": "default",
                "node": "node-1",
                "uid": POD_UID,
            }
            assert body["hostname"] == os.uname().nodename
            [posted] = slack.wait_for(1)
            assert "web" in posted.json["text"] and "exit status 3" in posted.json["text"]
            run.wait("ALERT_SENT", notifier="hook", alert="PROCESS_STATE_EXITED")
            run.wait("ALERT_SENT", notifier="slack")
        finally:
            run.close()


def test_mail_goes_over_starttls_with_auth(tmp_path: Path) -> None:
    with SmtpReceiver(starttls=True, auth=("alerts", "pw")) as smtp:
        ini = crash_once(tmp_path) + (
            f"[notify:ops]\ntype=mail\nurl={smtp.url}\ntls=starttls\nca_file={smtp.ca_file}\n"
            "username=alerts\npassword=pw\nto=ops@example.com\nfrom=initsup@example.com\n"
        )
        run = Supervised(tmp_path, ini, POD)
        try:
            [message] = smtp.wait_for(1)
            assert message.tls and message.authenticated
            assert (message.sender, message.to) == ("initsup@example.com", ["ops@example.com"])
            mail = message_from_string(message.text)
            assert "web crashed" in mail["Subject"]
            payload = mail.get_payload(decode=True)
            assert isinstance(payload, bytes)
            text = payload.decode()
            assert "Process web in group web exited unexpectedly" in text
            assert "cannot reach db" in text
            run.wait("ALERT_SENT", notifier="ops", status=250)
        finally:
            run.close()


def test_alertmanager_gets_the_alert_firing_then_resolved(tmp_path: Path) -> None:
    with AlertmanagerApi() as manager:
        ini = crash_once(tmp_path) + f"[notify:am]\ntype=alertmanager\nurl={manager.url}\n"
        run = Supervised(tmp_path, ini, POD)
        try:
            firing, resolved = manager.wait_for(2)
            assert manager.invalid == []
            assert firing["labels"]["alertname"] == "InitsupProgramExited"
            assert (firing["labels"]["program"], firing["labels"]["pod"]) == ("web", "web-0")
            assert "endsAt" not in firing
            assert resolved["labels"] == firing["labels"]
            assert resolved["endsAt"] >= resolved["startsAt"]
            run.wait("PROCESS_STATE_RUNNING", program="web")
        finally:
            run.close()


@pytest.mark.parametrize("api", ["v1", "events.k8s.io/v1"])
def test_kubernetes_events_count_repeats_and_follow_a_rotated_token(
    tmp_path: Path, api: str
) -> None:
    with KubernetesApi(tmp_path) as server:
        ini = (
            "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
            f"[notify:k8s]\ntype=kubernetes\napi={api}\nserviceaccount={server.serviceaccount}\n"
        )
        variables = {**POD, "POD_UID": POD_UID, **server.environ()}
        run = Supervised(tmp_path, ini, variables)
        try:
            kill_when_running(run)
            [(verb, event)] = server.wait_for(1)
            assert verb == "create"
            server.rotate("token-2")  # the kubelet's rotation: the old token is refused now
            kill_when_running(run)
            _, (verb, patched) = server.wait_for(2)
            assert server.invalid == []
            assert verb == "patch"
            assert patched["metadata"]["name"] == event["metadata"]["name"]
            assert count_of(patched) == 2
            regarding = event.get("involvedObject") or event["regarding"]
            assert (regarding["kind"], regarding["name"], regarding["uid"]) == (
                "Pod",
                "web-0",
                POD_UID,
            )
            assert event.get("type") == "Warning" and event["reason"] == "BackOff"
        finally:
            run.close()


def kill_when_running(run: Supervised) -> None:
    record = run.wait("PROCESS_STATE_RUNNING", program="web")
    os.kill(record["pid"], signal.SIGKILL)
    run.wait("PROCESS_STATE_EXITED", program="web")


def count_of(event: dict[str, Any]) -> int:
    if "series" in event:
        return int(event["series"]["count"])
    return int(event["count"])


def test_max_tries_gives_up_and_says_so(tmp_path: Path) -> None:
    with HttpReceiver() as hook:
        ini = (
            "[program:web]\ncommand=sh -c 'exit 3'\nstartsecs=0\nbackoff_max=0\nmax_tries=2\n"
            f"[notify:hook]\ntype=webhook\nurl={hook.url}\nevents=PROCESS_STATE_FATAL\n"
        )
        run = Supervised(tmp_path, ini)
        try:
            [request] = hook.wait_for(1)
            body = request.json
            assert (body["event"], body["state"], body["exit_code"]) == (
                "PROCESS_STATE_FATAL",
                "FATAL",
                3,
            )
            assert "max_tries=2" in body["message"]
            assert body["restarts"] == 2
        finally:
            run.close()


def test_check_lists_the_notifiers_without_their_secrets(tmp_path: Path) -> None:
    config = tmp_path / "initsup.ini"
    config.write_text(
        "[program:web]\ncommand=sleep 1000\n"
        "[notify:slack]\ntype=slack\nurl=https://hooks.slack.com/services/T0/B0/s3cret\n"
        "events=PROCESS_STATE_FATAL,PROCESS_UNHEALTHY\n"
    )
    shown = subprocess.run(
        [*INITSUP, "check", "-c", str(config)], env=env(), capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert "[notify:slack] slack: PROCESS_STATE_FATAL,PROCESS_UNHEALTHY" in shown.stdout
    as_json = subprocess.run(
        [*INITSUP, "check", "--json", "-c", str(config)], env=env(), capture_output=True, text=True
    )
    assert "s3cret" not in shown.stdout + as_json.stdout
    [slack] = json.loads(as_json.stdout)["notifiers"]
    assert slack["url"] == "https://hooks.slack.com/(hidden)"
