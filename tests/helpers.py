"""Shared test helpers: running initsup as a real process, bounded waits, /proc readers."""

from __future__ import annotations

import contextlib
import itertools
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "tests" / "bin"
PYTHON = sys.executable
INITSUP = [PYTHON, "-m", "initsup"]


_SOCKETS = itertools.count()


def env(**extra: str) -> dict[str, str]:
    """The environment for an initsup under test: this checkout first on the path.

    Each gets a control socket of its own, so tests never touch /run/initsup.sock.
    """
    result = dict(os.environ)
    result["PYTHONPATH"] = str(ROOT) + os.pathsep + result.get("PYTHONPATH", "")
    for key in [k for k in result if k.startswith(("INITSUP_", "TINI_"))]:
        del result[key]
    name = f"initsup-test-{os.getpid()}-{next(_SOCKETS)}.sock"
    result["INITSUP_SOCKET"] = os.path.join(tempfile.gettempdir(), name)
    result.update(extra)
    return result


def imported_modules(importtime_output: str) -> set[str]:
    """The modules named in `-X importtime` (PYTHONPROFILEIMPORTTIME) output on stderr."""
    lines = [line for line in importtime_output.splitlines() if line.startswith("import time:")]
    return {line.rpartition("|")[2].strip() for line in lines}


def helper(name: str, *args: str) -> list[str]:
    """Command line running tests/bin/<name>.py with this interpreter."""
    return [PYTHON, str(BIN / f"{name}.py"), *args]


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.005) -> T:
    """Poll predicate until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


def run(
    args: Sequence[str], timeout: float = 30.0, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    """Run initsup with args to completion (bounded), capturing stdout and stderr."""
    kwargs.setdefault("env", env())
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [*INITSUP, *args], capture_output=True, timeout=timeout, **kwargs
    )


class Proc:
    """A running process whose stdout can be read line by line with a deadline."""

    def __init__(self, args: Sequence[str], **kwargs: object) -> None:
        kwargs.setdefault("env", env())
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(args, **kwargs)  # type: ignore[call-overload]
        self.pid: int = self.popen.pid
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        if self.popen.stdout is not None:
            os.set_blocking(self.popen.stdout.fileno(), False)
            self._selector.register(self.popen.stdout.fileno(), selectors.EVENT_READ)

    def readline(self, timeout: float = 10.0) -> str:
        """The next line of stdout (without its newline); fail if none comes in time."""
        assert self.popen.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise AssertionError(f"no line within {timeout} s; have {self._buffer!r}")
            try:
                chunk = os.read(self.popen.stdout.fileno(), 65536)
            except BlockingIOError:
                continue
            if not chunk:
                raise EOFError(f"stdout closed; have {self._buffer!r}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def wait(self, timeout: float = 10.0) -> int:
        """Wait (bounded) for the process to exit and return its code."""
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the process (if still there) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        self._selector.close()
        for stream in (self.popen.stdout, self.popen.stderr, self.popen.stdin):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def started(args: Sequence[str], **kwargs: object) -> Iterator[Proc]:
    """Start a process for the duration of a with-block; kill its whole tree after it."""
    proc = Proc(args, **kwargs)
    try:
        yield proc
    finally:
        if proc.popen.poll() is None:  # a reaped pid may belong to someone else by now
            kill_tree(proc.pid)
        proc.kill()


def descendants(pid: int) -> list[int]:
    """Every live descendant of pid, from /proc (children lists, recursively)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{current}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in text.split():
                found.append(int(child))
                stack.append(int(child))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL pid's descendants (the caller reaps pid itself).

    Everything is frozen with SIGSTOP first, the root before its children: a supervisor
    that saw its children die would otherwise restart them in the moment before it is
    killed itself, and the new ones would outlive the test.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    victims = descendants(pid)
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGSTOP)
    for victim in reversed(victims):
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def proc_status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status as a dict of strings."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def signal_set(hex_mask: str) -> set[int]:
    """Signal numbers in a /proc status mask such as SigIgn or SigBlk."""
    mask = int(hex_mask, 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


def state(pid: int) -> str | None:
    """The one-letter state of pid (R, S, Z...), or None when it no longer exists."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()[0]


def alive(pid: int) -> bool:
    """Whether pid exists and is not a zombie."""
    return state(pid) not in (None, "Z")


def imported_in_a_run(tmp_path: Path, ini: str) -> set[str]:
    """The modules a real initsup on ini has imported once a program runs (then it is
    stopped), from its -X importtime output."""
    config = tmp_path / "imports.ini"
    config.write_text(ini)
    variables = {"INITSUP_SOCKET": str(tmp_path / "ctl.sock"), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen(
        [*INITSUP, "-c", str(config)],
        env=env(**variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "PROCESS_STATE_RUNNING" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)
            proc.kill()
            proc.wait()
    return imported_modules(stderr)


def imported_by(code: str) -> set[str]:
    """The modules a bare interpreter (no site, so no editable-install hook) ends up with."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
    epilogue = "; sys.stdout.write(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-S", "-c", prelude + code + epilogue],
        env=env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def drain(sock: socket.socket) -> bytes:
    """Everything a non-blocking socket has to read now, up to its end."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unavailable(what: str, reason: str) -> NoReturn:
    """A test that needs what is missing (reason): skipped, but under CI=true a failure,
    since CI installs everything the suite needs."""
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} must run under CI, but: {reason}")
    pytest.skip(reason)
