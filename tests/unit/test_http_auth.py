"""Basic auth: plain and {SHA} passwords, wrong, missing and malformed, on every route."""

from __future__ import annotations

import base64
import hashlib
import http.client
import xmlrpc.client
from collections.abc import Iterator

import pytest

from initsup.control.http_auth import MALFORMED, MISSING, OK, WRONG, Credentials
from tests.http_harness import Served, read_response

SHA = "{SHA}" + hashlib.sha1(b"s3cret").hexdigest()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("stored", ["s3cret", SHA, SHA.upper()])
def test_credentials_plain_and_sha(stored: str) -> None:
    credentials = Credentials("admin", stored)
    assert credentials.check(_basic("admin", "s3cret")) == OK
    assert credentials.check("basic " + _basic("admin", "s3cret")[6:]) == OK  # any case
    assert credentials.check(_basic("admin", "s3cre")) == WRONG
    assert credentials.check(_basic("admin", stored)) == (OK if stored == "s3cret" else WRONG)
    assert credentials.check(_basic("root", "s3cret")) == WRONG
    assert credentials.check(None) == MISSING
    assert credentials.check("Bearer abc") == MISSING
    assert credentials.check("Basic !!!not-base64") == MALFORMED
    assert credentials.check("Basic " + base64.b64encode(b"no colon").decode()) == WRONG
    assert credentials.check("Basic " + base64.b64encode(b"admin:\xff").decode()) == MALFORMED


def test_a_colon_in_the_password_belongs_to_it() -> None:
    assert Credentials("a", "b:c").check(_basic("a", "b:c")) == OK


@pytest.fixture(params=["s3cret", SHA])
def guarded(request: pytest.FixtureRequest) -> Iterator[Served]:
    harness = Served(credentials=("admin", request.param))
    try:
        yield harness
    finally:
        harness.close()


def _status(port: int, path: str, authorization: str | None) -> tuple[int, dict[str, str]]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {} if authorization is None else {"Authorization": authorization}
        client.request("GET", path, headers=headers)
        response = client.getresponse()
        if response.status == 200 and path.startswith("/stream/"):
            response.read1(100)  # the stream goes on: its head is the answer
        else:
            response.read()
        return response.status, dict(response.getheaders())
    finally:
        client.close()


@pytest.mark.parametrize("path", ["/echo", "/RPC2", "/stream/web/stdout", "/nowhere", "/crash"])
def test_every_route_needs_the_credentials(guarded: Served, path: str) -> None:
    for authorization in (None, _basic("admin", "wrong"), _basic("", "")):
        status, headers = guarded.call(_status, guarded.port, path, authorization)
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="default"'
        assert headers["Connection"] == "close"
    assert guarded.call(_status, guarded.port, path, "Basic abc")[0] == 400  # bad padding
    assert guarded.seen == [] and guarded.streams == [] and guarded.events("error") == []
    expected = {"/echo": 200, "/RPC2": 200, "/stream/web/stdout": 200, "/nowhere": 404}
    good = _basic("admin", "s3cret")
    if path == "/RPC2":  # GET carries no XML-RPC call: the handler's parse fails
        expected[path] = 500
    assert guarded.call(_status, guarded.port, path, good)[0] == expected.get(path, 500)


def test_a_refusal_is_logged_once_per_connection_without_the_password(guarded: Served) -> None:
    def twice() -> bytes:
        with guarded.connect() as sock:
            auth = _basic("admin", "hunter2").encode()
            sock.sendall(b"GET /echo HTTP/1.1\r\nAuthorization: " + auth + b"\r\n\r\n" * 2)
            return read_response(sock)

    assert guarded.call(twice).startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    warnings = guarded.events()
    assert warnings == ["http: a client was refused: credentials wrong"]
    assert "hunter2" not in repr(guarded.records)


def test_xmlrpc_client_with_credentials_in_the_url(guarded: Served) -> None:
    def call(url: str) -> object:
        with xmlrpc.client.ServerProxy(url) as proxy:
            return proxy.supervisor.getVersion(1, "two")

    url = f"http://admin:s3cret@127.0.0.1:{guarded.port}/RPC2"
    assert guarded.call(call, url) == ["supervisor.getVersion", 1, "two"]
    with pytest.raises(xmlrpc.client.ProtocolError) as info:
        guarded.call(call, f"http://admin:nope@127.0.0.1:{guarded.port}/RPC2")
    assert info.value.errcode == 401
