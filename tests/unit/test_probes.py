"""initsup.health.probes: one run of each kind of check, on a real loop, with real
children (started by Children.check_starter, reaped through Owners on SIGCHLD) and real
sockets answered by the test itself between passes of the loop."""

from __future__ import annotations

import _socket
import contextlib
import errno
import os
import pwd
import select
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from initsup.children import Children
from initsup.health import answers, probes
from initsup.health.facts import OUTPUT_TAIL, Result
from initsup.loop import EventLoop
from initsup.model import HealthCheck, ProcessConfig
from initsup.reaper import Owners
from initsup.signals import InheritedSignals, SignalReceiver
from initsup.spawn import Spawner
from tests.helpers import alive, state, wait_for

T = TypeVar("T")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


class Harness:
    """A real EventLoop that reaps on SIGCHLD through Owners, and a check starter that
    runs commands as the program `web` would run (Children.check_starter)."""

    def __init__(self, program: ProcessConfig | None = None) -> None:
        self.errors: list[tuple[str, BaseException]] = []
        self.orphans: list[int] = []
        self.owners = Owners(lambda pid, status: self.orphans.append(pid))
        self._saved_handler = signal.getsignal(signal.SIGCHLD)
        self.receiver = SignalReceiver()
        self.receiver.catch({signal.SIGCHLD})
        self.loop = EventLoop(
            self.receiver, on_error=lambda where, exc: self.errors.append((where, exc))
        )
        self.loop.reap = self.owners.reap
        spawner = Spawner(InheritedSignals(frozenset(), frozenset()), frozenset(), frozenset())
        nothing: Any = None
        children = Children(self.loop, nothing, nothing, "json", nothing, nothing, nothing, spawner)
        self._start = children.check_starter(program or ProcessConfig("web", ["serve"]))
        self.pids: list[int] = []  # every command started, in order

    def start(self, argv: list[str], out_fd: int) -> int:
        pid = self._start(argv, out_fd)
        self.pids.append(pid)
        return pid

    def probe(self, check: HealthCheck) -> probes.Probe:
        return probes.make(check, self.loop, self.owners, self.start)

    def pump(self, timeout: float = 0.02) -> None:
        """One pass of the loop, waiting at most timeout seconds."""
        self.loop.run_once(timeout)

    def until(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Pump the loop until predicate is truthy (bounded)."""

        def pumped() -> T:
            self.pump()
            return predicate()

        return wait_for(pumped, timeout)

    def result(self, probe: probes.Probe, timeout: float = 10.0) -> Result:
        """Run probe once and pump until its result comes."""
        results: list[Result] = []
        probe.run(results.append)
        assert results == [], "done was called inside run()"
        assert probe.running
        self.until(lambda: results, timeout)
        assert not probe.running
        return self.only(results)

    def only(self, results: list[Result]) -> Result:
        """The one result of a run: a few more passes add none."""
        for _ in range(3):
            self.pump(0)
        assert len(results) == 1, results
        return results[0]

    def reaped(self, pid: int) -> bool:
        """pid is gone: reaped (by Owners, since the test process reaps nothing else)."""
        return state(pid) is None

    def close(self) -> None:
        for pid in self.pids:  # a test that failed midway may leave its command running
            if alive(pid):
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
        try:
            self.until(lambda: all(self.reaped(p) for p in self.pids))
        finally:
            self.loop.close()
            self.receiver.close()
            signal.signal(signal.SIGCHLD, self._saved_handler or signal.SIG_DFL)
        assert self.orphans == []
        if self.errors:
            raise self.errors[0][1]


@contextlib.contextmanager
def harness(program: ProcessConfig | None = None) -> Iterator[Harness]:
    made = Harness(program)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def h() -> Iterator[Harness]:
    with harness() as made:
        yield made


def command(text: str, timeout: float = 10.0) -> HealthCheck:
    return HealthCheck("command", command=text, timeout=timeout)


# -- command checks ----------------------------------------------------------------------


def test_a_command_exiting_0_passes_with_its_output(h: Harness) -> None:
    result = h.result(h.probe(command("echo all good; echo to stderr >&2")))
    assert (result.ok, result.detail) == (True, "exit 0")
    assert result.output == "all good\nto stderr\n"
    assert 0 < result.duration < 10


def test_a_command_exiting_3_fails(h: Harness) -> None:
    result = h.result(h.probe(command("echo not yet; exit 3")))
    assert (result.ok, result.detail, result.output) == (False, "exit 3", "not yet\n")


def test_a_command_killed_by_a_signal_says_which(h: Harness) -> None:
    result = h.result(h.probe(command("kill -TERM $$")))
    assert (result.ok, result.detail) == (False, "killed by SIGTERM")


def test_the_output_tail_is_kept_and_capped(h: Harness) -> None:
    """The last OUTPUT_TAIL bytes, decoded with replacement (a byte that is no UTF-8)."""
    text = "head -c 200000 /dev/zero | tr '\\0' x; printf '\\377\\n'; echo END"
    result = h.result(h.probe(command(text)))
    assert result.ok
    raw = result.output.encode("utf-8")
    assert result.output.endswith("x\ufffd\nEND\n")
    assert len(raw) == OUTPUT_TAIL - 1 + len("\ufffd".encode())  # one byte became three
    assert set(result.output[:-7]) == {"x"}


def test_timeout_kills_the_command_and_its_process_group(h: Harness) -> None:
    """Past the timeout the command and its own children (its process group) are killed,
    and the result comes once the command is reaped."""
    probe = h.probe(command("sleep 60 & echo $!; sleep 60", timeout=0.5))
    result = h.result(probe)
    assert (result.ok, result.detail) == (False, "timed out after 0.5 s")
    assert 0.5 <= result.duration < 5
    background = int(result.output)
    assert h.reaped(h.pids[0])
    wait_for(lambda: not alive(background))


def test_a_command_that_outlives_its_kill_still_gets_a_result(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that does not end when killed (here: started outside a group of its
    own, so the group kill misses it) cannot hold its check: the result comes after the
    grace, and its exit, when it comes, is reaped and ignored."""
    monkeypatch.setattr(probes, "KILL_GRACE", 0.2)
    started: list[int] = []

    def in_our_group(argv: list[str], out_fd: int) -> int:
        pid = os.posix_spawn(
            argv[0], argv, dict(os.environ), file_actions=[(os.POSIX_SPAWN_DUP2, out_fd, 1)]
        )
        started.append(pid)
        return pid

    probe = probes.make(command("exec sleep 60", timeout=0.3), h.loop, h.owners, in_our_group)
    result = h.result(probe)
    assert (result.ok, result.detail) == (
        False,
        "timed out after 0.3 s (its process did not end when killed)",
    )
    assert 0.5 <= result.duration < 5
    assert alive(started[0])
    os.kill(started[0], signal.SIGKILL)
    h.until(lambda: h.reaped(started[0]))  # through Owners: no orphan reported


def test_a_background_child_holding_the_pipe_does_not_hold_the_result(h: Harness) -> None:
    """`sleep 60 &` keeps the output pipe open; the result comes at the shell's exit,
    with what was written by then."""
    result = h.result(h.probe(command("sleep 60 & echo $!; echo done")), timeout=5)
    background = int(result.output.split()[0])
    try:
        assert (result.ok, result.detail) == (True, "exit 0")
        assert result.output.endswith("done\n")
        assert alive(background)  # still holding the pipe: the result did not wait for it
        assert result.duration < 5
    finally:
        os.kill(background, signal.SIGKILL)


def test_a_command_that_cannot_run_fails_and_leaks_nothing() -> None:
    """The starter's ExecError (here: the program's directory is gone) is the result."""
    with harness(ProcessConfig("web", ["serve"], directory="/nonexistent/dir")) as h:
        before = open_fds()
        result = h.result(h.probe(command("true")))
        assert (result.ok, result.detail) == (
            False,
            "could not run: couldn't chdir to /nonexistent/dir: ENOENT",
        )
        assert open_fds() == before


def test_a_starter_error_is_the_result(h: Harness) -> None:
    def no_fds(argv: list[str], out_fd: int) -> int:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    before = open_fds()
    probe = probes.make(command("true"), h.loop, h.owners, no_fds)
    result = h.result(probe)
    assert (result.ok, result.detail) == (False, "could not run: Too many open files")
    assert open_fds() == before


def test_a_check_runs_as_its_program_does(tmp_path: Path) -> None:
    """The program's environment=, directory= and umask=, and initsup's names for it."""
    program = ProcessConfig(
        "web", ["serve"], environment={"GREETING": "hello"}, directory=str(tmp_path), umask=0o027
    )
    with harness(program) as h:
        result = h.result(h.probe(command('echo "$GREETING $SUPERVISOR_PROCESS_NAME"; pwd; umask')))
        assert result.ok
        assert result.output.splitlines() == ["hello web", str(tmp_path), "0027"]


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another user needs root")
def test_a_check_runs_as_its_programs_user() -> None:
    nobody = pwd.getpwnam("nobody")
    with harness(ProcessConfig("web", ["serve"], user="nobody")) as h:
        result = h.result(h.probe(command("id -u; id -g")))
        assert result.output.split() == [str(nobody.pw_uid), str(nobody.pw_gid)]


def test_a_user_gone_since_the_configuration_was_read() -> None:
    with harness(ProcessConfig("web", ["serve"], user="no-such-user-here")) as h:
        result = h.result(h.probe(command("true")))
        assert result.detail == "could not run: no user 'no-such-user-here' on this system"


def test_stdin_is_dev_null(h: Harness) -> None:
    result = h.result(h.probe(command("cat; readlink /proc/self/fd/0")))
    assert result.ok
    assert result.output == "/dev/null\n"


def test_a_bug_inside_a_run_is_a_failed_result_and_closes_everything(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception in the probe's own code (here the loop refuses the pipe) never
    reaches the loop: the result says so, the command is killed, its pipe closed."""

    def refuse(fd: int, callback: object) -> None:
        raise ValueError("no more watching")

    before = open_fds()
    monkeypatch.setattr(h.loop, "add_reader", refuse)
    result = h.result(h.probe(command("sleep 60")))
    assert (result.ok, result.detail) == (False, "internal error: ValueError: no more watching")
    assert open_fds() == before
    h.until(lambda: h.reaped(h.pids[0]))


def test_run_while_running_is_a_bug(h: Harness) -> None:
    probe = h.probe(command("sleep 60"))
    results: list[Result] = []
    probe.run(results.append)
    with pytest.raises(RuntimeError, match="already running"):
        probe.run(results.append)
    probe.cancel()
    assert results == []


def test_done_may_start_the_next_run(h: Harness) -> None:
    """`running` is false when done hears the result: the monitor may run again at once."""
    probe = h.probe(command("echo $$"))
    results: list[Result] = []

    def again(result: Result) -> None:
        results.append(result)
        if len(results) < 3:
            probe.run(again)

    probe.run(again)
    h.until(lambda: len(results) == 3)
    assert [r.detail for r in results] == ["exit 0"] * 3
    assert len({r.output for r in results}) == 3  # three commands, three pids


# -- HTTP and TCP ---------------------------------------------------------------------------


class Server:
    """A listening TCP socket the test answers by hand, between passes of the loop."""

    def __init__(self, host: str = "127.0.0.1", backlog: int = 8) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []

    def accept(self, h: Harness) -> socket.socket:
        def accepted() -> socket.socket | None:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return None
            self.conns.append(conn)
            return conn

        conn = h.until(accepted)
        assert conn is not None
        return conn

    def request(self, h: Harness, conn: socket.socket) -> bytes:
        """Read the request's head, pumping the loop so the probe can send it."""
        conn.setblocking(False)
        data = b""

        def whole() -> bool:
            nonlocal data
            h.pump()
            with contextlib.suppress(BlockingIOError):
                data += conn.recv(65536)
            return b"\r\n\r\n" in data

        wait_for(whole)
        return data

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[Server]:
    made = Server()
    try:
        yield made
    finally:
        made.close()


def http(
    port: int, host: str = "127.0.0.1", path: str = "/healthz", timeout: float = 10.0
) -> HealthCheck:
    return HealthCheck("http", host=host, port=port, path=path, timeout=timeout)


def answered(h: Harness, server: Server, answer: bytes, close: bool = True) -> tuple[Result, bytes]:
    """Run an HTTP probe against server, which sends answer (and closes)."""
    probe = h.probe(http(server.port))
    results: list[Result] = []
    probe.run(results.append)
    conn = server.accept(h)
    request = server.request(h, conn)
    conn.setblocking(True)
    conn.sendall(answer)
    if close:
        conn.close()
    h.until(lambda: results)
    return h.only(results), request


def test_http_200_passes_with_the_start_of_the_body(h: Harness, server: Server) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall good\n"
    result, request = answered(h, server, answer)
    assert (result.ok, result.detail, result.output) == (True, "HTTP 200", "all good\n")
    lines = request.decode().split("\r\n")
    assert lines[0] == "GET /healthz HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}" in lines
    assert "User-Agent: initsup-healthcheck" in lines
    assert "Connection: close" in lines


def test_http_3xx_passes_without_following(h: Harness, server: Server) -> None:
    answer = b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\n\r\n"
    result, _ = answered(h, server, answer)
    assert (result.ok, result.detail) == (True, "HTTP 302")
    assert len(server.conns) == 1


def test_http_503_fails_with_the_body(h: Harness, server: Server) -> None:
    answer = b"HTTP/1.0 503 Service Unavailable\r\n\r\ndatabase down"
    result, _ = answered(h, server, answer)
    assert (result.ok, result.detail, result.output) == (False, "HTTP 503", "database down")


def test_http_body_is_capped_to_the_output_tail(h: Harness, server: Server) -> None:
    body = b"b" * 10000
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + body
    result, _ = answered(h, server, answer)
    assert result.ok
    assert result.output == "b" * OUTPUT_TAIL


def test_http_answer_with_a_length_needs_no_close(h: Harness, server: Server) -> None:
    """A server that keeps the connection open despite Connection: close still gets its
    verdict once Content-Length bytes came."""
    answer = b"HTTP/1.1 204 No Content\r\n\r\n"
    result, _ = answered(h, server, answer, close=False)
    assert (result.ok, result.detail, result.output) == (True, "HTTP 204", "")
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    result, _ = answered(h, server, answer, close=False)
    assert (result.ok, result.output) == (True, "ok")


def test_http_garbage_is_a_malformed_status_line(h: Harness, server: Server) -> None:
    result, _ = answered(h, server, b"hello there\r\n\r\n")
    assert (result.ok, result.detail) == (False, "malformed status line")
    assert result.output == "hello there\r\n\r\n"


def test_http_close_before_an_answer(h: Harness, server: Server) -> None:
    result, _ = answered(h, server, b"")
    assert (result.ok, result.detail) == (False, "connection closed before an answer")


def test_http_reset_before_an_answer(h: Harness, server: Server) -> None:
    probe = h.probe(http(server.port))
    results: list[Result] = []
    probe.run(results.append)
    conn = server.accept(h)
    server.request(h, conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()  # linger 0: a reset
    h.until(lambda: results)
    assert (h.only(results).ok, results[0].detail) == (False, "connection reset")


def test_http_refused(h: Harness) -> None:
    with socket.socket() as bound:  # bound, not listening: a refusal, and nobody else's port
        bound.bind(("127.0.0.1", 0))
        result = h.result(h.probe(http(bound.getsockname()[1])))
    assert (result.ok, result.detail) == (False, "connection refused")


def test_http_server_that_never_answers_times_out(h: Harness, server: Server) -> None:
    before = open_fds()
    probe = h.probe(http(server.port, timeout=0.3))
    results: list[Result] = []
    probe.run(results.append)
    conn = server.accept(h)
    server.request(h, conn)
    h.until(lambda: results)
    result = h.only(results)
    assert (result.ok, result.detail) == (False, "timed out after 0.3 s")
    assert 0.3 <= result.duration < 5
    conn.close()
    server.conns.remove(conn)
    assert open_fds() == before


def test_http_huge_header_block_is_cut_at_the_cap(h: Harness, server: Server) -> None:
    """A head that never ends: the probe reads MAX_ANSWER bytes, decides on the status
    line and hangs up, without waiting for the server to close."""
    probe = h.probe(http(server.port))
    results: list[Result] = []
    probe.run(results.append)
    conn = server.accept(h)
    server.request(h, conn)
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"f" * (answers.MAX_ANSWER * 4)
    conn.setblocking(False)
    sent = 0

    def decided() -> bool:
        nonlocal sent
        h.pump()
        with contextlib.suppress(BlockingIOError, ConnectionError):
            sent += conn.send(head[sent : sent + 65536])
        return bool(results)

    wait_for(decided)
    result = h.only(results)
    assert (result.ok, result.detail, result.output) == (True, "HTTP 200", "")
    assert sent >= answers.MAX_ANSWER

    def hung_up() -> bool:  # the probe closed its end: the server's writes fail
        try:
            conn.send(b"f" * 65536)
        except BlockingIOError:
            return False
        except ConnectionError:
            return True
        with contextlib.suppress(BlockingIOError, ConnectionError):
            while conn.recv(65536):
                pass
        return False

    wait_for(hung_up)


def answered_200(h: Harness, server: Server, host: str) -> tuple[Result, bytes]:
    """One HTTP check of host at server, answered 200: its result and the request sent."""
    probe = h.probe(http(server.port, host=host))
    results: list[Result] = []
    probe.run(results.append)
    conn = server.accept(h)
    request = server.request(h, conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    conn.close()
    h.until(lambda: results)
    return h.only(results), request


def test_http_to_localhost_by_name(h: Harness, server: Server) -> None:
    result, request = answered_200(h, server, "localhost")
    assert result.detail == "HTTP 200"
    assert f"Host: localhost:{server.port}\r\n".encode() in request


def test_http_to_an_ipv6_literal(h: Harness) -> None:
    try:
        server = Server("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        result, request = answered_200(h, server, "::1")
        assert result.detail == "HTTP 200"
        assert f"Host: [::1]:{server.port}\r\n".encode() in request
    finally:
        server.close()


def test_a_name_that_does_not_resolve(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*args: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(_socket, "getaddrinfo", unknown)
    result = h.result(h.probe(HealthCheck("tcp", host="db", port=5432)))
    assert (result.ok, result.detail) == (False, "cannot resolve db: Name or service not known")


def test_each_address_of_a_name_is_tried_in_turn(
    h: Harness, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name whose first address refuses (as "localhost" may give ::1 first to a server
    on 127.0.0.1 only): the next address is tried within the same check."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        refusing = bound.getsockname()
        listening = ("127.0.0.1", server.port)

        def two(*args: object) -> list[tuple[int, int, int, str, tuple[str, int]]]:
            tcp = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
            return [(*tcp, refusing), (*tcp, listening)]

        monkeypatch.setattr(_socket, "getaddrinfo", two)
        result = h.result(h.probe(HealthCheck("tcp", host="app", port=server.port)))
        assert (result.ok, result.detail) == (True, "connected")
        listening = refusing  # and when every address refuses, the last error is said
        result = h.result(h.probe(HealthCheck("tcp", host="app", port=server.port)))
        assert (result.ok, result.detail) == (False, "connection refused")


def test_http_request_names_the_default_port_by_omission() -> None:
    check = HealthCheck("http", host="db.local", port=80, path="/ready?full=1")
    lines = answers.request(check).decode().split("\r\n")
    assert lines[:2] == ["GET /ready?full=1 HTTP/1.1", "Host: db.local"]
    assert answers.request(check).endswith(b"\r\n\r\n")


def test_tcp_open_port_connects(h: Harness, server: Server) -> None:
    check = HealthCheck("tcp", host="127.0.0.1", port=server.port)
    result = h.result(h.probe(check))
    assert (result.ok, result.detail) == (True, "connected")
    conn = server.accept(h)
    assert conn.recv(1) == b""  # the probe connected and hung up


def test_tcp_closed_port_is_refused(h: Harness) -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        check = HealthCheck("tcp", host="127.0.0.1", port=bound.getsockname()[1])
        result = h.result(h.probe(check))
    assert (result.ok, result.detail) == (False, "connection refused")


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose listen queue is full: a connect to it stays in progress (the kernel
    drops its SYN); the port of a listener that never accepts."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(64):
            filler = socket.socket()
            fillers.append(filler)
            filler.setblocking(False)
            filler.connect_ex(address)
            _, writable, _ = select.select([], [filler], [], 0.2)
            if not writable:
                break  # this one is left hanging: the queue is full
        else:
            pytest.skip("the listen queue never filled")
        yield address[1]
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_tcp_connect_that_hangs_times_out(h: Harness) -> None:
    with full_backlog() as port:
        before = open_fds()
        check = HealthCheck("tcp", host="127.0.0.1", port=port, timeout=0.3)
        result = h.result(h.probe(check))
        assert (result.ok, result.detail) == (False, "timed out after 0.3 s")
        assert open_fds() == before


# -- cancel ------------------------------------------------------------------------------


def pump_past(h: Harness, seconds: float) -> None:
    """Pump the loop until seconds have passed on its clock (nothing should happen)."""
    end = h.loop.clock() + seconds
    while h.loop.clock() < end:
        h.pump(0.02)


def test_cancel_of_a_command_kills_its_group_and_closes_the_pipe(h: Harness) -> None:
    before = open_fds()
    probe = h.probe(command("sleep 60 & echo $!; sleep 60", timeout=0.5))
    results: list[Result] = []
    probe.run(results.append)
    h.until(lambda: h.pids)
    pid = h.pids[0]
    h.until(lambda: len(group_members(pid)) >= 2)  # the shell and its sleep
    probe.cancel()
    assert not probe.running
    assert open_fds() == before
    h.until(lambda: h.reaped(pid))  # reaped through Owners, no orphan
    wait_for(lambda: not group_members(pid))
    pump_past(h, 0.6)  # past the timeout too
    assert results == []
    probe.cancel()  # again: nothing to do
    assert open_fds() == before


def group_members(group: int) -> list[int]:
    """The live processes of a process group."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit() and alive(int(name)):
            with contextlib.suppress(OSError):
                if os.getpgid(int(name)) == group:
                    members.append(int(name))
    return members


def test_cancel_of_http_waiting_for_an_answer(h: Harness, server: Server) -> None:
    before = open_fds()
    probe = h.probe(http(server.port, timeout=0.3))
    results: list[Result] = []
    probe.run(results.append)
    conn = server.accept(h)
    server.request(h, conn)
    probe.cancel()
    conn.setblocking(True)
    conn.settimeout(10)
    assert conn.recv(1) == b""  # the probe's socket is closed
    conn.close()
    server.conns.remove(conn)
    assert open_fds() == before
    pump_past(h, 0.5)
    assert results == []


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_cancel_while_connecting(h: Harness, kind: str) -> None:
    with full_backlog() as port:
        before = open_fds()
        probe = h.probe(HealthCheck(kind, host="127.0.0.1", port=port, timeout=0.3))
        results: list[Result] = []
        probe.run(results.append)
        h.pump(0.05)
        assert probe.running
        probe.cancel()
        assert open_fds() == before
        pump_past(h, 0.5)
        assert results == []


def test_cancel_after_the_verdict_before_done(h: Harness) -> None:
    """A result decided but not yet handed over is dropped by cancel()."""

    def cannot(argv: list[str], out_fd: int) -> int:
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))

    probe = probes.make(command("true"), h.loop, h.owners, cannot)
    results: list[Result] = []
    probe.run(results.append)  # decided inside run (no pid), handed over later
    assert probe.running
    probe.cancel()
    pump_past(h, 0.1)
    assert results == []
    probe.cancel()


def test_cancel_without_a_run_does_nothing(h: Harness) -> None:
    probe = h.probe(command("true"))
    probe.cancel()
    assert h.result(probe).ok


def test_make_refuses_an_unknown_kind(h: Harness) -> None:
    with pytest.raises(ValueError, match="no probe"):
        h.probe(HealthCheck("carrier-pigeon"))


def test_error_words() -> None:
    assert probes.error_words(errno.ECONNREFUSED) == "connection refused"
    assert probes.error_words(errno.EACCES) == "permission denied"
    assert probes.error_words(0) == "unknown error"


# -- reading an answer (pure) --------------------------------------------------------------


def test_verdict_waits_for_the_head_and_the_promised_body() -> None:
    assert answers.verdict(b"HTTP/1.1 200", False) is None
    assert answers.verdict(b"HTTP/1.1 200 OK\r\nServer: x\r\n", False) is None
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert answers.verdict(head + b"ab", False) is None
    assert answers.verdict(head + b"abcde", False) == (True, "HTTP 200", "abcde")
    assert answers.verdict(head + b"ab", True) == (True, "HTTP 200", "ab")  # closed early
    assert answers.verdict(b"HTTP/1.1 200", True) == (
        False,
        "malformed status line",
        "HTTP/1.1 200",
    )
    bare = b"HTTP/1.0 500 Oops\n\nbroken"
    assert answers.verdict(bare, True) == (False, "HTTP 500", "broken")  # bare newlines


def test_parse_status_is_strict_about_the_first_line() -> None:
    assert answers.parse_status(b"HTTP/1.1 200 OK\r\n") == 200
    assert answers.parse_status(b"HTTP/1.1 404\r\n") == 404
    for line in (b"HTTP/1.1 2000 OK\r\n", b"HTTP/1.1 20 OK\r\n", b"HTTP/1.1 700 X\r\n",
                 b"http/1.1 200 OK\r\n", b"HTTP/11 200 OK\r\n", b" HTTP/1.1 200 OK\r\n",
                 b"HTTP/1.1 200 OK"):  # fmt: skip
        assert answers.parse_status(line) is None, line


def test_header_values() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length:  12 \r\nX-A: 1\r\nX-A: 2\r\n"
    assert answers.header(head, b"content-length") == b"12"
    assert answers.header(head, b"x-a") == b"1"
    assert answers.header(head, b"transfer-encoding") is None


def test_a_chunked_body_is_its_data() -> None:
    assert answers.dechunk(b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n") == (b"Wikipedia", True)
    assert answers.dechunk(b"4\nWiki\n0\n\n") == (b"Wiki", True)
    assert answers.dechunk(b"4\r\nWiki\r\n5\r\nped") == (b"Wikiped", False)
    assert answers.dechunk(b"zz\r\nWiki") == (b"", False)  # not a chunk size
    assert answers.dechunk(b"-4\r\nWiki\r\n0\r\n\r\n") == (b"", False)
    assert answers.dechunk(b"") == (b"", False)
    big = b"".join(b"400\r\n" + b"x" * 1024 + b"\r\n" for _ in range(8))
    assert answers.dechunk(big) == (b"x" * OUTPUT_TAIL, False)


def test_a_chunked_answer_is_decided_at_its_last_chunk() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert answers.verdict(head + b"2\r\nok\r\n", False) is None
    assert answers.verdict(head + b"2\r\nok\r\n0\r\n\r\n", False) == (True, "HTTP 200", "ok")
    assert answers.verdict(head + b"2\r\nok\r\n", True) == (True, "HTTP 200", "ok")
