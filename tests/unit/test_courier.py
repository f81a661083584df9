"""The courier (initsup.alerts.courier) run as PID 1 runs it: a real child, `command()`, the job
on its stdin, against real receivers on loopback (tests/receivers)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from initsup.alerts import courier, courier_http
from initsup.alerts.courier_net import Failed, split_url
from tests.helpers import ROOT, imported_modules
from tests.integration.test_install import _interpreter
from tests.receivers import HttpReceiver, SmtpReceiver

REPLY_KEYS = {"ok", "status", "detail", "retry", "body"}


def run(
    job: dict[str, Any] | bytes, argv: list[str] | None = None, cwd: Path | None = None
) -> tuple[dict[str, Any], float, bytes]:
    """(reply, seconds the child took, its stderr) of one job done by a courier child."""
    data = job if isinstance(job, bytes) else courier.encode_job(job)
    started = time.monotonic()
    done = subprocess.run(
        argv or courier.command(), input=data, capture_output=True, timeout=60, cwd=cwd, env={}
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # exactly one reply line, whatever happened
    answer = json.loads(lines[0])
    assert set(answer) == REPLY_KEYS
    return answer, took, done.stderr


def http_job(url: str, **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {"kind": "http", "method": "POST", "url": url, "headers": {}}
    job["body"] = '{"a": 1}'
    job.update(timeout=5.0, ca_file=None, token=None, token_file=None)
    job.update(extra)
    return job


# -- HTTP -------------------------------------------------------------------------------------


def test_a_plain_http_post_reaches_the_receiver_as_sent() -> None:
    with HttpReceiver(status=201, body=b'{"id": 7}') as receiver:
        job = http_job(f"{receiver.url}/hooks/crash?x=1", headers={"X-Team": "ops"})
        answer, _, stderr = run(job)
        (request,) = receiver.wait_for(1)
    assert answer == {
        "ok": True,
        "status": 201,
        "detail": "HTTP 201 Created",
        "retry": False,
        "body": '{"id": 7}',
    }
    assert stderr == b""
    assert (request.method, request.path, request.json) == ("POST", "/hooks/crash?x=1", {"a": 1})
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-team"] == "ops"
    assert request.headers["connection"] == "close"
    assert request.headers["user-agent"].startswith("initsup/")


def test_the_jobs_headers_may_name_another_content_type_and_method() -> None:
    with HttpReceiver() as receiver:
        job = http_job(receiver.url, method="PATCH", headers={"content-type": "text/plain"})
        job["body"] = "héllo"
        answer, _, _ = run(job)
        (request,) = receiver.wait_for(1)
    assert answer["ok"]
    assert (request.method, request.headers["content-type"]) == ("PATCH", "text/plain")
    assert request.body == "héllo".encode()


def test_https_trusts_the_ca_file_and_nothing_else_by_default(tmp_path: Path) -> None:
    with HttpReceiver(tls=True) as receiver:
        trusted, _, _ = run(http_job(receiver.url, ca_file=str(receiver.ca_file)))
        untrusted, _, _ = run(http_job(receiver.url))
        missing, _, _ = run(http_job(receiver.url, ca_file=str(tmp_path / "none.crt")))
        received = receiver.wait_for(1)
    assert trusted["ok"] and trusted["status"] == 200
    assert untrusted["ok"] is False and untrusted["retry"] is False
    assert untrusted["detail"].startswith("TLS certificate not trusted")
    assert missing["ok"] is False and "ca_file" in missing["detail"]
    assert len(received) == 1  # the untrusted server never got the body


def test_a_bearer_token_and_a_token_file_read_at_each_send(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    with HttpReceiver(token="given") as receiver:
        given, _, _ = run(http_job(receiver.url, token="given"))
        stale, _, _ = run(http_job(receiver.url, token_file=str(token_file)))
        receiver.token = "first"
        fresh, _, _ = run(http_job(receiver.url, token_file=str(token_file)))
        token_file.write_text("second")  # rotated, as the kubelet does
        receiver.token = "second"
        rotated, _, _ = run(http_job(receiver.url, token_file=str(token_file)))
        requests = receiver.wait_for(4)
    assert [given["ok"], stale["ok"], fresh["ok"], rotated["ok"]] == [True, False, True, True]
    assert (stale["status"], stale["retry"]) == (401, False)
    sent = [request.headers["authorization"] for request in requests]
    assert sent == ["Bearer given", "Bearer first", "Bearer first", "Bearer second"]


def test_an_unreadable_token_file_fails_the_send_worth_retrying(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        answer, _, _ = run(http_job(receiver.url, token_file=str(tmp_path / "gone")))
        assert receiver.requests == []
    assert answer["ok"] is False and answer["retry"] is True
    assert str(tmp_path / "gone") in answer["detail"]


@pytest.mark.parametrize(
    ("status", "retry", "detail"),
    [
        (400, False, "HTTP 400 Bad Request"),
        (404, False, "HTTP 404 Not Found"),
        (408, True, "HTTP 408 Request Timeout"),
        (429, True, "HTTP 429 Too Many Requests"),
        (500, True, "HTTP 500 Internal Server Error"),
        (503, True, "HTTP 503 Service Unavailable"),
        (301, False, "HTTP 301 Moved Permanently"),
    ],
)
def test_failed_statuses_say_whether_another_attempt_is_worth_it(
    status: int, retry: bool, detail: str
) -> None:
    with HttpReceiver(status=status) as receiver:
        answer, _, _ = run(http_job(receiver.url))
    assert answer["ok"] is False
    assert (answer["status"], answer["retry"], answer["detail"]) == (status, retry, detail)


def test_a_refused_connection_is_worth_retrying_and_the_same_port_answers_later() -> None:
    with HttpReceiver(mode="refuse") as receiver:
        refused, _, _ = run(http_job(receiver.url))
        receiver.mode = "answer"
        answered, _, _ = run(http_job(receiver.url))
    assert refused["ok"] is False and refused["retry"] is True
    assert refused["detail"] == f"connection refused by 127.0.0.1:{receiver.port}"
    assert answered["ok"] is True


@pytest.mark.parametrize("mode", ["hang", "slow"])
def test_a_receiver_that_never_finishes_answering_ends_the_job_at_its_timeout(mode: str) -> None:
    with HttpReceiver(mode=mode) as receiver:
        answer, took, _ = run(http_job(receiver.url, timeout=1.5))
        assert len(receiver.wait_for(1)) == 1
    print(f"{mode}: the child ended after {took:.3f} s")
    assert answer["ok"] is False and answer["retry"] is True
    assert answer["detail"] == "timed out after 1.5 s"
    assert took < 1.5 + 1.0


def test_a_step_no_socket_timeout_bounds_is_ended_by_the_watchdog(tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo)  # opening it blocks until a writer comes: none will
    with HttpReceiver() as receiver:
        answer, took, _ = run(http_job(receiver.url, token_file=str(fifo), timeout=1.0))
        assert receiver.requests == []
    assert (answer["ok"], answer["retry"], answer["detail"]) == (False, True, "timed out after 1 s")
    assert took < 2.0


def test_an_answer_whose_body_stalls_is_decided_by_its_status_at_the_deadline() -> None:
    with HttpReceiver(mode="stall", status=202, body=b"accepted") as receiver:
        answer, took, _ = run(http_job(receiver.url, timeout=1.0))
    assert (answer["ok"], answer["status"], answer["body"]) == (True, 202, "accepted")
    assert took < 2.0


def test_credentials_in_the_url_are_sent_as_basic_auth() -> None:
    with HttpReceiver() as receiver:
        url = receiver.url.replace("://", "://al%40ice:p%3Ass@")
        answer, _, _ = run(http_job(url))
        (request,) = receiver.wait_for(1)
    assert answer["ok"]
    expected = base64.b64encode(b"al@ice:p:ss").decode()
    assert request.headers["authorization"] == f"Basic {expected}"


def test_a_receiver_that_closes_without_a_word_is_worth_retrying() -> None:
    with HttpReceiver(mode=["close", "answer"]) as receiver:
        closed, _, _ = run(http_job(receiver.url))
        answered, _, _ = run(http_job(receiver.url))
    assert closed["ok"] is False and closed["retry"] is True
    assert "without answering" in closed["detail"]
    assert answered["ok"] is True


def test_a_host_that_does_not_resolve_is_a_retryable_failure() -> None:
    answer, _, _ = run(http_job("http://no-such-host.invalid/hook", timeout=3.0))
    assert answer["ok"] is False and answer["retry"] is True
    assert answer["detail"].startswith(("cannot resolve no-such-host.invalid", "timed out"))


def test_an_ipv6_literal_is_reached_in_brackets() -> None:
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    seen: list[bytes] = []

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(5)
            seen.append(connection.recv(65536))
            connection.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        port = server.getsockname()[1]
        answer, _, _ = run(http_job(f"http://[::1]:{port}/v6"))
    finally:
        thread.join(10)
        server.close()
    assert (answer["ok"], answer["detail"]) == (True, "HTTP 204 No Content")
    assert seen[0].startswith(b"POST /v6 HTTP/1.1\r\nHost: [::1]:" + str(port).encode())


@pytest.mark.parametrize(
    ("job", "words"),
    [
        (b"", "no job"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"kind": "carrier-pigeon"}', "unknown job kind"),
        (b'{"kind": "http", "url": "ftp://example.com/"}', "is not http or https"),
        (b'{"kind": "http", "url": "http://127.0.0.1:99999/"}', "port out of range"),
        (b'{"kind": "http", "url": "http://127.0.0.1/", "method": "GET\\r\\n"}', "method"),
        (b'{"kind": "http", "url": "http://h/", "headers": {"X": "a\\r\\nB: c"}}', "header"),
        (b'{"kind": "smtp", "url": "smtp://h:25", "sender": "a@b", "to": []}', "to is not"),
        (b'{"kind": "smtp", "url": "smtp://h:25", "tls": "maybe"}', "tls="),
    ],
)
def test_a_bad_job_gets_one_reply_that_says_why(job: bytes, words: str) -> None:
    answer, _, stderr = run(job)
    assert answer["ok"] is False and answer["retry"] is False
    assert words in answer["detail"]
    assert stderr == b""


def test_a_job_over_the_size_cap_is_refused_without_being_read_whole() -> None:
    answer, _, _ = run(b" " * (courier.MAX_JOB + 10))
    assert answer["ok"] is False and "over" in answer["detail"]


# -- start-up -----------------------------------------------------------------------------------


def test_a_plain_http_job_imports_neither_ssl_nor_http_client_nor_email() -> None:
    with HttpReceiver() as receiver:
        argv = courier.command()
        argv[1:1] = ["-X", "importtime"]
        answer, _, stderr = run(http_job(receiver.url), argv)
        _, took, _ = run(http_job(receiver.url))
    assert answer["ok"]
    imported = imported_modules(stderr.decode())
    assert "initsup.alerts.courier_http" in imported  # the listing is real
    unwanted = {"ssl", "http.client", "email", "smtplib", "urllib.request", "json", "re"}
    assert not imported & unwanted
    print(f"one plain-HTTP job: {took * 1000:.1f} ms from the child's start to its end")


def test_the_courier_runs_from_a_pip_install_and_from_the_pyz(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    wheel = _wheel(tmp_path)
    subprocess.run([*pip, "--target", str(site), str(wheel)], check=True, timeout=300)
    pyz = tmp_path / "it's here" / "initsup.pyz"  # a path that needs quoting in CODE
    build = [sys.executable, str(ROOT / "scripts" / "build_pyz.py"), str(pyz)]
    subprocess.run(build, check=True, capture_output=True, timeout=120)
    with HttpReceiver() as receiver:
        for place in (site, pyz):
            argv = _command_from(place, tmp_path)
            assert repr(str(place)) in argv[-1]
            answer, _, stderr = run(http_job(receiver.url), argv, cwd=tmp_path)
            assert answer["ok"], (place, answer, stderr)
        assert len(receiver.wait_for(2)) == 2


def _wheel(directory: Path) -> Path:
    """A wheel of this checkout's initsup package, made by hand: the setuptools this
    environment has may be older than pyproject.toml asks for, and pip must not go to
    the network for another."""
    info = "initsup-0.0.0.dist-info"
    files = {
        path.relative_to(ROOT).as_posix(): path.read_bytes()
        for path in sorted((ROOT / "initsup").rglob("*.py"))
    }
    files[f"{info}/METADATA"] = b"Metadata-Version: 2.1\nName: initsup\nVersion: 0.0.0\n"
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = directory / "initsup-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.12", "3.13"])
def test_the_courier_runs_on_other_pythons(version: str) -> None:
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    argv = [python, *courier.command()[1:]]
    with HttpReceiver(tls=True, mode=["answer", "hang"]) as receiver:
        sent, _, _ = run(http_job(receiver.url, ca_file=str(receiver.ca_file)), argv)
        hung, took, _ = run(http_job(receiver.url, ca_file=str(receiver.ca_file), timeout=1), argv)
    with SmtpReceiver(starttls=True) as server:
        mailed, _, _ = run(smtp_job(server.url, ca_file=str(server.ca_file)), argv)
        (message,) = server.wait_for(1)
    assert sent["ok"] and mailed["ok"] and message.tls
    assert hung["detail"] == "timed out after 1 s" and took < 2.0


def _command_from(place: Path, cwd: Path) -> list[str]:
    """courier.command() as initsup installed at place computes it."""
    code = (
        f"import sys, json; sys.path.insert(0, {str(place)!r}); "
        "from initsup.alerts import courier; print(json.dumps(courier.command()))"
    )
    shown = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, check=True, cwd=cwd
    )
    argv: list[str] = json.loads(shown.stdout)
    return argv


# -- SMTP ---------------------------------------------------------------------------------------

MESSAGE = "From: initsup <initsup@pod>\nTo: ops@example.com\nSubject: web crashed\n\nweb exited.\n"


def smtp_job(url: str, **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {"kind": "smtp", "url": url, "tls": "auto", "username": None}
    job["password"] = None
    job.update(sender="initsup@pod", to=["ops@example.com"], message=MESSAGE, timeout=5.0)
    job.update(ca_file=None)
    job.update(extra)
    return job


def test_plain_smtp_delivers_the_message() -> None:
    with SmtpReceiver() as server:
        answer, _, _ = run(smtp_job(server.url))
        (message,) = server.wait_for(1)
    assert (answer["ok"], answer["status"]) == (True, 250)
    assert answer["detail"].startswith("SMTP 250")
    assert (message.sender, message.to, message.tls) == ("initsup@pod", ["ops@example.com"], False)
    assert "Subject: web crashed" in message.text and "web exited." in message.text


def test_starttls_and_auth_when_the_server_offers_them() -> None:
    with SmtpReceiver(starttls=True, auth=("alerts", "s3cret")) as server:
        job = smtp_job(server.url, username="alerts", password="s3cret")
        answer, _, _ = run({**job, "ca_file": str(server.ca_file)})
        (message,) = server.wait_for(1)
        wrong, _, _ = run({**job, "ca_file": str(server.ca_file), "password": "nope"})
    assert answer["ok"] and message.tls and message.authenticated
    # smtplib tries each mechanism the server offers before it gives up
    assert server.logins[0] == ("alerts", True)
    assert server.logins[1:] and all(not ok for _, ok in server.logins[1:])
    assert (wrong["ok"], wrong["status"], wrong["retry"]) == (False, 535, False)


def test_tls_none_never_starts_tls() -> None:
    with SmtpReceiver(starttls=True) as server:
        answer, _, _ = run(smtp_job(server.url, tls="none"))
        (message,) = server.wait_for(1)
    assert answer["ok"] and message.tls is False


def test_smtps_is_tls_from_the_first_byte() -> None:
    with SmtpReceiver(implicit_tls=True) as server:
        answer, _, _ = run(smtp_job(server.url, ca_file=str(server.ca_file)))
        (message,) = server.wait_for(1)
    assert server.url.startswith("smtps://")
    assert answer["ok"] and message.tls


def test_tls_starttls_refuses_a_server_without_it() -> None:
    with SmtpReceiver() as server:
        answer, _, _ = run(smtp_job(server.url, tls="starttls"))
        assert server.messages == []
    assert (answer["ok"], answer["retry"]) == (False, False)
    assert "STARTTLS" in answer["detail"]


@pytest.mark.parametrize(("words", "retry"), [("554 no thanks", False), ("451 later", True)])
def test_a_refused_message_says_the_servers_code(words: str, retry: bool) -> None:
    with SmtpReceiver() as server:
        server.answer = words
        answer, _, _ = run(smtp_job(server.url))
    assert (answer["ok"], answer["status"], answer["retry"]) == (False, int(words[:3]), retry)
    assert words in answer["detail"]


def test_an_smtp_server_that_never_greets_ends_the_job_at_its_timeout() -> None:
    with HttpReceiver(mode="hang") as silent:  # accepts, and waits for a word first
        answer, took, _ = run(smtp_job(f"smtp://127.0.0.1:{silent.port}", timeout=1.0))
    assert (answer["ok"], answer["retry"], answer["detail"]) == (False, True, "timed out after 1 s")
    assert took < 2.0


def test_an_smtp_server_that_is_not_there_is_worth_retrying() -> None:
    with HttpReceiver(mode="refuse") as nothing:
        answer, _, _ = run(smtp_job(f"smtp://127.0.0.1:{nothing.port}"))
    assert (answer["ok"], answer["retry"]) == (False, True)
    assert "refused" in answer["detail"]


# -- pieces -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("http://example.com", ("http", "example.com", 80, "/", "")),
        ("https://u:p@h:8443/a b?q=é#frag", ("https", "h", 8443, "/a%20b?q=%C3%A9", "u:p")),
        ("http://[::1]:9/x", ("http", "::1", 9, "/x", "")),
        ("HTTP://h?x", ("http", "h", 80, "/?x", "")),
        ("smtps://mail", ("smtps", "mail", 465, "/", "")),
    ],
)
def test_urls_are_split_into_what_a_connection_needs(url: str, parts: tuple[Any, ...]) -> None:
    schemes = ("http", "https", "smtp", "smtps")
    assert split_url(url, schemes) == parts


@pytest.mark.parametrize(
    "url",
    ["", "example.com", "http://", "http://h:0/", "http://[::1/", "http://h:x/", "http://a:1:2/"],
)
def test_what_is_not_a_url_fails_without_retry(url: str) -> None:
    with pytest.raises(Failed) as failure:
        split_url(url, ("http",))
    assert failure.value.retry is False


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi, and more", (200, "OK", "hi")),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\n{}", (201, "Created", "{}")),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
         (200, "OK", "hi")),
        (b"HTTP/1.0 404\n\nnope", (404, "", "nope")),
        (b"HTTP/1.1 204 No Content\r\n\r\n", (204, "No Content", "")),
    ],
)  # fmt: skip
def test_answers_are_read_to_their_status_reason_and_body(
    data: bytes, found: tuple[int, str, str]
) -> None:
    assert courier_http.parse_response(data, complete=True) == found


def test_an_answer_is_awaited_until_its_body_is_complete() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert courier_http.parse_response(head + b"hel", complete=False) is None
    assert courier_http.parse_response(head + b"hello", complete=False) == (200, "OK", "hello")
    with pytest.raises(Failed) as failure:
        courier_http.parse_response(b"SSH-2.0-OpenSSH\r\n", complete=False)
    assert failure.value.retry is False


@pytest.fixture
def reply_lines() -> Iterator[list[bytes]]:
    yield [
        b"",
        b"Traceback (most recent call last):\n  boom\n",
        b'{"ok": true, "status": 99999, "detail": 5, "retry": "x", "body": "b"}\n',
        b'noise\n{"ok": false, "status": 503, "detail": "HTTP 503", "retry": true, "body": ""}\n',
    ]


def test_read_reply_makes_a_reply_of_whatever_the_child_wrote(reply_lines: list[bytes]) -> None:
    nothing, traceback, odd, last = (courier.read_reply(data) for data in reply_lines)
    assert nothing == courier.failed("courier said nothing")
    assert traceback["ok"] is False and traceback["retry"] is True
    assert traceback["detail"].startswith("courier's answer is not a reply: Traceback")
    assert odd == {"ok": True, "status": 0, "detail": "", "retry": False, "body": "b"}
    assert (last["ok"], last["status"], last["retry"]) == (False, 503, True)


def test_pid_1_allows_the_child_its_timeout_and_two_seconds() -> None:
    assert courier.allowed_seconds({"timeout": 5}) == 7.0
    assert courier.allowed_seconds({"timeout": "soon"}) == courier.DEFAULT_TIMEOUT + 2
    assert courier.allowed_seconds({"timeout": float("nan")}) == courier.DEFAULT_TIMEOUT + 2
    assert courier.allowed_seconds({"timeout": 1e9}) == courier.MAX_TIMEOUT + 2
