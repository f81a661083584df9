"""Unit tests for initsup.config.alerts: [notify:NAME] sections and INITSUP_NOTIFY_*
variables into NotifierConfig, every bad value named with its file, section and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from initsup.config import load
from initsup.config.packing import pack, unpack
from initsup.model_notify import NotifierConfig
from tests.unit.configs import (
    _commands_resolve,  # noqa: F401  (autouse: the made-up commands resolve)
    problems,
    warnings_of,
    write,
)

PROGRAM = "[program:web]\ncommand=/bin/app\n"


def notifiers(
    tmp_path: Path, body: str, environ: dict[str, str] | None = None
) -> list[NotifierConfig]:
    cfg, _ = load(write(tmp_path, PROGRAM + body), environ or {})
    return cfg.notifiers


def test_no_notifier_by_default(tmp_path: Path) -> None:
    assert notifiers(tmp_path, "") == []


def test_a_webhook_with_the_defaults(tmp_path: Path) -> None:
    [hook] = notifiers(tmp_path, "[notify:hook]\ntype=webhook\nurl=https://example.com/in\n")
    assert hook == NotifierConfig("hook", "webhook", "https://example.com/in")
    assert hook.events == frozenset({"PROCESS_STATE_EXITED", "PROCESS_STATE_FATAL"})
    assert (hook.alarm_interval, hook.rate_limit, hook.batch) == (0.0, 0, 0.0)
    assert (hook.timeout, hook.retries, hook.queue, hook.stderr_lines) == (5.0, 3, 100, 20)
    assert hook.expected is False and hook.programs == frozenset()


def test_every_key_of_a_webhook(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    [hook] = notifiers(
        tmp_path,
        "[notify:hook]\ntype=WEBHOOK\nurl=http://[::1]:8080/x?y=1\n"
        "events=process_state, ESSENTIAL_EXIT\nprograms=web\nexpected=true\n"
        "headers=X-Team: ops\n  X-Env: prod, eu\ntoken_file=%(here)s/token\n"
        "username=u\npassword=p\nca_file=%(here)s/ca.pem\nalarm_interval=60\n"
        "rate_limit=30\nbatch=0.5\ntimeout=2\nretries=0\nqueue=5\nstderr_lines=3\n",
    )
    assert hook.events == frozenset({"PROCESS_STATE", "ESSENTIAL_EXIT"})
    assert hook.programs == frozenset({"web"}) and hook.expected is True
    assert hook.headers == {"X-Team": "ops", "X-Env": "prod, eu"}
    assert hook.token_file == str(tmp_path / "token")
    assert hook.ca_file == str(tmp_path / "ca.pem")
    assert (hook.username, hook.password) == ("u", "p")
    assert (hook.alarm_interval, hook.rate_limit, hook.batch) == (60.0, 30, 0.5)
    assert (hook.timeout, hook.retries, hook.queue, hook.stderr_lines) == (2.0, 0, 5, 3)


def test_mail_needs_recipients_and_an_smtp_url(tmp_path: Path) -> None:
    [mail] = notifiers(
        tmp_path,
        "[notify:ops]\ntype=mail\nurl=smtp://mx.example.com\nto=a@example.com, b@example.com\n"
        "from=initsup@example.com\nsubject=prod\ntls=starttls\n",
    )
    assert mail.url == "smtp://mx.example.com:25"
    assert mail.to == ["a@example.com", "b@example.com"]
    assert (mail.sender, mail.subject, mail.tls) == ("initsup@example.com", "prod", "starttls")
    [mail] = notifiers(tmp_path, "[notify:ops]\ntype=mail\nurl=smtps://[::1]\nto=a@b.c\n")
    assert mail.url == "smtps://[::1]:465"
    path = write(tmp_path, PROGRAM + "[notify:ops]\ntype=mail\nurl=smtp://mx\n")
    assert problems(path) == [f"{path}: [notify:ops]: type=mail needs to= (the recipients)"]


def test_variables_make_a_notifier(tmp_path: Path) -> None:
    environ = {
        "INITSUP_NOTIFY_SLACK": "slack",
        "INITSUP_NOTIFY_SLACK__URL": "https://hooks.slack.com/services/T0/B0/secret",
        "INITSUP_NOTIFY_SLACK__ALARM_INTERVAL": "120",
        "INITSUP_NOTIFY_HOOK__TYPE": "webhook",
        "INITSUP_NOTIFY_HOOK__URL": "http://127.0.0.1:9/",
        "INITSUP_NOTIFY_HOOK__TOKEN_ENV": "HOOK_TOKEN",
        "HOOK_TOKEN": " s3cret\n",
    }
    hook, slack = notifiers(tmp_path, "", environ)
    assert (slack.name, slack.kind, slack.alarm_interval) == ("slack", "slack", 120.0)
    assert (hook.kind, hook.token) == ("webhook", "s3cret")
    shown = hook.as_dict()
    assert shown["token"] == "(set)"
    assert slack.as_dict()["url"] == "https://hooks.slack.com/(hidden)"


def test_kubernetes_finds_the_api_server_as_in_cluster_clients(tmp_path: Path) -> None:
    body = "[notify:k8s]\ntype=kubernetes\napi=events.k8s.io/v1\n"
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    [k8s] = notifiers(tmp_path, body, environ)
    assert (k8s.url, k8s.api) == ("https://10.96.0.1:6443", "events.k8s.io/v1")
    assert k8s.serviceaccount == "/var/run/secrets/kubernetes.io/serviceaccount"
    [k8s] = notifiers(tmp_path, body, {"KUBERNETES_SERVICE_HOST": "fd00::1"})
    assert k8s.url == "https://[fd00::1]:443"


def test_kubernetes_outside_a_pod_is_kept_silent_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, PROGRAM + "[notify:k8s]\ntype=kubernetes\n")
    cfg, warnings = load(path, {})
    assert cfg.notifiers[0].url == ""
    assert warnings == [
        f"{path}: [notify:k8s]: no url= and no KUBERNETES_SERVICE_HOST (not in a Kubernetes"
        " pod): this notifier sends nothing"
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("type=pager\nurl=http://x/", "type = 'pager': must be one of webhook, slack, mail"),
        ("type=webhook\nurl=ftp://x/", "url = 'ftp://x/': must be an http:// or https:// URL"),
        ("type=webhook\nurl=http://u:p@x/", "must not hold credentials"),
        ("type=webhook\nurl=http://x:0/", "must name a port from 1 to 65535"),
        ("type=webhook", "type=webhook needs url= (https://host/path)"),
        ("url=http://x/", "needs type= (one of webhook, slack, mail, alertmanager, kubernetes)"),
        ("type=mail\nurl=http://x/\nto=a@b", "must be smtp://host[:port] or smtps://host[:port]"),
        ("type=webhook\nurl=http://x/\nevents=CRASH", "names unknown events 'CRASH'"),
        ("type=webhook\nurl=http://x/\nprograms=api", "names unknown programs 'api'"),
        ("type=webhook\nurl=http://x/\nheaders=X-A", "expected Name: value"),
        ("type=webhook\nurl=http://x/\nheaders=X A: 1", "expected Name: value"),
        ("type=mail\nurl=smtp://x\nto=a b@c", "must be mail addresses separated by commas"),
        ("type=webhook\nurl=http://x/\ntimeout=0", "must be from 0.1 to 300"),
        ("type=webhook\nurl=http://x/\nqueue=0", "must be from 1 to 100000"),
        ("type=webhook\nurl=http://x/\ntoken_env=NOPE", "names variable 'NOPE', which is not set"),
        ("type=webhook\nurl=http://x/\nca_file=/no/such/ca.pem", "must name a file that exists"),
        ("type=alertmanager\nurl=http://x/\nlabels=a-b=1", "Alertmanager's names are"),
        ("type=kubernetes\napi=v2", "api = 'v2': must be one of v1, events.k8s.io/v1"),
    ],
)
def test_bad_values_are_named_with_their_place(tmp_path: Path, body: str, problem: str) -> None:
    path = write(tmp_path, PROGRAM + "[notify:n]\n" + body + "\n")
    found = problems(path)
    assert len(found) == 1 and problem in found[0], found
    assert found[0].startswith(f"{path}: [notify:n]")


def test_a_header_or_subject_cannot_smuggle_a_line(tmp_path: Path) -> None:
    environ = {
        "INITSUP_NOTIFY_M": "mail",
        "INITSUP_NOTIFY_M__URL": "smtp://mx",
        "INITSUP_NOTIFY_M__TO": "a@b.c",
        "INITSUP_NOTIFY_M__SUBJECT": "hi\nBcc: all@example.com",
    }
    [problem] = problems(None, {**environ, "INITSUP_PROGRAM_WEB": "/bin/app"})
    assert problem.startswith("INITSUP_NOTIFY_M__SUBJECT=") and "must be one line" in problem


def test_keys_of_other_types_and_unknown_keys_are_said(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        PROGRAM + "[notify:n]\ntype=webhook\nurl=http://x/\nto=a@b.c\ncolour=red\n",
    )
    assert warnings_of(path) == [
        f"{path}: [notify:n] to = 'a@b.c': applies to type mail only, ignored",
        f"{path}: [notify:n] colour = 'red': is not an option initsup knows, ignored",
    ]


def test_a_bare_variable_without_a_name_is_refused() -> None:
    found = problems(None, {"INITSUP_PROGRAM_WEB": "/bin/app", "INITSUP_NOTIFY_": "webhook"})
    assert found == [
        "INITSUP_NOTIFY_='webhook': expected INITSUP_NOTIFY_<NAME>__<OPTION>=<value>"
        " or INITSUP_NOTIFY_<NAME>=<type>"
    ]


def test_notifiers_cross_the_reload_readers_pipe(tmp_path: Path) -> None:
    cfg, _ = load(
        write(tmp_path, PROGRAM + "[notify:hook]\ntype=webhook\nurl=http://x/\nheaders=A: 1\n"),
        {},
    )
    assert unpack(pack(cfg)) == cfg
