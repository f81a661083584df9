"""The control socket under bad, broken and hostile clients: every client gets one
well-formed answer or a clean close, nothing it sends or fails to read loses another
client's answer, and PID 1 stays up with bounded memory (reliability findings D2, D6, D8,
D13, D14, D16, D17)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import INITSUP, ROOT, Proc, env, proc_status, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]
Reply = dict[str, object]

CONFIG = """\
[program:victim]
command=sleep 1000
startsecs=0
[program:slow]
command=sh -c "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done"
startsecs=0
"""


def _read_replies(sock: socket.socket) -> list[Reply]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return [json.loads(line) for line in data.splitlines()]


def _raw(path: str, payload: bytes, timeout: float = 10, half_close: bool = False) -> list[Reply]:
    """Send raw bytes on the socket; return the JSON replies until the server closes."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return _read_replies(sock)


def _idle_clients(path: str, count: int, request: bytes = b"") -> list[socket.socket]:
    """count connections (non-blocking connects: a full backlog must not block the test)."""
    clients = []
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        try:
            sock.connect(path)
            if request:
                sock.send(request)
        except (BlockingIOError, BrokenPipeError):  # a full backlog; turned away at once
            sock.close()
            continue
        clients.append(sock)
    return clients


def _close_all(clients: list[socket.socket]) -> None:
    for sock in clients:
        sock.close()


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    return int(proc_status(pid)[field].split()[0])


@pytest.fixture
def running(supervise: Start) -> Iterator[Supervised]:
    s = supervise(ini=CONFIG)
    for name in ("victim", "slow"):
        s.wait("PROCESS_STATE_RUNNING", program=name)
    yield s


# -- D2: a malformed request is answered, whatever the JSON codec raises -----------------


@pytest.mark.parametrize(
    "payload", [b'{"cmd":"status"\n', b"{a: b}\n", b"[1, 2\n", b'{"cmd": "status", "args": [}\n']
)
def test_truncated_request_gets_an_error_and_a_close(running: Supervised, payload: bytes) -> None:
    """A request that starts like JSON but is not gets `bad request` and exit 2 at once."""
    replies = _raw(running.socket, payload, timeout=5)
    assert replies[-1] == {"exit": 2}
    assert "bad request: not JSON" in str(replies[0]["err"])
    assert running.ctl("status", "victim").returncode == 0


# -- D6: a half-closed client still gets the answer --------------------------------------


def test_half_closed_client_gets_the_answer_to_stop(running: Supervised) -> None:
    """A client that shuts down its write side after the request (nc -N) still gets the
    answer to a command that waits, here a stop that takes a second."""
    request = b'{"cmd": "stop", "args": ["slow"]}\n'
    replies = _raw(running.socket, request, timeout=15, half_close=True)
    assert replies == [{"out": "slow: stopped"}, {"exit": 0}]
    half = _raw(running.socket, b'{"cmd": "start", "args": ["slow"]}\n', half_close=True)
    assert half == [{"out": "slow: started"}, {"exit": 0}]


# -- D8: out of file descriptors ---------------------------------------------------------


def test_out_of_fds_pauses_accepting_without_flooding_the_log(supervise: Start) -> None:
    """With 64 fds and 100 idle clients, accept fails with EMFILE: initsup logs it once per
    episode instead of spinning, and answers `ctl status` once the clients have gone."""
    s = supervise(ini=CONFIG, prefix=["prlimit", "--nofile=64"])
    s.wait("PROCESS_STATE_RUNNING", program="victim")
    clients = _idle_clients(s.socket, 100)
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:  # bounded even if the log floods
            try:
                s.next(0.1)
            except AssertionError:
                pass  # quiet for now
        failures = [r for r in s.records if "accept failed" in str(r["event"])]
        assert 1 <= len(failures) <= 5, len(failures)
        assert "EMFILE" in str(failures[0]["event"]) or "Too many open files" in str(
            failures[0]["event"]
        )
    finally:
        _close_all(clients)
    answered = wait_for(lambda: s.ctl("status", "victim").returncode == 0, timeout=20)
    assert answered
    assert s.stop() == 0


