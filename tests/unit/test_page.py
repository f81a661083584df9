"""The status page's handlers (initsup.control.page) over a control host on a fake clock:
what GET /, POST /control and GET /api/status answer, which POSTs act, and what the
actions do to the processes."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from initsup.control import page, page_actions
from initsup.control.http_connection import Request
from initsup.process import Process
from initsup.states import ProcessState
from tests.control_host import ControlHost
from tests.whole_responder import WholeResponder

FORM = {"content-type": "application/x-www-form-urlencoded"}


class Loop:
    """The loop as the page's actions use it: timers on the host's fake clock."""

    def __init__(self, host: ControlHost) -> None:
        self.call_later = host.call_later


class Page:
    """The page's handlers over one host."""

    def __init__(self, host: ControlHost) -> None:
        self.host = host
        self.handlers = page.handlers(host)
        self.token = re.findall(r'name="token" value="([0-9a-f]+)"', self.get("/")[1].decode())[0]

    def ask(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> WholeResponder:
        path, _, query = target.partition("?")
        responder = WholeResponder()
        self.handlers[path](Request(method, path, query, dict(headers or {}), body), responder)
        return responder

    def get(self, target: str) -> tuple[int, bytes, str, dict[str, str]]:
        responder = self.ask("GET", target)
        (answer,) = responder.answers
        return answer

    def post(
        self, token: str | None = None, headers: dict[str, str] | None = None, **form: str
    ) -> WholeResponder:
        fields = {"token": self.token if token is None else token, **form}
        body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
        return self.ask("POST", "/control", body, {**FORM, **(headers or {})})

    def outcome(self, responder: WholeResponder) -> str:
        """The message the page shows after a 303."""
        ((status, _, _, headers),) = responder.answers
        assert status == 303
        html = self.get(headers["Location"])[1].decode()
        found = re.search(r'<p class="msg[^"]*" role="status">(.*?)</p>', html, re.S)
        return found.group(1) if found else ""


def run(host: ControlHost, process: Process) -> None:
    process.start()
    host.advance(process.config.startsecs)


@pytest.fixture
def host() -> ControlHost:
    """web and db RUNNING; workers w_0 and w_1 RUNNING; tool STOPPED."""
    host = ControlHost()
    host.loop = Loop(host)
    host.clock.now = 100.0
    for process in (
        host.add("web"),
        host.add("db", essential=True),
        host.add("w_0", "workers"),
        host.add("w_1", "workers"),
    ):
        run(host, process)
    host.add("tool", autostart=False)
    return host


@pytest.fixture
def served(host: ControlHost) -> Page:
    return Page(host)


def state(host: ControlHost, key: str) -> str:
    return host.processes[key].state.name


def test_the_page_and_its_headers(served: Page) -> None:
    status, body, content_type, headers = served.get("/")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; ")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    for name in ("web", "db", "workers:w_0", "workers:w_1", "tool"):
        assert f'data-name="{name}"' in body.decode()


def test_api_status_is_the_ctl_status_json_document(served: Page, host: ControlHost) -> None:
    from initsup.control import api

    status, body, content_type, headers = served.get("/api/status")
    assert (status, content_type, headers["Cache-Control"]) == (200, "application/json", "no-store")
    document = json.loads(body)
    assert document == json.loads(json.dumps(api.status(host, document[0]["now"])))
    assert [p["name"] for p in document] == ["db", "tool", "web", "w_0", "w_1"]


@pytest.mark.parametrize("path", ["/", "/api/status"])
def test_gzipped_for_a_client_that_takes_it(served: Page, path: str) -> None:
    """The same body, gzipped, when Accept-Encoding takes gzip; plain otherwise."""
    (plain,) = served.ask("GET", path).answers
    (zipped,) = served.ask("GET", path, headers={"accept-encoding": "gzip, br"}).answers
    assert "Content-Encoding" not in plain[3]
    assert zipped[3]["Content-Encoding"] == "gzip"
    assert plain[3]["Vary"] == zipped[3]["Vary"] == "Accept-Encoding"
    assert len(zipped[1]) < len(plain[1])
    unzipped = gzip.decompress(zipped[1])
    if path == "/":
        assert unzipped.count(b"<tr data-name=") == plain[1].count(b"<tr data-name=") == 5
    else:
        assert [p["name"] for p in json.loads(unzipped)] == [
            p["name"] for p in json.loads(plain[1])
        ]


def test_a_form_stops_then_starts(served: Page, host: ControlHost) -> None:
    stopping = served.post(action="stop", name="web")
    assert not stopping.answers  # answered once stopped
    assert state(host, "web:web") == "STOPPING"
    host.exit("web", 0)
    assert served.outcome(stopping) == "web: stopped"
    assert state(host, "web:web") == "STOPPED"
    starting = served.post(action="start", name="web")
    host.advance(1)
    assert served.outcome(starting) == "web: started"
    assert state(host, "web:web") == "RUNNING"


def test_restart_is_stop_then_start(served: Page, host: ControlHost) -> None:
    spawns = len(host.spawns)
    restarting = served.post(action="restart", name="workers:*")
    host.exit("workers:w_0", 0)
    host.exit("workers:w_1", 0)
    assert [state(host, f"workers:w_{i}") for i in (0, 1)] == ["STARTING"] * 2
    host.advance(1)
    assert served.outcome(restarting) == (
        "workers:w_0: stopped\nworkers:w_1: stopped\nworkers:w_0: started\nworkers:w_1: started"
    )
    assert len(host.spawns) == spawns + 2


def test_all_starts_what_is_not_running(served: Page, host: ControlHost) -> None:
    starting = served.post(action="start", name="all")
    host.advance(1)
    assert served.outcome(starting) == "tool: started"


def test_a_slow_action_is_answered_in_time_and_goes_on(served: Page, host: ControlHost) -> None:
    restarting = served.post(action="restart", name="web")
    host.advance(page_actions.ANSWER_WITHIN)
    assert served.outcome(restarting) == "web: restart still under way"
    host.exit("web", 0)  # the stop settles after the answer: the start still follows
    host.advance(1)
    assert state(host, "web:web") == "RUNNING"


def test_outcomes_of_names_that_mean_nothing_or_cannot_start(
    served: Page, host: ControlHost
) -> None:
    assert served.outcome(served.post(action="stop", name="nosuch")) == (
        "nosuch: ERROR (no such process)"
    )
    assert served.outcome(served.post(action="start", name="web")) == (
        "web: ERROR (already started)"
    )
    assert served.outcome(served.post(action="stop", name="tool")) == "tool: ERROR (not running)"
    host.add("broken", command=["/nonexistent/program"], autostart=False)
    assert served.outcome(served.post(action="start", name="broken")) == (
        "broken: ERROR (no such file)"
    )


def test_hostile_outcomes_are_escaped_and_never_come_from_the_link(served: Page) -> None:
    served.post(action="stop", name="<b>x</b>")
    html = served.get("/?done=1")[1].decode()
    assert "&lt;b&gt;x&lt;/b&gt;: ERROR (no such process)" in html
    assert "<b>x</b>" not in html
    assert 'class="msg' not in served.get("/?done=Hello+world")[1].decode()
    assert 'class="msg' not in served.get("/?done=99")[1].decode()


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        ("0" * 64, {}),
        ("", {}),
        (None, {"host": "127.0.0.1:9001", "origin": "http://evil.example"}),
        (None, {"host": "127.0.0.1:9001", "referer": "http://evil.example/page"}),
    ],
)
def test_forged_posts_are_403_and_change_nothing(
    served: Page, host: ControlHost, token: str | None, headers: dict[str, str]
) -> None:
    before = [p.state for p in host.processes.values()]
    responder = served.post(token=token, headers=headers, action="stop", name="all")
    ((status, _, _, _),) = responder.answers
    assert status == 403
    assert [p.state for p in host.processes.values()] == before
    assert host.processes["web:web"].state == ProcessState.RUNNING


