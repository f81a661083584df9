"""The receivers every alert test uses (tests/receivers), checked with stdlib clients."""

from __future__ import annotations

import http.client
import json
import smtplib
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.receivers import AlertmanagerApi, HttpReceiver, KubernetesApi, SmtpReceiver, tls_files


def call(
    url: str,
    method: str = "POST",
    body: Any = None,
    headers: dict[str, str] | None = None,
    ca_file: Path | None = None,
) -> tuple[int, Any]:
    """(status, JSON body or text) of one request."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=str(ca_file))
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=10, context=context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    try:
        connection.request(method, parts.path or "/", data, headers or {})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode()


def test_the_certificate_is_trusted_for_the_loopback_names(tmp_path: Path) -> None:
    cert, _ = tls_files(tmp_path)
    with HttpReceiver(tls=True) as receiver:
        assert call(receiver.url, ca_file=receiver.ca_file)[0] == 200
        url = receiver.url.replace("127.0.0.1", "localhost")
        assert call(url, ca_file=receiver.ca_file)[0] == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            call(receiver.url, ca_file=cert)  # another certificate: not its CA


def test_http_receiver_records_and_answers_as_told() -> None:
    with HttpReceiver(token="t", status=[503, 200]) as receiver:
        assert call(f"{receiver.url}/a", body={"x": 1})[0] == 401
        bearer = {"Authorization": "Bearer t"}
        assert call(f"{receiver.url}/b", body={"x": 2}, headers=bearer)[0] == 200
        receiver.token = "u"
        assert call(f"{receiver.url}/c", body=b"raw", headers=bearer)[0] == 401
        first, second, third = receiver.wait_for(3)
    assert (first.path, first.json, first.status) == ("/a", {"x": 1}, 401)
    assert (second.json, second.status, second.headers["authorization"]) == (
        {"x": 2},
        200,
        "Bearer t",
    )
    assert (third.body, third.json) == (b"raw", None)


def test_http_receiver_refuses_then_answers_on_the_same_port() -> None:
    with HttpReceiver(mode="refuse") as receiver:
        url = receiver.url
        with pytest.raises(ConnectionRefusedError):
            call(url)
        receiver.mode = ["close", "answer"]
        assert receiver.url == url
        with pytest.raises(http.client.RemoteDisconnected):
            call(url)
        assert call(url)[0] == 200
    with pytest.raises(ConnectionRefusedError):
        call(url)  # closed for good


def test_smtp_receiver_records_messages_and_refuses_when_told() -> None:
    with SmtpReceiver() as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.sendmail("a@example.com", ["b@example.com"], "Subject: hi\r\n\r\nbody\r\n")
            server.answer = "554 no"
            with pytest.raises(smtplib.SMTPDataError):
                client.sendmail("a@example.com", ["b@example.com"], "Subject: again\r\n\r\n")
        (message,) = server.wait_for(1)
    assert (message.sender, message.to) == ("a@example.com", ["b@example.com"])
    assert "Subject: hi" in message.text and server.messages == [message]


def core_event(name: str = "web.1", **extra: Any) -> dict[str, Any]:
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "pod-1", "namespace": "default"},
        "reason": "BackOff",
        "message": "web exited",
        "type": "Warning",
        "count": 1,
    }
    event.update(extra)
    return event


def test_kubernetes_api_creates_patches_and_validates_events(tmp_path: Path) -> None:
    with KubernetesApi(tmp_path) as api:
        account = api.serviceaccount
        token = (account / "token").read_text().strip()
        assert (account / "namespace").read_text() == "default"
        auth = {"Authorization": f"Bearer {token}"}
        events = f"{api.url}/api/v1/namespaces/default/events"

        def send(method: str, url: str, body: Any, **headers: str) -> tuple[int, Any]:
            return call(url, method, body, {**auth, **headers}, account / "ca.crt")

        assert send("POST", events, core_event())[0] == 201
        patch = {"content-type": "application/merge-patch+json"}
        status, patched = send("PATCH", f"{events}/web.1", {"count": 2}, **patch)
        assert (status, patched["count"], patched["reason"]) == (200, 2, "BackOff")
        status, missing = send("PATCH", f"{events}/nope", {"count": 2}, **patch)
        assert (status, missing["kind"], missing["reason"]) == (404, "Status", "NotFound")
        assert send("POST", events, core_event("bad", colour="red"))[0] == 422
        newer = f"{api.url}/apis/events.k8s.io/v1/namespaces/default/events"
        no_time = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "x"}}
        assert send("POST", newer, no_time)[0] == 422  # eventTime is required there
        api.rotate("token-2")
        assert send("POST", events, core_event("web.2"))[0] == 401
        assert (account / "token").read_text().strip() == "token-2"
        writes = api.wait_for(2)
    assert [verb for verb, _ in writes] == ["create", "patch"]
    assert api.events["web.1"]["count"] == 2
    assert [obj["metadata"]["name"] for obj, _ in api.invalid] == ["bad", "x"]
    assert "colour" in api.invalid[0][1]


def test_alertmanager_api_takes_postable_alerts_and_refuses_bad_shapes() -> None:
    good = {
        "labels": {"alertname": "ProcessExited", "program": "web"},
        "annotations": {"summary": "web exited"},
        "startsAt": "2026-12-06T07:00:00.123456789Z",
        "endsAt": "2026-12-06T07:05:00+00:00",
        "generatorURL": "http://pod/",
    }
    with AlertmanagerApi() as api:
        url = f"{api.url}/api/v2/alerts"
        assert call(url, body=[good, {"labels": {"alertname": "x"}}])[0] == 200
        assert call(url, body=[{**good, "labels": {"bad-name": "x"}}])[0] == 400
        assert call(url, body=[{**good, "startsAt": "yesterday"}])[0] == 400
        assert call(url, body=[{**good, "endsAt": "2026-12-06T06:00:00Z"}])[0] == 400
        assert call(url, body=[{**good, "labels": {"n": 1}}])[0] == 400
        assert call(url, body={"labels": {}})[0] == 400
        alerts = api.wait_for(2)
    assert alerts[0] == good and len(api.invalid) == 5
