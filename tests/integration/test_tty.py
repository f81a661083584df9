"""initsup under a terminal: the command gets the terminal's foreground (reference C2, tini T11)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers import INITSUP, env
from tests.ptys import exit_code, read_until, under_pty


def test_ctrl_c_reaches_the_command_and_gives_130() -> None:
    """^C on the terminal interrupts the command, and initsup exits 130 (C2, tini T11)."""
    loop = "echo ready; while true; do sleep 0.1; done"
    with under_pty([*INITSUP, "--", "sh", "-c", loop], env()) as (pid, master):
        read_until(master, b"ready")
        os.write(master, b"\x03")
        assert exit_code(pid) == 130


def test_interactive_shell_reads_the_terminal() -> None:
    """An interactive shell under initsup owns the terminal: typing `exit 3` exits 3 (tini T11)."""
    with under_pty([*INITSUP, "--", "env", "PS1=prompt> ", "sh", "-i"], env()) as (pid, master):
        read_until(master, b"prompt> ")
        os.write(master, b"exit 3\n")
        assert exit_code(pid) == 3


def test_command_is_the_foreground_process_group() -> None:
    """The terminal's foreground process group is the command's, not initsup's."""
    script = "echo fg=$(ps -o tpgid= -p $$ | tr -d ' ') pg=$(ps -o pgid= -p $$ | tr -d ' ')"
    with under_pty([*INITSUP, "--", "sh", "-c", script], env()) as (pid, master):
        output = read_until(master, b"\n").decode()
        assert exit_code(pid) == 0
    fields = dict(item.split("=") for item in output.split())
    assert fields["fg"] == fields["pg"]
    assert int(fields["pg"]) != pid


def test_exec_failure_under_a_terminal_exits_126(tmp_path: Path) -> None:
    """Under a terminal (child started via fork) an exec error still gives 126 and a message."""
    no_shebang = tmp_path / "no-shebang"
    no_shebang.write_text("echo hi\n")
    no_shebang.chmod(0o755)
    with under_pty([*INITSUP, "--", str(no_shebang)], env()) as (pid, master):
        output = read_until(master, b"\n")
        assert exit_code(pid) == 126
    assert b"Exec format error" in output
