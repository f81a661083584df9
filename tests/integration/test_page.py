"""The status page of a real initsup, over [inet_http_server]'s TCP port and over the control
socket: the page lists every program, its forms stop and start one (seen by /api/status
and `initsup ctl status`), forged posts change nothing, and with credentials set nothing
of it answers a client without them."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import free_port, wait_for
from tests.supervised import Supervised

USER, PASSWORD = "admin", "s3cret"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

PROGRAMS = """
[program:web]
command=sleep 1000
startsecs=0

[program:worker]
command=sleep 1000
process_name=%(program_name)s_%(process_num)s
numprocs=2
startsecs=0

[program:tool]
command=sleep 1000
autostart=false
"""

Answer = tuple[int, dict[str, str], bytes]


class Site:
    """One initsup with an [inet_http_server] on a free port (credentials if given)."""

    def __init__(self, supervise: Callable[..., Supervised], credentials: bool = False) -> None:
        self.port = free_port()
        section = f"[inet_http_server]\nport=127.0.0.1:{self.port}\n"
        if credentials:
            section += f"username={USER}\npassword={PASSWORD}\n"
        self.initsup = supervise(ini=section + PROGRAMS)
        for name in ("web", "worker_0", "worker_1"):
            self.initsup.wait("PROCESS_STATE_RUNNING", program=name)
        self.headers = AUTH if credentials else {}

    def ask(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            client.request(method, path, body=body, headers=headers or {})
            response = client.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            client.close()

    def page(self) -> str:
        status, _, body = self.ask("GET", "/", headers=self.headers)
        assert status == 200
        return body.decode()

    def token(self) -> str:
        return str(re.findall(r'name="token" value="([0-9a-f]+)"', self.page())[0])

    def post(self, headers: dict[str, str] | None = None, **form: str) -> Answer:
        body = urllib.parse.urlencode(form).encode()
        return self.ask("POST", "/control", body, {**FORM, **self.headers, **(headers or {})})

    def states(self) -> dict[str, str]:
        """Each process's state, from /api/status."""
        status, _, body = self.ask("GET", "/api/status", headers=self.headers)
        assert status == 200
        return {p["name"]: p["statename"] for p in json.loads(body)}

    def ctl_states(self) -> dict[str, str]:
        """Each process's state, from `initsup ctl status --json`."""
        return {p["name"]: p["statename"] for p in self.ctl_json()}

    def ctl_json(self) -> Any:
        done = self.initsup.ctl("status", "--json")
        return json.loads(done.stdout)


def unix(control: str, method: str, path: str, body: bytes = b"", **headers: str) -> Answer:
    """One HTTP/1.0 request on the control socket's HTTP side."""
    fields = {"Host": "localhost", "Content-Length": str(len(body)), **headers}
    head = f"{method} {path} HTTP/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(20)
        conn.connect(control)
        conn.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    top, _, content = answer.partition(b"\r\n\r\n")
    lines = top.decode().split("\r\n")
    found = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), found, content


@pytest.fixture
def site(supervise: Callable[..., Supervised]) -> Site:
    return Site(supervise)


def test_the_page_lists_every_program_with_its_state(site: Site) -> None:
    status, headers, body = site.ask("GET", "/")
    assert status == 200
    html = body.decode()
    for name, state in (
        ("web", "RUNNING"),
        ("worker:worker_0", "RUNNING"),
        ("worker:worker_1", "RUNNING"),
        ("tool", "STOPPED"),
    ):
        row = re.search(rf'<tr data-name="{name}">.*?</tr>', html)
        assert row, name
        assert f">{state}</td>" in row.group(0)
    policy = headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "text/html; charset=utf-8"


