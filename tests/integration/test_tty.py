"""initsup under a terminal: the command gets the terminal's foreground (reference C2, tini T11)."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import INITSUP, env, kill_tree


@contextlib.contextmanager
def _under_pty(args: list[str]) -> Iterator[tuple[int, int]]:
    """Run args as the session leader of a new pseudo-terminal; yield (pid, master fd)."""
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        try:
            os.execve(args[0], args, env())
        finally:
            os._exit(127)
    try:
        yield pid, master
    finally:
        kill_tree(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(master)


def _read_until(master: int, marker: bytes, timeout: float = 10.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} within {timeout} s; saw {seen!r}"
        if select.select([master], [], [], remaining)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is gone
                break
    return seen


def _exit_code(pid: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) % 256
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} did not exit within {timeout} s")


def test_ctrl_c_reaches_the_command_and_gives_130() -> None:
    """^C on the terminal interrupts the command, and initsup exits 130 (C2, tini T11)."""
    loop = "echo ready; while true; do sleep 0.1; done"
    with _under_pty([*INITSUP, "--", "sh", "-c", loop]) as (pid, master):
        _read_until(master, b"ready")
        os.write(master, b"\x03")
        assert _exit_code(pid) == 130


def test_interactive_shell_reads_the_terminal() -> None:
    """An interactive shell under initsup owns the terminal: typing `exit 3` exits 3 (tini T11)."""
    with _under_pty([*INITSUP, "--", "env", "PS1=prompt> ", "sh", "-i"]) as (pid, master):
        _read_until(master, b"prompt> ")
        os.write(master, b"exit 3\n")
        assert _exit_code(pid) == 3


def test_command_is_the_foreground_process_group() -> None:
    """The terminal's foreground process group is the command's, not initsup's."""
    script = "echo fg=$(ps -o tpgid= -p $$ | tr -d ' ') pg=$(ps -o pgid= -p $$ | tr -d ' ')"
    with _under_pty([*INITSUP, "--", "sh", "-c", script]) as (pid, master):
        output = _read_until(master, b"\n").decode()
        assert _exit_code(pid) == 0
    fields = dict(item.split("=") for item in output.split())
    assert fields["fg"] == fields["pg"]
    assert int(fields["pg"]) != pid


def test_exec_failure_under_a_terminal_exits_126(tmp_path: Path) -> None:
    """Under a terminal (child started via fork) an exec error still gives 126 and a message."""
    no_shebang = tmp_path / "no-shebang"
    no_shebang.write_text("echo hi\n")
    no_shebang.chmod(0o755)
    with _under_pty([*INITSUP, "--", str(no_shebang)]) as (pid, master):
        output = _read_until(master, b"\n")
        assert _exit_code(pid) == 126
    assert b"Exec format error" in output
