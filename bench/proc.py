"""Measuring processes from outside: clocks, /proc readers, and clean-up.

Everything here reads what the kernel reports (CPU ticks, RSS, context switches) about a
process the bench started, so initsup and its peers are measured the same way.  After a
run, check_gone makes sure that no process of it is left: the processes a snapshot (or a
marker in their command lines) found while it ran.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
TICK = os.sysconf("SC_CLK_TCK")


def spawn_wait(argv: Sequence[str], env: dict[str, str]) -> tuple[float, int]:
    """posix_spawn argv, wait for it; (seconds from spawn to reaped, raw wait status).

    posix_spawn keeps the harness's own cost (no fork of a large Python) out of the figure.
    """
    with open(os.devnull, "wb") as null:
        began = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            env,
            file_actions=[(os.POSIX_SPAWN_DUP2, null.fileno(), 1)],
        )
        _, status = os.waitpid(pid, 0)
        return time.perf_counter() - began, status


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: fields 3 (state) onwards."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()


def cpu_seconds(pid: int) -> float:
    """CPU time the process itself used (user + system), not its children's."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICK


def status_value(pid: int, key: str) -> int:
    """A number from /proc/PID/status (first field), e.g. VmRSS in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_mib(pid: int) -> float:
    return status_value(pid, "VmRSS") / 1024


def context_switches(pid: int) -> int:
    """Voluntary plus involuntary: every time the process stopped running."""
    return status_value(pid, "voluntary_ctxt_switches") + status_value(
        pid, "nonvoluntary_ctxt_switches"
    )


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.001) -> T:
    """Poll until predicate returns something truthy; raise after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        time.sleep(interval)


def wait_exit_unreaped(pid: int, timeout: float) -> None:
    """Wait until the child `pid` has exited but leave it a zombie, so that /proc still has
    its final CPU figures."""
    wait_for(lambda: _exited(pid), timeout, f"pid {pid} to exit")


def _exited(pid: int) -> bool:
    result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
    return result is not None and result.si_pid == pid


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything under it (stopped first, so nothing escapes)."""
    tree = [pid, *descendants(pid)]
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGSTOP)
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


@contextlib.contextmanager
def started(argv: Sequence[str], **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    """Popen(argv) for the block; afterwards it and all its descendants are killed and
    reaped."""
    proc = subprocess.Popen(list(argv), **kwargs)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)
        proc.wait(timeout=30)


def snapshot(pid: int) -> dict[int, str]:
    """pid and its descendants, each with its start time (so a reused pid is not them)."""
    found = {}
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):  # already gone
            found[p] = stat_fields(p)[19]
    return found


def marked(text: str) -> dict[int, str]:
    """Live processes whose command line holds text (zombies have none), as snapshot()
    gives them: a run's processes found by a marker, wherever they were re-parented."""
    needle = text.encode()
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read().replace(b"\0", b" "):
                    found[int(entry)] = stat_fields(int(entry))[19]
    return found


def check_gone(tree: dict[int, str], what: str, limit: float = 10.0) -> None:
    """After a run: wait until no process of `tree` (a snapshot) is left; one still there
    after `limit` seconds is SIGKILLed (with everything under it), and named in the error.

    A zombie counts as gone; one that is this process's child (adopted by a subreaper
    harness) is reaped here.
    """
    deadline = time.monotonic() + limit
    while left := [pid for pid, start in tree.items() if _alive(pid, start)]:
        if time.monotonic() > deadline:
            names = ", ".join(f"{pid} ({_comm(pid)})" for pid in left)
            for pid in left:
                kill_tree(pid)
            raise RuntimeError(f"{what}: {len(left)} process(es) left behind: {names}")
        time.sleep(0.01)


def _alive(pid: int, start: str) -> bool:
    """Whether (pid, start) still runs; a zombie child of this process is reaped."""
    try:
        fields = stat_fields(pid)
    except OSError:
        return False
    if fields[19] != start:
        return False  # the pid was reused: ours is gone
    if fields[0] != "Z":
        return True
    if int(fields[1]) == os.getpid():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return False


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def tail(path: Path) -> str:
    """The end of a file a system wrote its stderr (or output) to, for error messages."""
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return "(no stderr)"
    return text[-600:] or "(no stderr)"
