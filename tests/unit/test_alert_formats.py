"""Unit tests for initsup.alerts.formats: make, and the webhook, Slack and mail requests.

Bodies are checked as their receivers read them: the webhook's against
docs/alert.schema.json with jsonschema, the mail parsed back with the email package and
handed to a real SMTP server (aiosmtpd) through smtplib, as the courier sends it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import smtplib
import subprocess
import sys
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiosmtpd import controller as smtpd

from initsup.alerts.alert import Alert
from initsup.alerts.formats import Mail, Slack, Webhook, make
from initsup.alerts.parts import TAIL_CHARS
from initsup.model_notify import NotifierConfig
from tests.helpers import ROOT

SCHEMA = json.loads((ROOT / "docs" / "alert.schema.json").read_text())
WALL = 1796000100.0  # 2026-11-30T00:55:00Z
POD = {"name": "web-0", "namespace": "shop", "node": "node-1", "uid": "6f1c0b9e-1"}
ENVIRON = {"POD_NAME": "web-0", "POD_NAMESPACE": "shop", "NODE_NAME": "node-1"}


def sample(**overrides: Any) -> Alert:
    """A crash as the hub makes one: web, killed by SIGSEGV with a core, 4th restart."""
    fields: dict[str, Any] = {
        "time": 1796000000.25,
        "state": "EXITED",
        "from_state": "RUNNING",
        "pid": 4242,
        "exit_code": 139,
        "signal": "SIGSEGV",
        "core_dumped": True,
        "expected": False,
        "restarts": 4,
        "stderr_tail": "starting\nSegmentation fault\n",
        "message": "exited: web (terminated by SIGSEGV (core dumped); not expected)",
        "host": "web-0",
        "pod_fields": dict(POD),
    }
    event = overrides.pop("event", "PROCESS_STATE_EXITED")
    program = overrides.pop("program", "web")
    group = overrides.pop("group", program)
    fields.update(overrides)
    return Alert(event, program, group, **fields)


def notifier(kind: str, url: str = "https://hooks.example/x", **kwargs: Any) -> NotifierConfig:
    return NotifierConfig("ops", kind, url, **kwargs)


def body_of(job: dict[str, Any]) -> Any:
    assert job["kind"] == "http"
    body = job["body"]
    body.encode("utf-8")  # what the courier sends: a lone surrogate would raise here
    return json.loads(body)


def valid(body: Any) -> Any:
    jsonschema.Draft202012Validator(SCHEMA).validate(body)
    return body


# make


def test_make_gives_each_kind_its_format() -> None:
    assert type(make(notifier("webhook"), {})) is Webhook
    assert type(make(notifier("slack"), {})) is Slack
    assert type(make(notifier("mail", "smtp://mx:25", to=["a@b.c"]), {})) is Mail
    assert make(notifier("webhook"), {}).batches


def test_make_refuses_a_kind_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="'pager'"):
        make(notifier("pager"), {})


def test_formats_import_neither_email_nor_json_until_a_mail_is_made() -> None:
    code = (
        "import sys\n"
        "from initsup.alerts.formats import make\n"
        "from initsup.alerts.alert import Alert\n"
        "from initsup.model_notify import NotifierConfig as N\n"
        "alert = Alert('PROCESS_STATE_EXITED', 'web', 'web', time=1.0)\n"
        "make(N('w', 'webhook', 'http://h/'), {}).jobs([alert])\n"
        "print('email' in sys.modules, 'json' in sys.modules)\n"
        "make(N('m', 'mail', 'smtp://h:25', to=['a@b.c']), {}).jobs([alert])\n"
        "print('email' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out.split() == ["False", "False", "True"]


# webhook


def test_a_webhook_posts_one_alert_as_the_schema_says() -> None:
    alert = sample()
    (job,) = make(notifier("webhook", timeout=2.5), ENVIRON, wall=lambda: WALL).jobs([alert])
    assert (job["method"], job["url"]) == ("POST", "https://hooks.example/x")
    assert job["headers"]["Content-Type"] == "application/json"
    assert (job["timeout"], job["ca_file"], job["token"], job["token_file"]) == (
        2.5,
        None,
        None,
        None,
    )
    body = valid(body_of(job))
    assert body["stderr_tail"] == "starting\nSegmentation fault"  # its last newline dropped
    assert body == {
        **alert.as_dict(),
        "version": 1,
        "notifier": "ops",
        "stderr_tail": body["stderr_tail"],
    }
    assert (body["signal"], body["core_dumped"], body["restarts"]) == ("SIGSEGV", True, 4)
    assert body["pod"] == POD


def test_the_schema_refuses_what_the_body_must_not_be() -> None:
    (job,) = make(notifier("webhook"), {}).jobs([sample()])
    body = body_of(job)
    for broken in (
        {k: v for k, v in body.items() if k != "core_dumped"},
        {**body, "surprise": 1},
        {**body, "pod": {**body["pod"], "cluster": "x"}},
        {**body, "version": 2},
        {**body, "pid": "4242"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            valid(broken)


def test_a_batch_posts_every_alert_in_one_body() -> None:
    alerts = [sample(), sample(program="worker", event="PROCESS_STATE_FATAL", pid=None)]
    (job,) = make(notifier("webhook", batch=5.0), {}).jobs(alerts)
    body = valid(body_of(job))
    assert (body["version"], body["notifier"], body["count"]) == (1, "ops", 2)
    assert [a["program"] for a in body["alerts"]] == ["web", "worker"]
    assert body["alerts"][1]["event"] == "PROCESS_STATE_FATAL"


def test_with_batch_set_one_alert_is_a_batch_too() -> None:
    (job,) = make(notifier("webhook", batch=5.0), {}).jobs([sample()])
    body = valid(body_of(job))
    assert body["count"] == 1 and body["alerts"][0]["program"] == "web"


def test_several_alerts_without_batch_are_one_batched_body() -> None:
    (job,) = make(notifier("webhook"), {}).jobs([sample(), sample(program="b")])
    assert valid(body_of(job))["count"] == 2


def test_no_alerts_no_jobs() -> None:
    for kind in ("webhook", "slack", "mail"):
        assert make(notifier(kind, to=["a@b.c"]), {}).jobs([]) == []


def test_hostile_names_and_output_give_valid_bodies() -> None:
    tail = "ok\n\ufffd\ufffdbad bytes\nsurrogate \udcff\udc80 and lone \ud800\n" + '"}\n'
    alert = sample(
        program='we"b\n\r\t\x00}{',
        group="g\u2028<script>",
        stderr_tail=tail,
        host="h\udcfe",
        pod_fields={"name": "p\"'", "namespace": None, "node": "\n", "uid": None},
        message="\x1b[31mred",
    )
    (job,) = make(notifier("webhook"), {}).jobs([alert])
    body = valid(body_of(job))
    assert body["program"] == 'we"b\n\r\t\x00}{'
    assert "\ufffd\ufffdbad bytes" in body["stderr_tail"]
    assert "surrogate \\xff\\x80 and lone \\ud800" in body["stderr_tail"]
    assert body["hostname"] == "h\\xfe"
    assert body["pod"]["namespace"] is None
    (batch,) = make(notifier("webhook", batch=1.0), {}).jobs([alert, alert])
    valid(body_of(batch))


def test_a_huge_tail_is_cut_to_stderr_lines_and_its_end_kept() -> None:
    lines = [f"line {i}" for i in range(100_000)]
    alert = sample(stderr_tail="\n".join(lines) + "\n")
    (job,) = make(notifier("webhook", stderr_lines=3), {}).jobs([alert])
    assert valid(body_of(job))["stderr_tail"] == "line 99997\nline 99998\nline 99999"
    (job,) = make(notifier("webhook", stderr_lines=0), {}).jobs([alert])
    assert valid(body_of(job))["stderr_tail"] == ""
    one_long_line = "x" * 1_000_000 + "END"
    (job,) = make(notifier("webhook"), {}).jobs([sample(stderr_tail=one_long_line)])
    cut = valid(body_of(job))["stderr_tail"]
    assert len(cut) == TAIL_CHARS and cut.endswith("xEND")


def test_headers_basic_auth_and_tokens_ride_on_every_http_job() -> None:
    config = notifier(
        "webhook",
        headers={"X-Team": "ops", "User-Agent": "mine"},
        username="user",
        password="pä:ss",
        token="t0k",
        token_file="/run/secrets/token",
        ca_file="/etc/ca.pem",
    )
    for kind in ("webhook", "slack"):
        config.kind = kind
        (job,) = make(config, {}).jobs([sample()])
        headers = job["headers"]
        assert headers["X-Team"] == "ops" and headers["User-Agent"] == "mine"
        scheme, _, encoded = headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(encoded).decode("utf-8") == "user:pä:ss"
        assert (job["token"], job["token_file"], job["ca_file"]) == (
            "t0k",
            "/run/secrets/token",
            "/etc/ca.pem",
        )


def test_no_credentials_no_authorization_header() -> None:
    (job,) = make(notifier("webhook"), {}).jobs([sample()])
    assert "Authorization" not in job["headers"]
    assert job["headers"]["User-Agent"].startswith("initsup/")


# slack


def slack(*alerts: Alert, **kwargs: Any) -> Any:
    (job,) = make(notifier("slack", **kwargs), ENVIRON, wall=lambda: WALL).jobs(list(alerts))
    assert (job["method"], job["headers"]["Content-Type"]) == ("POST", "application/json")
    body = body_of(job)
    for block in body["blocks"]:
        texts = [block["text"]] if "text" in block else block["elements"]
        assert all(len(t["text"]) <= 3000 for t in texts)
    return body


def test_slack_says_it_in_one_line() -> None:
    body = slack(sample())
    line = (
        ":rotating_light: *web* (group web) exited unexpectedly: terminated by SIGSEGV"
        " (core dumped), restart 4, pod shop/web-0 on node-1"
    )
    assert body["text"] == line
    section, context, code = body["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": line}}
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == (
        "host web-0 | pod shop/web-0 on node-1 | 2026-11-30T00:53:20Z"
    )
    assert code["text"]["text"] == "```\nstarting\nSegmentation fault\n```"


def test_slack_escapes_what_mrkdwn_reads_as_markup() -> None:
    body = slack(sample(program="a<b>&c", stderr_tail="<@U123> & ```done```\n"))
    assert "*a&lt;b&gt;&amp;c*" in body["text"]
    code = body["blocks"][2]["text"]["text"]
    assert code.startswith("```\n&lt;@U123&gt; &amp; ``\u200b`done``\u200b`")
    assert code.count("```") == 2


def test_slack_says_how_many_were_suppressed() -> None:
    assert slack(sample(suppressed=17))["text"].endswith(" (+17 suppressed)")


def test_a_good_event_gets_a_check_mark_and_no_empty_blocks() -> None:
    healthy = sample(event="PROCESS_HEALTHY", signal=None, exit_code=None, stderr_tail="")
    body = slack(healthy)
    assert body["text"].startswith(":white_check_mark: *web* (group web) is healthy again")
    assert len(body["blocks"]) == 2


def test_a_huge_tail_fits_slacks_block_and_keeps_its_end() -> None:
    tail = "\n".join(f"<{i}> & more" for i in range(5000)) + "\nlast &"
    body = slack(sample(stderr_tail=tail), stderr_lines=5000)
    code = body["blocks"][2]["text"]["text"]
    assert 2900 < len(code) <= 3000
    assert code.startswith("```\n...\n") and code.endswith("last &amp;\n```")


def test_a_slack_batch_lists_each_alert() -> None:
    alerts = [sample(program=f"p{i}", stderr_tail=f"err {i}") for i in range(3)]
    body = slack(*alerts)
    lines = body["text"].split("\n")
    assert lines[0] == "3 alerts:"
    assert [line.split("*")[1] for line in lines[1:]] == ["p0", "p1", "p2"]
    tails = [b["text"]["text"] for b in body["blocks"][2:]]
    assert tails == [f"*p{i}* stderr:\n```\nerr {i}\n```" for i in range(3)]


def test_a_long_slack_batch_says_how_many_it_left_out() -> None:
    alerts = [sample(program="p" * 90 + str(i)) for i in range(100)]
    body = slack(*alerts)
    assert body["text"].endswith(" more")
    assert len(body["blocks"]) <= 50


# mail


def mail(*alerts: Alert, **kwargs: Any) -> tuple[dict[str, Any], EmailMessage]:
    kwargs.setdefault("to", ["ops@example.com", "dev@example.com"])
    config = notifier("mail", "smtp://mx.example:25", **kwargs)
    (job,) = make(config, ENVIRON, wall=lambda: WALL).jobs(list(alerts))
    assert job["kind"] == "smtp"
    job["message"].encode("ascii")  # smtplib sends a str message only when it is ASCII
    assert job["message"].count("\n") == job["message"].count("\r\n")  # SMTP's line ends
    parsed = message_from_string(job["message"].replace("\r\n", "\n"), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return job, parsed


def test_a_mail_is_crashmails() -> None:
    job, msg = mail(sample())
    assert msg["Subject"] == "initsup: web crashed at 2026-11-30 00:53:20 UTC"
    assert msg["To"] == "ops@example.com, dev@example.com"
    assert msg["Date"].datetime.timestamp() == WALL
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith(">")
    assert msg["From"].startswith("initsup@")
    assert msg.get_content_type() == "text/plain"
    assert msg["Content-Transfer-Encoding"] == "7bit"  # readable as it is
    text = msg.get_content()
    first, blank, *rest = text.split("\n")
    assert first == "Process web in group web exited unexpectedly (pid 4242) from state RUNNING"
    assert blank == ""
    assert "exit: terminated by SIGSEGV (core dumped) (exit code 139)" in rest
    assert "restarts: 4" in rest
    assert "where: pod shop/web-0 on node-1" in rest
    assert text.endswith("Last lines of stderr (20 at most):\nstarting\nSegmentation fault\n")
    assert job["to"] == ["ops@example.com", "dev@example.com"]
    assert (job["url"], job["tls"], job["timeout"]) == ("smtp://mx.example:25", "auto", 5.0)
    assert job["sender"] == msg["From"]


def test_a_mails_sender_subject_and_credentials_come_from_the_notifier() -> None:
    job, msg = mail(
        sample(event="PROCESS_STATE_FATAL", from_state="BACKOFF", pid=None, signal=None),
        sender="Ops Team <ops@example.com>",
        subject="shop",
        username="u",
        password="p",
        tls="starttls",
        ca_file="/ca.pem",
    )
    assert msg["Subject"] == "shop: web failed to start too many times at 2026-11-30 00:53:20 UTC"
    assert msg["From"] == "Ops Team <ops@example.com>"
    assert job["sender"] == "ops@example.com"
    assert (job["username"], job["password"], job["tls"], job["ca_file"]) == (
        "u",
        "p",
        "starttls",
        "/ca.pem",
    )
    assert msg.get_content().startswith("Process web in group web failed to start too many times")


def test_a_hostile_program_name_cannot_add_mail_headers() -> None:
    _, msg = mail(sample(program="web\r\nBcc: victim@example.com\r\n\r\nbody"))
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"]
    assert msg["Subject"].startswith("initsup: web  Bcc: victim@example.com")


def test_a_mail_carries_any_text_as_utf8() -> None:
    alert = sample(program="wéb-日本", stderr_tail="naïve \udcff end\n")
    _, msg = mail(alert)
    assert msg["Subject"] == "initsup: wéb-日本 crashed at 2026-11-30 00:53:20 UTC"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert all(len(line) <= 78 for line in msg.as_string().split("\n"))
    assert msg.get_content().endswith("naïve \\xff end\n")


def test_a_line_too_long_for_smtp_is_quoted_printable() -> None:
    _, msg = mail(sample(stderr_tail="x" * 3000 + "END\n"))
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content().endswith("\n" + "x" * 3000 + "END\n")


def test_a_batched_mail_is_crashmailbatchs() -> None:
    fatal = sample(program="db", event="PROCESS_STATE_FATAL", from_state="BACKOFF", pid=None)
    _, msg = mail(sample(suppressed=3), fatal, batch=60.0)
    assert msg["Subject"] == "initsup: 2 alerts from web-0"
    lines = msg.get_content().split("\n")
    assert lines[:2] == [
        "2026-11-30 00:53:20 UTC -- Process web:web (pid 4242) died unexpectedly (+3 suppressed)",
        "2026-11-30 00:53:20 UTC -- Process db:db failed to start too many times",
    ]
    assert "Process db in group db failed to start too many times from state BACKOFF" in lines


def test_a_mail_goes_through_a_real_smtp_server(tmp_path: Path) -> None:
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    class Controller(smtpd.Controller):
        def _trigger_server(self) -> None:
            # bound to port 0: the kernel's pick is known only now
            assert isinstance(self.server, asyncio.Server)
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()  # type: ignore[no-untyped-call]

    controller = Controller(Handler(), hostname="127.0.0.1", port=0)
    controller.start()
    try:
        port = controller.port
        job, _ = mail(sample(program="wéb"), sender="ops@example.com")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail(job["sender"], job["to"], job["message"])
    finally:
        controller.stop()
    (envelope,) = received
    assert envelope.mail_from == "ops@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "dev@example.com"]
    text = envelope.content.decode("ascii").replace("\r\n", "\n")
    got = message_from_string(text, policy=policy.default)
    assert got["Subject"].startswith("initsup: wéb crashed at")
    assert isinstance(got, EmailMessage)
    assert got.get_content().startswith("Process wéb in group wéb exited unexpectedly")


def test_a_health_alert_tells_its_check_not_an_earlier_exit() -> None:
    unhealthy = sample(event="PROCESS_UNHEALTHY", detail="HTTP 503", exit_code=0, signal=None)
    assert slack(unhealthy)["text"].startswith(
        ":rotating_light: *web* (group web) is unhealthy: HTTP 503, restart 4,"
    )
    _, msg = mail(unhealthy)
    assert "detail: HTTP 503" in msg.get_content().split("\n")
    assert "exit status" not in msg.get_content()
    fatal = sample(event="PROCESS_STATE_FATAL", detail="ignored", signal=None, exit_code=2)
    assert "crashed too many times (no more restarts): exit status 2," in slack(fatal)["text"]
    fatal.from_state = "BACKOFF"
    assert "failed to start too many times: exit status 2," in slack(fatal)["text"]
