"""Unit tests for initsup.health.notify: sd_notify's socket on a real loop, real senders."""

from __future__ import annotations

import array
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from initsup.health import notify
from initsup.health.notify import NotifySocket, parse, sender_of
from initsup.loop import EventLoop
from initsup.signals import SignalReceiver
from tests.helpers import BIN

NOTIFY_READY = str(BIN / "notify-ready")


class Harness:
    """A real loop with one NotifySocket, and what it heard and logged."""

    def __init__(self, path: str) -> None:
        self.receiver = SignalReceiver()
        self.errors: list[tuple[str, BaseException]] = []
        self.loop = EventLoop(self.receiver, on_error=lambda w, e: self.errors.append((w, e)))
        self.messages: list[tuple[int, dict[str, str]]] = []
        self.logged: list[tuple[str, str]] = []
        self.socket = NotifySocket(self.loop, path, self._heard, self._log)

    def _heard(self, pid: int, assignments: dict[str, str]) -> None:
        self.messages.append((pid, assignments))

    def _log(self, level: str, message: str, **fields: Any) -> None:
        self.logged.append((level, message))

    def pump(self, until: Callable[[], object], timeout: float = 10.0) -> None:
        """Run loop passes until `until()` holds (bounded)."""
        deadline = self.loop.clock() + timeout
        while not until():
            left = deadline - self.loop.clock()
            assert left > 0, f"not heard within {timeout} s: {self.messages}, {self.logged}"
            self.loop.run_once(min(left, 0.1))
        assert not self.errors

    def close(self) -> None:
        self.socket.close()
        self.loop.close()
        self.receiver.close()


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(str(tmp_path / "notify.sock"))
    try:
        yield harness
    finally:
        harness.close()


def send(path: str, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, path)


