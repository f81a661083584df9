"""Many `sleep` programs under one system, for the idle and scale scenarios.

Each run's programs are `sleep 1000.NNN`, NNN a number unique to the run, so that its
processes can be found by their command line, wherever they were re-parented.  Supervised
starts a system with its stdout and stderr on a pipe drained on a thread, waits until all
its programs run (by the system's own account: initsup's `PROCESS_STATE_RUNNING` records
on stdout, supervisord's `entered RUNNING state` lines in its logfile; and by the `sleep`s
among its descendants), and on leaving kills it and checks that nothing of the run is left.
"""

from __future__ import annotations

import contextlib
import random
import resource
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bench.configs import Options, config_command, write_config
from bench.core import Tools
from bench.proc import check_gone, descendants, marked, snapshot, started, wait_for

# initsup reports a RUNNING record on stdout; supervisord a line in its logfile.
INITSUP_RUNNING = b'"event":"PROCESS_STATE_RUNNING"'
SUPERVISORD_RUNNING = b"entered RUNNING state"


def unique_sleep() -> str:
    """`sleep 1000.NNNNNN` with NNNNNN new each run: its command line marks the run's
    processes, so any left behind can be found."""
    return f"sleep 1000.{random.randrange(10**8, 10**9)}"


def shell_script(sleep: str, count: int) -> str:
    return f"{sleep} & " * count + "wait"


def supervisor_command(
    system: str, tools: Tools, sleep: str, count: int, more: dict[str, Options] | None = None
) -> list[str]:
    """initsup's or supervisord's command line, with a fresh config of `count` programs
    (and the `more` sections, e.g. an HTTP server)."""
    scratch = tools.scratch
    childlogs = scratch / "childlogs"
    config = write_config(
        system,
        scratch,
        {f"p{n}": {"command": sleep, "startsecs": "0"} for n in range(count)},
        supervisord={"childlogdir": str(childlogs), "loglevel": "info"},
        more=more,
    )
    # A previous run's files would be counted (log) or refused (socket): start clean.
    for leftover in ("supervisord.log", "supervisord.pid", "initsup.sock", "http.sock"):
        with contextlib.suppress(FileNotFoundError):
            (scratch / leftover).unlink()
    if childlogs.exists():
        for path in childlogs.iterdir():
            path.unlink()
    childlogs.mkdir(exist_ok=True)
    return config_command(system, tools, config)


class Drain:
    """Reads a child's stdout to its end on a thread, so the child never blocks on a full
    pipe; counts the lines holding `pattern` and notes when there are `target` of them."""

    def __init__(self, stream: IO[bytes], pattern: bytes | None, target: int) -> None:
        self.count = 0
        self.reached_at: float | None = None  # perf_counter() when count reached target
        self.last: deque[bytes] = deque(maxlen=5)  # for error messages
        self.done = threading.Event()  # target reached or end of stream
        self._stream, self._pattern, self._target = stream, pattern, target
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._stream:
            self.last.append(line)
            if self._pattern is not None and self._pattern in line:
                self.count += 1
                if self.count == self._target:
                    self.reached_at = time.perf_counter()
                    self.done.set()
        self.done.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"not within {timeout} s: the end of a child's stdout")
        self._stream.close()

    def tail(self) -> str:
        return b"".join(self.last).decode(errors="replace").strip()


class LogCount:
    """Counts the lines of a growing file that hold `pattern`, reading only what is new."""

    def __init__(self, path: Path, pattern: bytes) -> None:
        self.path, self.pattern = path, pattern
        self.count = 0
        self._offset = 0
        self._partial = b""

    def poll(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # a line still being written counts once it ends
        self.count += sum(self.pattern in line for line in lines)
        return self.count


class Supervised:
    """One system under test, started with its output drained; on leaving, it and every
    process under it are killed and reaped (bench.proc.started), and no process of the
    run may be left: none of its tree then, nor any with the run's `sleep` (`marker`) in
    its command line."""

    def __init__(
        self, system: str, command: list[str], tools: Tools, programs: int, marker: str
    ) -> None:
        self.system, self.command, self.tools, self.programs = system, command, tools, programs
        self.marker = marker
        self.began = 0.0  # perf_counter() just before the spawn

    def __enter__(self) -> Supervised:
        self._stack = contextlib.ExitStack()
        with enough_fds(4 * self.programs + 64):
            self.began = time.perf_counter()
            self.proc = self._stack.enter_context(
                started(
                    self.command,
                    env=self.tools.env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
        assert self.proc.stdout is not None
        pattern = INITSUP_RUNNING if self.system == "initsup" else None
        self.drain = Drain(self.proc.stdout, pattern, self.programs)
        return self

    def __exit__(self, *exc: object) -> None:
        run = {**marked(self.marker), **snapshot(self.proc.pid)}
        self._stack.close()  # kills and reaps the tree
        try:
            # First: a process of the run left elsewhere would keep the pipe open.
            check_gone(run, f"{self.system}, {self.marker!r}")
        finally:
            self.drain.join(10)  # the pipe has ended

    def wait_running(self, timeout: float) -> float:
        """perf_counter() when all programs were RUNNING by the system's own account
        (bounded by timeout); then also waits until that many `sleep`s are its
        descendants."""
        deadline = time.monotonic() + timeout
        if self.system == "initsup":
            self.drain.done.wait(timeout)
            if self.drain.reached_at is None:
                self._fail(self.drain.count, timeout)
            reached = self.drain.reached_at
        elif self.system == "supervisord":
            log = LogCount(self.tools.scratch / "supervisord.log", SUPERVISORD_RUNNING)
            while log.poll() < self.programs:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self._fail(log.count, timeout)
                time.sleep(0.002)
            reached = time.perf_counter()
        else:
            reached = 0.0
        left = max(0.1, round(deadline - time.monotonic(), 1))
        wait_for(
            lambda: sleeping(self.proc.pid) >= self.programs if self.programs else True,
            left,
            f"{self.system}: {self.programs} sleeps among its descendants",
            interval=0.002,
        )
        return reached or time.perf_counter()

    def _fail(self, count: int, timeout: float) -> None:
        status = self.proc.poll()
        state = (
            f"exited with {status}" if status is not None else f"still running after {timeout} s"
        )
        raise TimeoutError(
            f"{self.system}: {count} of {self.programs} programs RUNNING, {state}; "
            f"last output: {self.drain.tail()!r}"
        )


def sleeping(pid: int) -> int:
    """How many `sleep` processes are under pid (children only count once exec'd)."""
    count = 0
    for child in descendants(pid):
        with contextlib.suppress(OSError), open(f"/proc/{child}/comm") as f:
            count += f.read().strip() == "sleep"
    return count


@contextlib.contextmanager
def enough_fds(needed: int) -> Iterator[None]:
    """Raise this process's soft RLIMIT_NOFILE while a child is spawned, so the child
    inherits it (initsup ignores supervisord's minfds); restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    else:
        yield
