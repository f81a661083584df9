"""/livez, /readyz and /startupz (initsup.control.probes_http): statuses, kube-apiserver's
verbose lines, exclude, per-program paths, and who may ask without credentials."""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator
from typing import Any

import pytest

from initsup.control import probes_http, routes
from initsup.control.http_connection import Request
from initsup.health.facts import Facts, Result
from initsup.process import Process
from tests.control_host import ControlHost
from tests.http_harness import Served
from tests.whole_responder import WholeResponder


def probe(target: str, method: str = "GET", authenticated: bool = True) -> Request:
    """A request for target (path?query), as the HTTP server hands it on."""
    path, _, query = target.partition("?")
    request = Request(method, path, query, {}, b"")
    request.authenticated = authenticated
    return request


def ask(host: ControlHost, target: str, **request: Any) -> tuple[int, str]:
    exact, prefixes = probes_http.handlers(host)
    path = target.partition("?")[0]
    handler = exact.get(path) or next(h for p, h in prefixes.items() if path.startswith(p))
    responder = WholeResponder()
    handler(probe(target, **request), responder)
    assert len(responder.answers) == 1
    status, body, _, _ = responder.answers[0]
    return status, body.decode()


def run(host: ControlHost, process: Process) -> None:
    process.start()
    host.advance(process.config.startsecs)


@pytest.fixture
def host() -> ControlHost:
    """web RUNNING, db STARTING (both autostart), tool not autostart and STOPPED."""
    host = ControlHost()
    host.clock.now = 100.0
    web = host.add("web")
    run(host, web)
    host.add("db", startsecs=10).start()
    host.add("tool", autostart=False)
    return host


def test_all_good_is_200_ok(host: ControlHost) -> None:
    assert ask(host, "/livez") == (200, "ok")


def test_a_failure_lists_every_check_and_the_verdict(host: ControlHost) -> None:
    assert ask(host, "/readyz") == (
        503,
        "[+]program:web ok\n"
        "[-]program:db failed: STARTING, not ready\n"
        "[+]shutdown ok\n"
        "readyz check failed\n",
    )
    assert ask(host, "/startupz")[1].endswith("startupz check failed\n")


def test_verbose_lists_the_checks_when_all_pass(host: ControlHost) -> None:
    host.advance(10)
    assert ask(host, "/readyz?verbose") == (
        200,
        "[+]program:web ok\n[+]program:db ok\n[+]shutdown ok\nreadyz check passed\n",
    )
    assert ask(host, "/livez?verbose=1") == (
        200,
        "[+]program:web ok\n[+]program:db ok\nlivez check passed\n",
    )


def test_exclude_leaves_checks_out(host: ControlHost) -> None:
    assert ask(host, "/readyz?exclude=program:db")[0] == 200
    assert ask(host, "/readyz?exclude=db&verbose") == (
        200,
        "[+]program:web ok\n[+]shutdown ok\nreadyz check passed\n",
    )
    assert ask(host, "/readyz?exclude=program%3Adb&exclude=web&verbose")[1] == (
        "[+]shutdown ok\nreadyz check passed\n"
    )
    assert ask(host, "/readyz?exclude=program:web")[0] == 503
    assert ask(host, "/livez?verbose&exclude=wbe&exclude=db") == (
        200,
        "[+]program:web ok\n"
        'warn: some health checks cannot be excluded: no matches for "wbe"\n'
        "livez check passed\n",
    )


def test_readyz_fails_once_shutting_down_but_livez_does_not(host: ControlHost) -> None:
    host.advance(10)
    host.shutting_down = True
    status, body = ask(host, "/readyz")
    assert status == 503
    assert "[-]shutdown failed: initsup is shutting down\n" in body
    assert ask(host, "/livez") == (200, "ok")
    assert ask(host, "/readyz/web") == (200, "ok")  # the program itself is still ready


def test_one_program_by_name_or_group_name(host: ControlHost) -> None:
    assert ask(host, "/readyz/web") == (200, "ok")
    assert ask(host, "/readyz/web:web?verbose") == (
        200,
        "[+]program:web ok\nreadyz check passed\n",
    )
    assert ask(host, "/readyz/db") == (
        503,
        "[-]program:db failed: STARTING, not ready\nreadyz check failed\n",
    )
    assert ask(host, "/livez/db") == (200, "ok")  # starting is live
    assert ask(host, "/startupz/tool")[0] == 503  # not watched, still asked by name


