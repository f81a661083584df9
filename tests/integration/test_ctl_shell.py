"""`initsup ctl`'s shell under a real pseudo-terminal, commands read from a pipe, and
`fg`, against a running initsup: supervisorctl's prompt, help, history, `reload`'s
question, and the ways out."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import INITSUP, env
from tests.ptys import exit_code, read_until, under_pty
from tests.supervised import Supervised

Start = Callable[..., Supervised]

CONFIG = """\
[program:web]
command=sleep 1000
startsecs=0
[program:ticker]
command=sh -c 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done'
startsecs=0
"""


@pytest.fixture
def running(supervise: Start) -> Iterator[Supervised]:
    s = supervise(ini=CONFIG)
    for name in ("web", "ticker"):
        s.wait("PROCESS_STATE_RUNNING", program=name)
    yield s


def test_the_shell_under_a_terminal(running: Supervised, tmp_path: Path) -> None:
    """status first, then the prompt; help; reload asks and `n` keeps initsup as it is;
    the history is saved; quit ends it with 0."""
    history = tmp_path / "history"
    web = running.ctl("pid", "web").stdout
    args = [*INITSUP, "ctl", "-r", str(history)]
    with under_pty(args, env(INITSUP_SOCKET=running.socket)) as (pid, master):
        seen = read_until(master, b"supervisor> ")
        assert b"web" in seen and b"RUNNING" in seen and b"ticker" in seen
        os.write(master, b"help start\n")
        seen = read_until(master, b"supervisor> ")
        assert b"start <gname>:*\t\tStart all processes in a group" in seen
        os.write(master, b"reload\n")
        read_until(master, b"Really restart the remote supervisord process y/N? ")
        os.write(master, b"n\n")
        read_until(master, b"supervisor> ")
        os.write(master, b"version\n")
        read_until(master, b"supervisor> ")
        os.write(master, b"quit\n")
        assert exit_code(pid) == 0
    assert "version" in history.read_text().split()
    assert running.ctl("pid", "web").stdout == web  # reload was not sent


def test_eof_ends_the_shell(running: Supervised) -> None:
    with under_pty([*INITSUP, "ctl"], env(INITSUP_SOCKET=running.socket)) as (pid, master):
        read_until(master, b"supervisor> ")
        os.write(master, b"\x04")  # ^D
        assert exit_code(pid) == 0


def test_commands_from_a_pipe(running: Supervised) -> None:
    """No command and stdin not a terminal: supervisorctl reads stdin as its shell."""
    done = subprocess.run(
        [*INITSUP, "ctl"],
        input="status web\nbogus\n\nhelp quit\n",
        capture_output=True,
        text=True,
        timeout=30,
        env=env(INITSUP_SOCKET=running.socket),
    )
    assert done.returncode == 0
    after_status = done.stdout.split("supervisor> ", 1)[1]
    assert after_status.split("supervisor> ")[:3] == [
        after_status.split("\n")[0] + "\n",  # web's status line
        "*** Unknown syntax: bogus\n",
        "",  # the blank line does nothing
    ]
    assert after_status.startswith("web ")
    assert done.stdout.endswith("supervisor> quit\tExit the supervisor shell.\nsupervisor> \n")


def test_fg_prints_a_process_s_output_until_stdin_ends(running: Supervised) -> None:
    fg = subprocess.Popen(
        [*INITSUP, "ctl", "fg", "ticker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env(INITSUP_SOCKET=running.socket),
    )
    try:
        assert fg.stdout is not None and fg.stdin is not None
        assert fg.stdout.readline() == "==> Press Ctrl-C to exit <==\n"
        ticks = [fg.stdout.readline() for _ in range(3)]
        assert all(t.startswith("tick ") for t in ticks), ticks
        fg.stdin.write("hello\n")
        fg.stdin.flush()
        rest = fg.communicate(timeout=10)[0]
        assert rest.endswith(
            "ERROR: ticker has no stdin: initsup starts programs with /dev/null\n"
            "Exiting foreground\n"
        )
        assert fg.returncode == 1
    finally:
        fg.kill()
        fg.wait()
    closed = subprocess.run(
        [*INITSUP, "ctl", "fg", "web"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        env=env(INITSUP_SOCKET=running.socket),
    )
    assert (closed.returncode, closed.stdout) == (
        0,
        "==> Press Ctrl-C to exit <==\nExiting foreground\n",
    )