def test_a_form_post_stops_then_starts_a_program(site: Site) -> None:
    token = site.token()
    origin = {"Origin": f"http://127.0.0.1:{site.port}"}
    status, headers, _ = site.post(origin, action="stop", name="web", token=token)
    assert status == 303
    assert headers["Location"].startswith("/?done=")
    assert site.states()["web"] == "STOPPED"
    assert site.ctl_states()["web"] == "STOPPED"
    assert "web: stopped" in site.ask("GET", headers["Location"])[2].decode()
    status, headers, _ = site.post(action="start", name="web", token=token)
    assert status == 303
    assert site.states()["web"] == "RUNNING"
    assert site.ctl_states()["web"] == "RUNNING"
    status, headers, _ = site.post(action="restart", name="worker:*", token=token)
    assert status == 303
    after = site.ask("GET", headers["Location"])[2].decode()
    assert "worker:worker_0: stopped" in after and "worker:worker_1: started" in after
    assert site.states() == {
        "tool": "STOPPED",
        "web": "RUNNING",
        "worker_0": "RUNNING",
        "worker_1": "RUNNING",
    }


def test_forged_posts_are_403_and_the_program_keeps_running(site: Site) -> None:
    token = site.token()
    pid = site.initsup.ctl("pid", "web").stdout.strip()
    for headers, sent in (
        ({}, "0" * 64),
        ({"Origin": "http://evil.example"}, token),
        ({"Origin": "null"}, token),
        ({"Referer": "http://evil.example/x"}, token),
    ):
        status, _, _ = site.post(headers, action="stop", name="all", token=sent)
        assert status == 403, headers
    assert site.states()["web"] == "RUNNING"
    assert site.initsup.ctl("pid", "web").stdout.strip() == pid


def test_api_status_is_ctl_status_json(site: Site) -> None:
    """The same document, read within one second (the clock is in it)."""

    def same() -> bool:
        status, headers, body = site.ask("GET", "/api/status")
        assert (status, headers["Content-Type"]) == (200, "application/json")
        return bool(json.loads(body) == site.ctl_json())

    wait_for(same, timeout=20)


def test_wrong_methods(site: Site) -> None:
    status, headers, _ = site.ask("GET", "/control")
    assert (status, headers["Allow"]) == (405, "POST")
    assert site.ask("POST", "/", b"x", FORM)[0] == 405
    assert site.ask("POST", "/api/status", b"x", FORM)[0] == 405


def test_the_control_socket_serves_the_page_and_its_actions(site: Site) -> None:
    control = site.initsup.socket
    status, headers, body = unix(control, "GET", "/")
    assert status == 200 and 'data-name="web"' in body.decode()
    assert "Content-Security-Policy" in headers
    token = re.findall(r'name="token" value="([0-9a-f]+)"', body.decode())[0]
    form = urllib.parse.urlencode({"action": "stop", "name": "worker:*", "token": token})
    status, headers, _ = unix(control, "POST", "/control", form.encode(), **FORM)
    assert status == 303
    states = json.loads(unix(control, "GET", "/api/status")[2])
    assert {p["name"]: p["statename"] for p in states}["worker_1"] == "STOPPED"
    # the TCP server's token is its own: the socket's does not act there
    assert site.post(action="start", name="worker:*", token=token)[0] == 403


def test_with_credentials_nothing_answers_without_them(
    supervise: Callable[..., Supervised],
) -> None:
    site = Site(supervise, credentials=True)
    token = site.token()
    form = urllib.parse.urlencode({"action": "stop", "name": "all", "token": token}).encode()
    wrong = {"Authorization": "Basic " + base64.b64encode(b"admin:guess").decode()}
    for headers in ({}, wrong):
        assert site.ask("GET", "/", headers=headers)[0] == 401
        assert site.ask("GET", "/api/status", headers=headers)[0] == 401
        assert site.ask("GET", "/logtail/web", headers=headers)[0] == 401
        assert site.ask("POST", "/control", form, {**FORM, **headers})[0] == 401
    assert site.ctl_states() == {
        "tool": "STOPPED",
        "web": "RUNNING",
        "worker_0": "RUNNING",
        "worker_1": "RUNNING",
    }
    assert site.post(action="stop", name="web", token=token)[0] == 303
    assert site.ctl_states()["web"] == "STOPPED"


def test_the_page_s_modules_import_nothing_heavy() -> None:
    """The routes are made on an HTTP server's first client (a probe, say): the page's
    modules must not bring re, json, html or http with them."""
    from tests.helpers import imported_by

    modules = imported_by("from initsup.control import routes")
    assert {"initsup.control.page", "initsup.control.page_html"} <= modules
    assert not modules & {"re", "json", "html", "http", "urllib", "urllib.parse", "email"}