# -- D13: bounded connections and memory -------------------------------------------------


def test_too_many_connections_are_turned_away(running: Supervised) -> None:
    """Beyond the connection limit a client gets a clear refusal and a close; the others are
    served, and a good client is answered once the crowd goes."""
    crowd = _idle_clients(running.socket, 70)
    try:
        late = socket.socket(socket.AF_UNIX)
        late.connect(running.socket)  # blocking: waits while the backlog is full
        late.settimeout(10)
        with late:
            replies = _read_replies(late)
        assert replies[-1] == {"exit": 2}
        assert "too many control connections" in str(replies[0]["err"])
    finally:
        _close_all(crowd)
    assert wait_for(lambda: running.ctl("status", "victim").returncode == 0, timeout=20)


CHATTY = """\
[program:chatty]
command=sh -c "head -c 4000000 /dev/zero | tr '\\\\0' x | fold -w 99; exec sleep 1000"
autostart=false
startsecs=0
stdout_logfile=/dev/null
[program:victim]
command=sleep 1000
startsecs=0
"""


def test_clients_that_never_read_cost_bounded_memory(supervise: Start) -> None:
    """150 `tail -f` clients that never read, on a program writing 4 MB: initsup's peak
    memory grows by a bounded amount (not a MiB per client), the stalled clients are
    dropped, and good clients are answered meanwhile."""
    s = supervise(ini=CHATTY)
    s.wait("PROCESS_STATE_RUNNING", program="victim")
    before = _rss_kib(s.pid)
    stalled = _idle_clients(s.socket, 150, b'{"cmd": "tail", "args": ["-f", "chatty"]}\n')
    try:
        # A crowd of followers makes room for a new client (the oldest goes).
        assert s.ctl("start", "chatty").returncode == 0
        s.wait_prefix("control socket: a client is not reading", timeout=30)
        grown = _rss_kib(s.pid, "VmHWM") - before
        assert grown < 40 * 1024, f"peak grew by {grown} KiB"
        assert wait_for(lambda: s.ctl("status", "victim").returncode == 0, timeout=20)
    finally:
        _close_all(stalled)
    assert s.stop() == 0


# -- D14: dropping one tail -f follower does not make the next skip a chunk --------------

PAD = "." * 100
NUMBERED = f"""\
[program:numbered]
command=sh -c 'i=0; while [ $i -lt 40000 ]; do i=$((i+1)); echo "n $i {PAD}"; done; exec sleep 1000'
autostart=false
startsecs=0
stdout_logfile=/dev/null
"""


def test_dropping_a_stalled_follower_keeps_the_next_one_whole(supervise: Start) -> None:
    """A stalled `tail -f` is dropped while a reading one, registered right after it, gets
    every line in order."""
    s = supervise(ini=NUMBERED)
    wait_for(lambda: os.path.exists(s.socket), timeout=15)
    stalled = _idle_clients(s.socket, 1, b'{"cmd": "tail", "args": ["-f", "numbered"]}\n')
    assert stalled
    reader = Proc([*INITSUP, "ctl", "tail", "-f", "numbered"], env=env(INITSUP_SOCKET=s.socket))
    try:
        # Both followers registered before any output: both connections are accepted,
        # and their requests were sent before they connected.
        wait_for(lambda: _followers_registered(s), timeout=15)
        assert s.ctl("start", "numbered").returncode == 0
        assert reader.readline(timeout=10).startswith("==> Press Ctrl-C")
        numbers: list[int] = []
        while not numbers or numbers[-1] < 40000:
            numbers.append(int(reader.readline(timeout=10).split()[1]))
            assert numbers[-1] == len(numbers), f"line {len(numbers)} missing"
        s.wait_prefix("control socket: a client is not reading", timeout=10)
    finally:
        reader.kill()
        _close_all(stalled)


def _followers_registered(s: Supervised) -> bool:
    """Two tail -f connections have been served (the stalled one and the reader)."""
    pid = s.pid
    sockets = [fd for fd in os.listdir(f"/proc/{pid}/fd") if "socket" in _readlink(pid, fd)]
    return len(sockets) >= 3  # the listener and two connections