def send_fds(path: str, data: bytes, fds: list[int]) -> None:
    rights = (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.sendmsg([data], [rights], 0, path)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_datagram_is_heard_with_the_kernels_word_for_its_sender(h: Harness) -> None:
    send(h.socket.path, b"READY=1\nSTATUS=Serving on :8080\n")
    h.pump(lambda: h.messages)
    assert h.messages == [(os.getpid(), {"READY": "1", "STATUS": "Serving on :8080"})]


def test_the_socket_is_a_datagram_socket_anyone_may_send_to(h: Harness) -> None:
    mode = os.stat(h.socket.path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o666


def test_garbage_is_not_a_message(h: Harness) -> None:
    send(h.socket.path, b"\xff\xfe no assignments here\n=1\nready=1\n")
    send(h.socket.path, b"READY=1")
    h.pump(lambda: h.messages)
    assert h.messages == [(os.getpid(), {"READY": "1"})]  # only the second one


def test_close_removes_the_socket_and_its_reader(tmp_path: Path) -> None:
    harness = Harness(str(tmp_path / "n.sock"))
    harness.socket.close()
    harness.socket.close()  # twice is harmless
    assert not (tmp_path / "n.sock").exists()
    harness.loop.run_once(0)  # nothing registered for a closed fd
    assert not harness.errors
    harness.loop.close()
    harness.receiver.close()


def test_a_stale_socket_at_the_path_is_replaced(tmp_path: Path) -> None:
    path = str(tmp_path / "stale.sock")
    old = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old.bind(path)
    old.close()  # its file stays, as after a crash
    harness = Harness(path)
    try:
        send(path, b"READY=1\n")
        harness.pump(lambda: harness.messages)
    finally:
        harness.close()


def test_something_else_at_the_path_is_not_removed(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("mine")
    with pytest.raises(OSError):
        Harness(str(path))
    assert path.read_text() == "mine"


def test_passed_fds_are_closed_at_once(h: Harness) -> None:
    r, w = os.pipe()
    try:
        before = open_fds()
        send_fds(h.socket.path, b"FDSTORE=1\nFDNAME=x\n", [r, w, r])
        h.pump(lambda: h.messages)
        assert open_fds() == before  # the three copies the socket received are gone
    finally:
        os.close(r)
        os.close(w)
    assert h.messages == [(os.getpid(), {"FDSTORE": "1", "FDNAME": "x"})]
    assert any("closed 3 fds" in message for _, message in h.logged)


def test_the_most_fds_one_datagram_can_carry_are_all_closed(h: Harness) -> None:
    # 253 (SCM_MAX_FD) is the kernel's limit per message; more is refused by sendmsg
    r, w = os.pipe()
    try:
        before = open_fds()
        send_fds(h.socket.path, b"READY=1\n", [r] * notify.MAX_FDS)
        send(h.socket.path, b"STATUS=after\n")
        h.pump(lambda: len(h.messages) == 2)
        assert open_fds() == before
    finally:
        os.close(r)
        os.close(w)
    assert h.messages[-1] == (os.getpid(), {"STATUS": "after"})


def test_a_truncated_datagram_is_dropped_with_one_warning(h: Harness) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        for _ in range(3):
            sender.sendto(b"READY=1\n" + b"x" * notify.MAX_DATAGRAM, h.socket.path)
        sender.sendto(b"STATUS=small\n", h.socket.path)
    h.pump(lambda: h.messages)
    assert h.messages == [(os.getpid(), {"STATUS": "small"})]
    warnings = [m for level, m in h.logged if level == "warning"]
    assert len(warnings) == 1  # three alike within WARN_EVERY: one warning
    assert "over 65536 bytes" in warnings[0]


def test_a_datagram_of_exactly_the_cap_is_read(h: Harness) -> None:
    data = b"STATUS=" + b"s" * (notify.MAX_DATAGRAM - len(b"STATUS=\nREADY=1")) + b"\nREADY=1"
    assert len(data) == notify.MAX_DATAGRAM
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sender.sendto(data, h.socket.path)
    h.pump(lambda: h.messages)
    assert h.messages[0][1]["READY"] == "1"
    assert len(h.messages[0][1]["STATUS"]) == notify.MAX_VALUE


def test_a_pass_reads_one_batch(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "BATCH", 3)
    # the kernel queues net.unix.max_dgram_qlen datagrams (10 by default): send fewer
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        for number in range(8):
            sender.sendto(f"STATUS={number}".encode(), h.socket.path)
    h.loop.run_once(1.0)
    assert len(h.messages) == 3  # the loop gets to everything else in between
    h.pump(lambda: len(h.messages) == 8)
    assert [m[1]["STATUS"] for m in h.messages] == [str(n) for n in range(8)]


def test_a_flood_is_heard_in_order(h: Harness) -> None:
    count = 2000
    flood = threading.Thread(target=flood_of, args=(h.socket.path, count))
    flood.start()
    try:
        h.pump(lambda: len(h.messages) == count)
    finally:
        flood.join(30)
    assert [int(m[1]["STATUS"]) for m in h.messages] == list(range(count))


def flood_of(path: str, count: int) -> None:
    """Send count datagrams, waiting whenever the socket's queue is full."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.settimeout(10)
        for number in range(count):
            sender.sendto(b"READY=1\nSTATUS=%d\n" % number, path)


def test_a_child_and_a_grandchild_are_credited_to_the_program(h: Harness) -> None:
    env = dict(os.environ, NOTIFY_SOCKET=h.socket.path)
    child = subprocess.Popen([sys.executable, NOTIFY_READY, "0", "30"], env=env)
    # sh runs the script as its child (a command follows it, so sh cannot exec it)
    wrapper = subprocess.Popen(
        ["/bin/sh", "-c", f'"{sys.executable}" "{NOTIFY_READY}" 0 30; true'], env=env
    )
    try:
        h.pump(lambda: len(h.messages) == 2)
        senders = {pid for pid, _ in h.messages}
        assert child.pid in senders
        (grandchild,) = senders - {child.pid}
        programs = {child.pid, wrapper.pid}
        assert sender_of(child.pid, programs) == child.pid
        assert sender_of(grandchild, programs) == wrapper.pid
        assert sender_of(grandchild, {child.pid}) is None  # a sibling's: nobody's
        assert sender_of(grandchild, set()) is None
        for _, assignments in h.messages:
            assert assignments == {"READY": "1", "STATUS": "ready after 0 s"}
    finally:
        for proc in (child, wrapper):
            proc.kill()
            proc.wait()
    # its own ancestors: this process is its parent's, and a process gone is nobody's
    assert sender_of(os.getpid(), {os.getppid()}) == os.getppid()
    assert sender_of(child.pid, {os.getpid()}) is None


def test_an_abstract_socket(tmp_path: Path) -> None:
    name = f"@initsup-test-notify-{os.getpid()}-{tmp_path.name}"
    harness = Harness(name)
    env = dict(os.environ, NOTIFY_SOCKET=name)
    child = subprocess.Popen([sys.executable, NOTIFY_READY, "0", "0"], env=env)
    try:
        harness.pump(lambda: harness.messages)
        assert harness.messages[0][0] == child.pid
    finally:
        child.kill()
        child.wait()
        harness.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="sending as another user needs root")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing")
def test_a_program_of_another_user_can_send() -> None:
    # tmp_path's parents are private to root: a directory others may enter
    directory = tempfile.mkdtemp(prefix="initsup-notify-")
    os.chmod(directory, 0o755)
    harness = Harness(os.path.join(directory, "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=harness.socket.path)
    setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    child = subprocess.Popen([*setpriv, sys.executable, NOTIFY_READY, "0", "0"], env=env)
    try:
        harness.pump(lambda: harness.messages)
        assert harness.messages[0] == (child.pid, {"READY": "1", "STATUS": "ready after 0 s"})
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()
        harness.close()
        shutil.rmtree(directory)


def test_notify_ready_without_a_socket_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    done = subprocess.run([sys.executable, NOTIFY_READY], env=env, capture_output=True, timeout=10)
    assert done.returncode == 3
    assert b"NOTIFY_SOCKET" in done.stderr


# -- parse -------------------------------------------------------------------------------


def test_parse_reads_assignments() -> None:
    assert parse(b"READY=1\nSTATUS=Up: 3 workers\nMAINPID=42\n") == {
        "READY": "1",
        "STATUS": "Up: 3 workers",
        "MAINPID": "42",
    }


def test_parse_skips_malformed_lines() -> None:
    data = b"READY\n=1\nready=1\n1X=2\nA-B=3\nNUL=a\0b\n\nWATCHDOG=1\nEMPTY=\n"
    assert parse(data) == {"WATCHDOG": "1", "EMPTY": ""}


def test_parse_keeps_the_last_of_a_key_and_equals_in_values() -> None:
    assert parse(b"STATUS=a\nSTATUS=b=c\n") == {"STATUS": "b=c"}


def test_parse_replaces_invalid_utf8() -> None:
    assert parse(b"STATUS=caf\xc3\xa9 \xff\n") == {"STATUS": "caf\u00e9 \ufffd"}


def test_parse_caps_values_and_count() -> None:
    assert len(parse(b"STATUS=" + b"x" * 100_000)["STATUS"]) == notify.MAX_VALUE
    many = b"\n".join(b"K%d=v" % n for n in range(500))
    assert len(parse(many)) == notify.MAX_ASSIGNMENTS
    assert parse(many + b"\nK0=last")["K0"] == "last"  # a key kept may still change
