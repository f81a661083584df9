"""One control socket, two protocols: JSON requests and HTTP on the same unix socket."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from initsup.control.connection import is_http
from initsup.control.http import HttpServer
from initsup.control.server import ControlServer
from tests.control_host import ControlHost
from tests.http_harness import Served, read_response


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket, as supervisorctl's transport does it."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


class Control:
    """A ControlServer at a tmp path whose HTTP side is a harness's HttpServer."""

    def __init__(self, tmp_path: Path, served: Served, factory: Callable[[], object]) -> None:
        self.served = served
        self.path = str(tmp_path / "initsup.sock")
        host = ControlHost()
        host.loop = served.loop
        host.logger = served.logger
        self.server = ControlServer(host, self.path, 0o600, http=factory)  # type: ignore[arg-type]

    def json_request(self, cmd: str) -> list[dict[str, object]]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(self.path)
            sock.sendall(json.dumps({"cmd": cmd, "args": []}).encode() + b"\n")
            return [json.loads(line) for line in read_response(sock).splitlines()]

    def http_get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        client = UnixHTTPConnection(self.path)
        try:
            client.request("GET", path, headers=headers or {})
            response = client.getresponse()
            return response.status, response.read()
        finally:
            client.close()


@pytest.fixture
def served() -> Iterator[Served]:
    harness = Served(tcp=False)
    try:
        yield harness
    finally:
        harness.close()


def test_the_first_line_decides() -> None:
    for line in (b"GET / HTTP/1.1\r", b"POST /RPC2 HTTP/1.0", b"PUT /x HTTP/9"):
        assert is_http(line)
    for line in (b"{", b"", b" GET / HTTP/1.1", b"get / HTTP/1.1", b"GET x HTTP/1.1", b"GET /"):
        assert not is_http(line)
    assert not is_http(b'{"cmd": "GET / HTTP/1.1"}')


def test_json_and_http_on_the_same_socket(tmp_path: Path, served: Served) -> None:
    made: list[HttpServer] = []

    def factory() -> HttpServer:
        made.append(served.server)
        return served.server

    control = Control(tmp_path, served, factory)
    try:
        answer = served.call(control.json_request, "version")
        assert answer[-1] == {"exit": 0}
        assert made == []  # JSON alone never makes the HTTP server
        assert served.call(control.http_get, "/echo?x") == (200, b"GET /echo?x 0\n")
        assert served.call(control.json_request, "version") == answer
        assert served.call(control.http_get, "/echo") == (200, b"GET /echo? 0\n")
        assert len(made) == 1  # made on the first HTTP client, then kept
        assert served.errors == []
    finally:
        control.server.close()


def test_a_session_keeps_its_unix_connection(tmp_path: Path, served: Served) -> None:
    control = Control(tmp_path, served, lambda: served.server)

    sockets: list[object] = []

    def session() -> list[bytes]:
        client = UnixHTTPConnection(control.path)
        bodies = []
        for path in ("/echo?1", "/echo?2"):
            client.request("GET", path)
            bodies.append(client.getresponse().read())
            sockets.append(client.sock)
        client.close()
        return bodies

    try:
        assert served.call(session) == [b"GET /echo?1 0\n", b"GET /echo?2 0\n"]
        assert sockets[0] is sockets[1]  # http.client did not have to connect again
    finally:
        control.server.close()


def test_auth_over_the_unix_socket(tmp_path: Path) -> None:
    served = Served(credentials=("admin", "pw"), tcp=False)
    control = Control(tmp_path, served, lambda: served.server)
    try:
        assert served.call(control.http_get, "/echo")[0] == 401
        good = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}
        assert served.call(control.http_get, "/echo", good)[0] == 200
        assert served.call(control.json_request, "version")[-1] == {"exit": 0}  # JSON: uid only
    finally:
        control.server.close()
        served.close()


@pytest.mark.parametrize(
    ("factory", "status"),
    [(None, 404), (lambda: None, 503)],
)
def test_without_an_http_server_http_gets_a_plain_refusal(
    tmp_path: Path, served: Served, factory: Callable[[], object] | None, status: int
) -> None:
    control = Control(tmp_path, served, factory)  # type: ignore[arg-type]
    try:
        assert served.call(control.http_get, "/RPC2")[0] == status
        assert served.call(control.json_request, "version")[-1] == {"exit": 0}
    finally:
        control.server.close()


def test_a_failing_factory_is_a_503_and_logged(tmp_path: Path, served: Served) -> None:
    def factory() -> HttpServer:
        raise RuntimeError("no")

    control = Control(tmp_path, served, factory)
    try:
        assert served.call(control.http_get, "/RPC2")[0] == 503
        assert "the HTTP server could not be made" in served.events("error")[0]
        assert served.errors == []
    finally:
        control.server.close()