def test_same_origin_post_with_the_token_acts(served: Page, host: ControlHost) -> None:
    headers = {"host": "127.0.0.1:9001", "origin": "http://127.0.0.1:9001"}
    served.post(headers=headers, action="stop", name="web")
    assert state(host, "web:web") == "STOPPING"


def test_each_server_has_its_own_token(host: ControlHost) -> None:
    assert Page(host).token != Page(host).token


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/control", "POST"), ("HEAD", "/control", "POST"), ("POST", "/", "GET, HEAD")],
)
def test_wrong_methods_are_405(served: Page, method: str, path: str, allow: str) -> None:
    ((status, _, _, headers),) = served.ask(method, path).answers
    assert (status, headers["Allow"]) == (405, allow)


def test_bad_forms_and_actions_are_400(served: Page, host: ControlHost) -> None:
    ((status, *_),) = served.post(action="kill", name="web").answers
    assert status == 400
    ((status, *_),) = served.ask("POST", "/control", b"action=stop&name=web", FORM).answers
    assert status == 400
    assert state(host, "web:web") == "RUNNING"


def test_a_stop_of_a_group_passes_over_what_is_not_running(served: Page, host: ControlHost) -> None:
    host.add("x_0", "extra", autostart=False)
    run(host, host.add("x_1", "extra"))
    stopping = served.post(action="stop", name="extra:*")
    host.exit("extra:x_1", 0)
    assert served.outcome(stopping) == "extra:x_1: stopped"


def test_a_failed_outcome_is_marked(served: Page) -> None:
    ((_, _, _, headers),) = served.post(action="stop", name="nosuch").answers
    assert '<p class="msg err" role="status">' in served.get(headers["Location"])[1].decode()
    starting = served.post(action="start", name="tool")
    served.host.advance(1)
    ((_, _, _, headers),) = starting.answers
    assert '<p class="msg" role="status">' in served.get(headers["Location"])[1].decode()


def test_only_the_latest_outcomes_are_kept() -> None:
    outcomes = page.Outcomes()
    numbers = [outcomes.add(f"outcome {n}") for n in range(page.KEEP + 8)]
    assert outcomes.get(f"done={numbers[-1]}") == f"outcome {page.KEEP + 7}"
    assert outcomes.get(f"x=1&done={numbers[8]}") == "outcome 8"
    assert outcomes.get(f"done={numbers[7]}") == ""
    assert len(outcomes.kept) == page.KEEP
    assert outcomes.get("done=" + "9" * 40) == ""
