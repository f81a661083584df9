"""`initsup ctl`'s client side: supervisorctl's flags, where the server is (-s, -c FILE,
the socket's places), and the HTTP transport against a served `POST /initsup/ctl` (the
real route, over a fake host, behind a small HTTP/1.1 server in a thread)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from initsup import ctl, ctl_http
from initsup.control import http_ctl
from initsup.control.http_connection import Request
from initsup.ctl_find import FindError, find
from tests.control_host import ControlHost


def test_flags_are_supervisorctl_s() -> None:
    flags, words = ctl.parse_flags(["-c", "f.conf", "-sunix:///x", "--username=u", "status"])
    assert flags == {"c": "f.conf", "s": "unix:///x", "u": "u"} and words == ["status"]
    flags, words = ctl.parse_flags(["-i", "--history-file", "h", "--", "-x"])
    assert flags == {"i": "", "r": "h"} and words == ["-x"]
    assert ctl.parse_flags(["tail", "-f", "web"]) == ({}, ["tail", "-f", "web"])
    with pytest.raises(ValueError, match="option -z not recognized"):
        ctl.parse_flags(["-z"])
    with pytest.raises(ValueError, match="option -c requires argument"):
        ctl.parse_flags(["-c"])


def test_the_server_from_flags_and_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "s.conf"
    conf.write_text(
        "[unix_http_server]\nfile=%(here)s/sup.sock\n"
        "[supervisorctl]\nusername=admin\npassword=pw\nprompt=box\nhistory_file=~/.h\n"
    )
    target = find({"c": str(conf)}, {}, "/run/initsup.sock")
    assert (
        target.url == f"unix://{tmp_path}/sup.sock" and target.socket_path == f"{tmp_path}/sup.sock"
    )
    assert (target.username, target.password, target.prompt) == ("admin", "pw", "box")
    assert target.history_file is not None and target.history_file.endswith("/.h")
    conf.write_text("[supervisorctl]\nserverurl=http://127.0.0.1:9001\n")
    target = find({"c": str(conf), "u": "me", "p": "x"}, {}, "/run/initsup.sock")
    assert (target.url, target.username, target.password) == ("http://127.0.0.1:9001", "me", "x")
    assert target.socket_path is None
    conf.write_text("[program:web]\ncommand=sleep 1\n")  # nothing names a server
    assert find({"c": str(conf)}, {}, "/d.sock").url == "unix:///d.sock"
    assert find({"s": "unix:///a.sock", "c": str(conf)}, {}, "/d.sock").url == "unix:///a.sock"
    with pytest.raises(FindError, match="must be unix:///path"):
        find({"s": "ftp://x"}, {}, "/d.sock")
    with pytest.raises(FindError, match="could not find config file"):
        find({"c": str(tmp_path / "nope.conf")}, {}, "/d.sock")
    conf.write_text("[supervisorctl]\nserverurl=nonsense\n")
    with pytest.raises(FindError, match="serverurl"):
        find({"c": str(conf)}, {}, "/d.sock")


# -- the HTTP transport ------------------------------------------------------------------


class _Responder:
    """Writes the route's answer as HTTP/1.1 to a socket (chunked when streamed)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
        self.conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def start(self, status: int, content_type: str) -> None:
        head = f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\n"
        self.conn.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())

    def write(self, data: bytes) -> None:
        for piece in (data[:3], data[3:]):  # chunk borders inside a line, too
            if piece:
                self.conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))

    def end(self) -> None:
        self.conn.sendall(b"0\r\n\r\n")

    def when_gone(self, forget: Callable[[], None]) -> None:
        pass


def _request(head: bytes, body: bytes) -> Request:
    """The request initsup ctl sent, read back from its head and body."""
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return Request(method, path, "", headers, body)


@pytest.fixture
def served() -> Iterator[tuple[str, ControlHost, list[Request]]]:
    """http://127.0.0.1:PORT answering one request per connection with the real route,
    401 without `Authorization`, 404 for other paths."""
    host = ControlHost()
    seen: list[Request] = []
    route = http_ctl.handler(host, host.feed)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                request = _request(head, body)
                while len(request.body) < int(request.headers["content-length"]):
                    request.body += conn.recv(65536)
                seen.append(request)
                responder = _Responder(conn)
                if "authorization" not in request.headers:
                    responder.send(401, b"auth\n")
                elif request.path != "/initsup/ctl" or getattr(host, "not_initsup", False):
                    responder.send(404, b"no\n")
                else:
                    route(request, responder)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", host, seen
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone would not)
        listener.close()
        thread.join(10)
        assert not thread.is_alive()


def _read_all(body: ctl_http.Body) -> bytes:
    data = b""
    while chunk := body.recv(5):
        data += chunk
    return data


def test_a_request_line_over_http(served: tuple[str, ControlHost, list[Request]]) -> None:
    url, host, seen = served
    host.add("web")
    body = ctl_http.request(url, b'{"cmd": "status", "args": []}\n', "admin", "pw")
    try:
        lines = _read_all(body).splitlines()
    finally:
        body.close()
    assert [json.loads(line) for line in lines] == [
        {"out": "web                              STOPPED   Not started"},
        {"exit": 3},
    ]
    assert seen[0].headers["authorization"] == "Basic YWRtaW46cHc="  # admin:pw
    assert seen[0].body == b'{"cmd": "status", "args": []}\n'


def test_http_errors_are_said_in_one_line(
    served: tuple[str, ControlHost, list[Request]],
) -> None:
    url, host, _ = served
    with pytest.raises(ctl_http.HttpError, match=r"^Server requires authentication$"):
        ctl_http.request(url, b"{}", None, None)
    host.not_initsup = True  # type: ignore[attr-defined]  # the server answers 404
    with pytest.raises(ctl_http.HttpError, match="does not serve initsup ctl"):
        ctl_http.request(url, b"{}", "u", "p")


def test_ctl_main_over_http(
    served: tuple[str, ControlHost, list[Request]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, host, _ = served
    host.add("web")
    assert ctl.main(["-s", url, "-u", "a", "-p", "b", "pid", "web"]) == 7
    assert capsys.readouterr().out == "0\n"
    assert ctl.main(["-s", url, "pid"]) == 1  # no username: no Authorization, a 401
    assert capsys.readouterr().out == "Server requires authentication\n"


def test_the_shell_logs_in_after_a_401(
    served: tuple[str, ControlHost, list[Request]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, host, seen = served
    host.add("web")
    target = find({"s": url}, {}, "/d.sock")

    def login(asked: Any) -> None:
        asked.username, asked.password = "admin", "pw"

    assert ctl.run(target, ["pid", "web"], login) == 7
    assert capsys.readouterr().out == "Server requires authentication\n0\n"
    assert [r.headers.get("authorization") for r in seen] == [None, "Basic YWRtaW46cHc="]
