"""The HTTP server over real TCP sockets: framing, keep-alive, pipelining, every limit."""

from __future__ import annotations

import errno
import http.client
import socket
from collections.abc import Iterator

import pytest

from initsup.control import accepting, http_connection
from initsup.control import http as http_server
from tests.http_harness import Served, read_response

CLOSE = b"GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n"


@pytest.fixture
def served() -> Iterator[Served]:
    harness = Served()
    try:
        yield harness
    finally:
        harness.close()


def _get(
    port: int, path: str, method: str = "GET", body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        client.request(method, path, body=body)
        response = client.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        client.close()


def _exchange(served: Served, data: bytes) -> bytes:
    """(In a worker) send data on a fresh connection, read until the server closes."""
    with served.connect() as sock:
        sock.sendall(data)
        return read_response(sock)


def _raw(served: Served, data: bytes) -> bytes:
    """Send data on a fresh connection, read until the server closes."""
    return served.call(_exchange, served, data)


def test_a_request_is_echoed_with_length_and_server(served: Served) -> None:
    status, headers, body = served.call(_get, served.port, "/echo?a=1", "POST", b"xyz")
    assert status == 200
    assert body == b"POST /echo?a=1 3\nxyz"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Server"] == "initsup"
    assert headers["X-Echo"] == "1"
    assert served.seen[0].headers["content-length"] == "3"


def test_keep_alive_serves_a_session_on_one_connection(served: Served) -> None:
    """supervisorctl keeps one connection for a whole session."""

    def session() -> list[bytes]:
        client = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        bodies = []
        for n in range(3):
            client.request("POST", "/echo", body=b"x" * n)
            bodies.append(client.getresponse().read())
        client.close()
        return bodies

    assert served.call(session) == [b"POST /echo? 0\n", b"POST /echo? 1\nx", b"POST /echo? 2\nxx"]
    assert len(served.seen) == 3
    ports = {request.headers.get("host") for request in served.seen}
    assert len(ports) == 1


def test_http10_closes_unless_asked_to_keep_alive(served: Served) -> None:
    closed = _raw(served, b"GET /echo HTTP/1.0\r\n\r\n")
    assert closed.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close\r\n" in closed

    def kept() -> bytes:
        with served.connect() as sock:
            request = b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            sock.sendall(request * 2)
            sock.settimeout(10)
            data = b""
            while data.count(b"GET /echo") < 2:
                data += sock.recv(65536)
            return data

    data = served.call(kept)
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert b"Connection: keep-alive\r\n" in data


def test_connection_close_is_honoured(served: Served) -> None:
    data = _raw(served, CLOSE + b"GET /echo HTTP/1.1\r\n\r\n")
    assert data.count(b"HTTP/1.1 200") == 1
    assert b"Connection: close\r\n" in data


def test_pipelined_requests_are_answered_in_order_one_at_a_time(served: Served) -> None:
    def pipeline() -> bytes:
        with served.connect() as sock:
            sock.sendall(
                b"GET /later HTTP/1.1\r\n\r\n"
                b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"
                b"GET /echo?last HTTP/1.1\r\nConnection: close\r\n\r\n"
            )
            return read_response(sock)

    future = served.start(pipeline)
    served.pump(lambda: served.pending)
    for _ in range(20):  # the later requests wait for the first answer
        served.loop.run_once(0.005)
    assert served.seen == []
    served.pending[0][1].send(200, b"first\n")
    served.pump(future.done)
    data = future.result()
    assert data.index(b"first") < data.index(b"POST /echo? 2\nab") < data.index(b"?last")
    assert [r.query for r in served.seen] == ["", "last"]


def test_blank_lines_between_requests_are_skipped(served: Served) -> None:
    """supervisorctl's tail -f ends its request with an extra CRLF."""
    data = _raw(served, b"GET /echo HTTP/1.1\r\n\r\n\r\n" + CLOSE)
    assert data.count(b"HTTP/1.1 200") == 2


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\n\r\n", 431),
        (b"GET /echo HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
        (b"GET /echo HTTP/1.1\r\nX: " + b"y" * 9000, 431),  # no end in sight: refused early
        (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /echo HTTP/2.0\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nbad header\r\n\r\n", 400),
        (b"PUT /echo HTTP/1.1\r\n\r\n", 405),
        (b"DELETE /echo HTTP/1.1\r\n\r\n", 405),
    ],
)
def test_limits_and_malformed_requests_are_answered_and_closed(
    served: Served, request_bytes: bytes, status: int
) -> None:
    data = _raw(served, request_bytes)
    assert data.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Connection: close\r\n" in data
    assert served.seen == []
    if status == 405:
        assert b"Allow: GET, POST, HEAD\r\n" in data


def test_a_body_over_the_limit_is_refused_before_it_is_sent() -> None:
    served = Served(max_body=1000)
    try:

        def oversized() -> bytes:
            with served.connect() as sock:
                sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 1001\r\n\r\n")
                return read_response(sock)  # answered with no body byte sent

        assert served.call(oversized).startswith(b"HTTP/1.1 413 ")
        status, _, _ = served.call(_get, served.port, "/echo", "POST", b"x" * 1000)
        assert status == 200
    finally:
        served.close()


def test_unknown_path_is_404_and_the_connection_stays(served: Served) -> None:
    data = _raw(served, b"GET /nothing HTTP/1.1\r\n\r\n" + CLOSE)
    assert data.startswith(b"HTTP/1.1 404 ")
    assert b"HTTP/1.1 200 OK" in data


def test_head_answers_the_headers_only(served: Served) -> None:
    data = _raw(served, b"HEAD /echo HTTP/1.1\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 14\r\n" in head  # the length of "HEAD /echo? 0\n"
    assert body == b""


def test_head_of_a_stream_is_the_head_and_forgets_the_stream(served: Served) -> None:
    data = _raw(served, b"HEAD /stream/x HTTP/1.1\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b""
    assert served.streams[0].gone == 1
    assert served.events("error") == []


def test_expect_continue_is_answered_before_the_body(served: Served) -> None:
    def continued() -> bytes:
        with served.connect() as sock:
            sock.sendall(
                b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
                b"Connection: close\r\n\r\n"
            )
            interim = sock.recv(65536)
            assert interim == b"HTTP/1.1 100 Continue\r\nServer: initsup\r\n\r\n"
            sock.sendall(b"ok")
            return read_response(sock)

    assert served.call(continued).endswith(b"POST /echo? 2\nok")


def test_a_handler_that_raises_is_a_500_and_a_close(served: Served) -> None:
    data = _raw(served, b"GET /crash HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 ")
    assert b"HTTP/1.1 200" not in data
    assert served.errors == []  # the loop saw nothing
    assert any("internal error in the HTTP handler of /crash" in e for e in served.events("error"))
    status, _, _ = served.call(_get, served.port, "/echo")  # and it serves on
    assert status == 200


def test_a_second_answer_is_dropped_and_logged(served: Served) -> None:
    data = _raw(served, b"GET /twice HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"first\n")
    assert b"second" not in data
    assert any("answered out of turn" in e for e in served.events("error"))


def test_idle_kept_alive_connections_time_out(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_connection, "IDLE_TIMEOUT", 0.2)

    def idle() -> bytes:
        with served.connect() as sock:
            sock.sendall(b"GET /echo HTTP/1.1\r\n\r\n")
            return read_response(sock)  # returns only once the server closes

    assert served.call(idle).startswith(b"HTTP/1.1 200")
    assert served.server.connections == {}


def test_no_timeout_while_a_handler_is_pending(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_connection, "IDLE_TIMEOUT", 0.05)
    monkeypatch.setattr(http_connection, "REQUEST_TIMEOUT", 0.05)
    future = served.start(_get, served.port, "/later")
    served.pump(lambda: served.pending)
    for _ in range(30):  # well past both timeouts
        served.loop.run_once(0.01)
    served.pending[0][1].send(200, b"late\n")
    served.pump(future.done)
    assert future.result()[0] == 200


def test_a_slowloris_client_is_timed_out_and_blocks_nobody(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_connection, "REQUEST_TIMEOUT", 0.3)
    slow = served.connect()
    try:
        slow.sendall(b"GET /echo HTTP/1.1\r\nX-Slow: ")
        served.pump(lambda: served.server.connections)
        # Another client is served while the slow one holds its connection.
        assert served.call(_get, served.port, "/echo")[0] == 200
        assert served.call(read_response, slow).startswith(b"HTTP/1.1 408 ")
    finally:
        slow.close()
    assert "http: bad request (408)" in served.events()[0]


def test_a_stream_is_chunked_over_http11(served: Served) -> None:
    def tail() -> list[bytes]:
        client = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        client.request("GET", "/stream/web/stdout")
        response = client.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"
        first = response.read1(100)
        rest = response.read()
        client.close()
        return [first, rest]

    future = served.start(tail)
    served.pump(lambda: served.streams)
    stream = served.streams[0]
    stream.responder.write(b"more\n")
    stream.responder.end()
    served.pump(future.done)
    first, rest = future.result()
    assert first + rest == b"hello\nmore\n"
    assert stream.gone == 0  # ended by its handler: nothing to forget


def test_a_stream_over_http10_ends_with_the_close(served: Served) -> None:
    future = served.start(_exchange, served, b"GET /stream/x HTTP/1.0\r\n\r\n")
    served.pump(lambda: served.streams)
    served.streams[0].responder.write(b"more\n")
    served.streams[0].responder.end()
    served.pump(future.done)
    data = future.result()
    assert b"Transfer-Encoding" not in data
    assert data.endswith(b"\r\n\r\nhello\nmore\n")


def test_when_gone_runs_when_a_streaming_client_goes(served: Served) -> None:
    sock = served.connect()
    sock.sendall(b"GET /stream/x HTTP/1.1\r\n\r\n")
    served.pump(lambda: served.streams)
    sock.close()
    served.pump(lambda: served.streams[0].gone)
    assert served.streams[0].gone == 1
    served.streams[0].responder.write(b"after\n")  # ignored, no error
    assert served.server.connections == {}


def test_a_streaming_client_that_does_not_read_is_dropped(served: Served) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", served.port))
    try:
        sock.sendall(b"GET /stream/x HTTP/1.1\r\n\r\n")
        served.pump(lambda: served.streams)
        stream = served.streams[0]
        block = b"x" * 65536
        for _ in range(64):  # 4 MiB: far past what one client may have waiting
            stream.responder.write(block)
            served.loop.run_once(0)
            if stream.gone:
                break
        assert stream.gone == 1
        assert served.server.connections == {}
        assert served.server.queued == 0
        assert "http: a client is not reading its stream; dropped" in served.events()
    finally:
        sock.close()


def test_a_crowd_makes_room_by_dropping_idle_clients(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_server, "MAX_CONNECTIONS", 2)
    idle = [served.connect(), served.connect()]
    try:
        served.pump(lambda: len(served.server.connections) == 2)
        assert served.call(_get, served.port, "/echo")[0] == 200
        assert served.call(read_response, idle[0]) == b""  # the oldest idle one went
    finally:
        for sock in idle:
            sock.close()


def test_a_crowd_of_busy_clients_turns_the_next_away(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_server, "MAX_CONNECTIONS", 2)
    waiting = [served.start(_get, served.port, "/later") for _ in range(2)]
    served.pump(lambda: len(served.pending) == 2)
    assert served.call(_get, served.port, "/echo")[0] == 503
    for _, responder in served.pending:
        responder.send(200, b"ok\n")
    served.pump(lambda: all(f.done() for f in waiting))
    assert [f.result()[0] for f in waiting] == [200, 200]


def test_a_client_that_goes_while_its_request_waits_is_forgotten(served: Served) -> None:
    sock = served.connect()
    sock.sendall(b"GET /later HTTP/1.1\r\n\r\n")
    served.pump(lambda: served.pending)
    forgotten: list[int] = []
    served.pending[0][1].when_gone(lambda: forgotten.append(1))
    sock.close()
    served.pump(lambda: forgotten)
    assert served.server.connections == {}
    served.pending[0][1].send(200, b"too late\n")  # dropped quietly
    assert served.events("error") == []


def test_non_loopback_addresses_are_warned_about(served: Served) -> None:
    served.server.listen_tcp("0.0.0.0", 0)
    warning = served.events()[-1]
    assert "reachable from other hosts" in warning
    served.server.listen_tcp("127.0.0.1", 0)
    assert served.events()[-1] == warning  # loopback: no new warning


def test_a_failure_outside_any_handler_costs_one_client(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str) -> None:
        raise RuntimeError("routing bug")

    monkeypatch.setattr(served.server, "route", broken)
    assert _raw(served, CLOSE) == b""
    assert served.errors == []
    assert "internal error in an HTTP connection" in served.events("error")[0]
    monkeypatch.undo()
    assert served.call(_get, served.port, "/echo")[0] == 200


def test_out_of_descriptors_accepting_pauses_and_resumes(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accepting, "ACCEPT_PAUSE", 0.1)
    listener = served.server.listeners[0]

    class Starved:
        """The listener, out of descriptors for its first three accepts."""

        failures = 3

        def fileno(self) -> int:
            return int(listener.fileno())

        def _accept(self) -> tuple[int, object]:
            if self.failures:
                self.failures -= 1
                raise OSError(errno.EMFILE, "Too many open files")
            return listener._accept()  # type: ignore[no-any-return]

    served.loop.remove_reader(listener.fileno())  # from now on, accepts go through Starved
    future = served.start(_get, served.port, "/echo")  # waits in the backlog
    starved = Starved()
    acceptor = served.server._acceptors[0]
    acceptor.listener = starved
    acceptor._accept()  # paused, not spun on
    assert not future.done()
    served.pump(future.done)  # each pause ends with one more try; the fourth works
    assert starved.failures == 0
    assert len([e for e in served.events("error") if "accept failed" in e]) == 1
    assert future.result()[0] == 200
