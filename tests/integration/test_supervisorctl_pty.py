"""The real supervisorctl's interactive shell, under a pseudo-terminal, against real
supervisord and against initsup on the same file: the same prompts, lines and answers
(timestamps, pids, uptimes and versions aside), and the same exit."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import env, wait_for
from tests.integration.test_supervisorctl_compat import (
    SUPERVISORCTL,
    Server,
    client_argv,
    normalise,
)
from tests.ptys import exit_code, read_until, under_pty

pytestmark = pytest.mark.skipif(
    not SUPERVISORCTL.exists(), reason="supervisor is not installed next to this Python"
)

PROMPT = b"supervisor> "
# What is typed, and what ends the answer to it.
TYPED = [
    (b"status\n", PROMPT),
    (b"status web\n", PROMPT),
    (b"help\n", PROMPT),
    (b"help stop\n", PROMPT),
    (b"version\n", PROMPT),
    (b"pid web\n", PROMPT),
    (b"tail talker stderr\n", PROMPT),
    (b"avail\n", PROMPT),
    (b"stop web\n", PROMPT),
    (b"start web\n", PROMPT),
    (b"signal FOO web\n", PROMPT),
    (b"reload\n", b"y/N? "),
    (b"n\n", PROMPT),
    (b"bogus\n", PROMPT),
]


def running(argv: list[str]) -> int:
    """How many programs `supervisorctl status` shows RUNNING (0 before the server is up)."""
    done = subprocess.run([*argv, "status"], capture_output=True, text=True, env=env(), timeout=30)
    return done.stdout.count("RUNNING")


def session(kind: str, directory: Path) -> tuple[list[str], int]:
    """Each answer the shell printed, normalised, and its exit code, against one server."""
    server = Server(kind, directory)
    try:
        argv = client_argv("supervisorctl", server)
        wait_for(lambda: running(argv) == 4, timeout=30, interval=0.2)
        with under_pty(argv, env()) as (pid, master):
            answers = [read_until(master, PROMPT, timeout=30)]  # status, then the prompt
            for typed, marker in TYPED:
                os.write(master, typed)
                answers.append(read_until(master, marker))
            os.write(master, b"quit\n")
            code = exit_code(pid)
        return [normalise(a.decode().replace("\r\n", "\n"), directory) for a in answers], code
    finally:
        server.close()


def test_the_interactive_shell_says_the_same_against_initsup(tmp_path: Path) -> None:
    expected = session("supervisord", tmp_path / "supervisord")
    got = session("initsup", tmp_path / "initsup")
    assert got[1] == expected[1] == 0
    for typed, want, have in zip([b"(start)", *(t for t, _ in TYPED)], expected[0], got[0]):
        assert have == want, typed


FOLLOWED = [
    ("tail -f talker", b"hello"),
    ("tail -f talker stderr", b"oops"),
    ("maintail -f", b"RUNNING"),
]


def followed(kind: str, directory: Path) -> list[tuple[str, int]]:
    """What the real supervisorctl's `tail -f` and `maintail -f` print up to a line they
    must show, and their exit status after ^C, against one server."""
    server = Server(kind, directory)
    try:
        argv = client_argv("supervisorctl", server)
        wait_for(lambda: running(argv) == 4, timeout=30, interval=0.2)
        seen = []
        for words, marker in FOLLOWED:
            with under_pty([*argv, *words.split()], env()) as (pid, master):
                shown = read_until(master, marker, timeout=30)
                os.kill(pid, signal.SIGINT)
                code = exit_code(pid)
            first = shown.decode().replace("\r\n", "\n").splitlines()[0]
            seen.append((first, code))
        return seen
    finally:
        server.close()


def test_tail_f_and_maintail_f_follow_initsup_as_supervisord(tmp_path: Path) -> None:
    """Each starts with supervisorctl's banner, shows the output (or, for maintail, the main
    log: initsup's records), and ends on ^C with the same status."""
    assert followed("initsup", tmp_path / "initsup") == followed(
        "supervisord", tmp_path / "supervisord"
    )