def _readlink(pid: int, fd: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""


# -- D16: text that is not UTF-8 ---------------------------------------------------------


def test_lone_surrogate_command_is_answered(running: Supervised) -> None:
    """`{"cmd": "\\ud800"}` is an unknown command, answered with an escape, not a hang."""
    replies = _raw(running.socket, b'{"cmd": "\\ud800"}\n', timeout=5)
    assert replies == [{"err": "*** Unknown syntax: \\ud800"}, {"exit": 1}]


def test_program_name_that_is_not_utf8(supervise: Start) -> None:
    """A program named by a variable whose name is not UTF-8 shows with an escape in
    `status`, and the other programs' lines are all there."""
    s = supervise(
        variables={"INITSUP_PROGRAM_X\udcffY": "sleep 1000", "INITSUP_PROGRAM_OK": "sleep 1000"}
    )
    s.wait("PROCESS_STATE_RUNNING", program="ok")
    s.wait("PROCESS_STATE_RUNNING")
    result = s.ctl("status")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert "ok" in names and any("\\xff" in name for name in names), names


@pytest.mark.parametrize("count", ["-\u00b2", "-x", "-1.5", "-"])
def test_tail_with_a_bad_byte_count_is_a_usage_error(running: Supervised, count: str) -> None:
    """`tail -² NAME` is supervisorctl's `Error: bad argument -²` (exit 1), not an internal
    error."""
    result = running.ctl("tail", count, "victim")
    assert result.returncode == 1, result
    assert result.stdout == f"Error: bad argument {count}\n"
    running.read_available(0.2)
    assert not [r for r in running.records if "internal error" in str(r["event"])]
    assert not [r for r in running.records if "failed" in str(r["event"])]


# -- D17: a socket served by another uid --------------------------------------------------


HEALTHY = b'{"out": "healthy: squatter"}\n{"exit": 0}\n'


def _squatter(path: str, uid: int, answer: bytes = HEALTHY) -> int:
    """A child of uid listening on path and giving every request the same answer."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(ready_r)
            os.setgid(uid)
            os.setuid(uid)
            server = socket.socket(socket.AF_UNIX)
            server.bind(path)
            os.chmod(path, 0o777)
            server.listen(8)
            os.write(ready_w, b"x")
            while True:
                conn, _ = server.accept()
                try:
                    conn.recv(65536)
                    conn.sendall(answer)
                except OSError:
                    pass  # the client hung up first
                conn.close()
        finally:
            os._exit(0)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"x"
    os.close(ready_r)
    return pid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a second uid")
def test_ctl_refuses_a_server_of_another_uid() -> None:
    """`initsup ctl` will not talk to a socket served by a uid other than root or its own."""
    place = tempfile.mkdtemp()
    os.chmod(place, 0o1777)
    path = os.path.join(place, "initsup.sock")
    pid = _squatter(path, 65534)
    try:
        for command in ("health", "stop"):
            args = [*INITSUP, "ctl", command, *(["app"] if command == "stop" else [])]
            result = subprocess.run(
                args, env=env(INITSUP_SOCKET=path), capture_output=True, text=True, timeout=30
            )
            assert "squatter" not in result.stdout
            assert result.returncode == (4 if command == "health" else 7)
            assert "uid 65534" in result.stderr and "not talking to it" in result.stderr
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        shutil.rmtree(place)


@pytest.mark.parametrize("answer", [b"garbage\n", b"[1]\n", b'{"out": "half'])
def test_ctl_reports_a_malformed_answer(tmp_path: Path, answer: bytes) -> None:
    """`initsup ctl` given garbage (by a server of its own uid) says so and exits 1."""
    path = str(tmp_path / "initsup.sock")
    pid = _squatter(path, os.geteuid(), answer)
    try:
        result = subprocess.run(
            [*INITSUP, "ctl", "status"],
            env=env(INITSUP_SOCKET=path),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1
        assert "malformed answer" in result.stderr or "without an answer" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_server_refuses_a_world_writable_directory(supervise: Start) -> None:
    """A socket in a directory anyone may write to (without the sticky bit) could be
    replaced by anyone: initsup says so and runs on without a control socket."""
    place = tempfile.mkdtemp()
    os.chmod(place, 0o777)
    try:
        s = supervise(ini=CONFIG, variables={"INITSUP_SOCKET": os.path.join(place, "initsup.sock")})
        warning = s.wait_prefix("no control socket")
        assert "writable by anyone" in str(warning["event"])
        s.wait("PROCESS_STATE_RUNNING", program="victim")
        assert not os.path.exists(os.path.join(place, "initsup.sock"))
        assert s.stop() == 0
    finally:
        shutil.rmtree(place)


# -- _socket: the private module, and what happens without it ----------------------------


def _site(tmp_path: Path, code: str) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(code)
    return {"PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}


def test_without_any_socket_module_supervision_goes_on(supervise: Start, tmp_path: Path) -> None:
    """In a fresh interpreter where `_socket` cannot be imported (so neither can `socket`),
    initsup supervises without a control socket and says why."""
    variables = _site(tmp_path, "import sys\nsys.modules['_socket'] = None\n")
    s = supervise(ini=CONFIG, variables=variables)
    warning = s.wait_prefix("no control socket")
    assert "socket" in str(warning["event"])
    s.wait("PROCESS_STATE_RUNNING", program="victim")
    assert s.stop() == 0


def test_a_broken_private_socket_module_falls_back_to_socket(
    supervise: Start, tmp_path: Path
) -> None:
    """In a fresh interpreter whose `_socket` lacks what the server uses (here SO_PEERCRED
    and the C accept), the server runs on the public `socket` module."""
    code = (
        "import socket, sys, types\n"
        "real = sys.modules['_socket']\n"
        "stub = types.ModuleType('_socket')\n"
        "stub.__dict__.update({k: v for k, v in vars(real).items() if k != 'SO_PEERCRED'})\n"
        "stub.socket = type('socket', (), {})\n"
        "sys.modules['_socket'] = stub\n"
    )
    s = supervise(ini=CONFIG, variables=_site(tmp_path, code))
    s.wait("PROCESS_STATE_RUNNING", program="victim")
    assert s.ctl("status", "victim").returncode == 0
    assert not [r for r in s.records if "no control socket" in str(r["event"])]
    assert s.stop() == 0


# -- all of it at once --------------------------------------------------------------------


def test_hostile_clients_all_at_once(supervise: Start) -> None:
    """Garbage, a 10 MiB line without a newline, thousands of connect/close and followers
    that never read: `ctl status` keeps being answered and memory stays bounded."""
    s = supervise(ini=CHATTY)
    s.wait("PROCESS_STATE_RUNNING", program="victim")
    before = _rss_kib(s.pid)
    stalled = _idle_clients(s.socket, 10, b'{"cmd": "tail", "args": ["-f", "chatty"]}\n')
    stalled += _idle_clients(s.socket, 10, b'{"cmd": "events", "args": ["-f"]}\n')
    try:
        assert _raw(s.socket, b"\x00\xff garbage \xfe\n")[-1] == {"exit": 2}
        with socket.socket(socket.AF_UNIX) as big:
            big.settimeout(20)
            big.connect(s.socket)
            try:
                big.sendall(b"y" * (10 << 20))
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before it had all been sent: the server hung up
            replies = _read_replies(big)
            assert replies[-1] == {"exit": 2} and "larger than" in str(replies[0]["err"])
        for _ in range(2000):
            with socket.socket(socket.AF_UNIX) as quick:
                quick.connect(s.socket)
        assert s.ctl("start", "chatty").returncode == 0
        for _ in range(5):
            assert s.ctl("status", "victim").returncode == 0
        assert s.ctl("stop", "victim").returncode == 0
        grown = _rss_kib(s.pid, "VmHWM") - before
        assert grown < 40 * 1024, f"peak grew by {grown} KiB"
    finally:
        _close_all(stalled)
    assert s.stop() == 0
    assert not [r for r in s.records if "internal error" in str(r["event"])]