@pytest.mark.parametrize("name", ["nope", "web:nope", "all", "web:*", ""])
def test_an_unknown_program_is_404(host: ControlHost, name: str) -> None:
    status, _ = ask(host, f"/readyz/{name}") if name else ask(host, "/readyz/")
    assert status == (404 if name else 503)


def test_unhealthy_fails_livez_with_the_reason(host: ControlHost) -> None:
    web = host.processes["web:web"]
    web.facts = Facts("http")
    web.facts.healthy = False
    web.facts.failures = 3
    web.facts.last = Result(False, "HTTP 503")
    assert ask(host, "/livez/web") == (
        503,
        "[-]program:web failed: unhealthy: HTTP 503 (3 failed checks)\nlivez check failed\n",
    )


def test_a_done_one_shot_counts_as_ready(host: ControlHost) -> None:
    host.advance(10)
    migrate = host.add("migrate", autorestart="false")
    run(host, migrate)
    host.exit("migrate", 0)
    assert ask(host, "/readyz/migrate") == (200, "ok")
    assert ask(host, "/readyz")[0] == 200


def test_essential_programs_are_the_only_ones_watched(host: ControlHost) -> None:
    host.processes["web:web"].config.essential = True
    assert ask(host, "/readyz?verbose") == (
        200,
        "[+]program:web ok\n[+]shutdown ok\nreadyz check passed\n",
    )


def test_an_anonymous_client_learns_the_status_only(host: ControlHost) -> None:
    assert ask(host, "/readyz", authenticated=False) == (503, "readyz check failed\n")
    assert ask(host, "/livez", authenticated=False) == (200, "ok")
    assert ask(host, "/livez?verbose", authenticated=False)[0] == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_only_get_and_head(host: ControlHost, method: str) -> None:
    assert ask(host, "/livez", method=method)[0] == 405


@pytest.mark.parametrize(
    "query",
    ["verbose&verbose", "exclude", "exclude=", "=&&=", "exclude=%zz", "%", "x" * 10000],
)
def test_odd_queries_are_read_without_fault(query: str) -> None:
    verbose, excluded = probes_http.parse_query(query)
    assert isinstance(verbose, bool) and isinstance(excluded, set)


# -- over a real server with credentials ----------------------------------------------


@pytest.fixture
def served(host: ControlHost) -> Iterator[Served]:
    exact, prefixes = probes_http.handlers(host)
    harness = Served(credentials=("admin", "s3cret"), handlers=exact)
    harness.server.prefixes += sorted(prefixes.items(), key=lambda item: -len(item[0]))
    harness.server.open_paths = routes.OPEN_PATHS
    try:
        yield harness
    finally:
        harness.close()


def _get(port: int, path: str, auth: str | None = None) -> tuple[int, bytes]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": auth} if auth else {}
    try:
        client.request("GET", path, headers=headers)
        response = client.getresponse()
        return response.status, response.read()
    finally:
        client.close()


GOOD = "Basic " + base64.b64encode(b"admin:s3cret").decode()
BAD = "Basic " + base64.b64encode(b"admin:guess").decode()


def test_probe_paths_answer_without_credentials_and_nothing_else_does(served: Served) -> None:
    port = served.port
    assert served.call(_get, port, "/livez") == (200, b"ok")
    assert served.call(_get, port, "/readyz") == (503, b"readyz check failed\n")
    assert served.call(_get, port, "/readyz/web") == (200, b"ok")
    assert served.call(_get, port, "/readyz?verbose")[0] == 401
    assert served.call(_get, port, "/echo")[0] == 401
    assert served.call(_get, port, "/livezz")[0] == 401


def test_credentials_unlock_the_reasons_and_wrong_ones_are_refused(served: Served) -> None:
    port = served.port
    status, body = served.call(_get, port, "/readyz", GOOD)
    assert status == 503 and b"[-]program:db failed: STARTING, not ready\n" in body
    assert served.call(_get, port, "/livez?verbose", GOOD)[0] == 200
    assert served.call(_get, port, "/livez", BAD)[0] == 401
