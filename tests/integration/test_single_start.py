"""Single-command mode starts the command before it builds its loop: nothing is lost then.

A launcher runs initsup's own entry point with `Spawner.spawn` wrapped, so that something
happens in the window between the spawn and the loop's first pass: a signal comes, or the
command has already ended (and written its output).
"""

from __future__ import annotations

import json
import signal
import textwrap

from tests.helpers import PYTHON, started

LAUNCHER = textwrap.dedent(
    """
    import os, signal, sys

    from initsup import cli, spawn

    what = sys.argv[1]
    real = spawn.Spawner.spawn


    def spawn_then(self, *args, **kwargs):
        pid = real(self, *args, **kwargs)
        if what == "signal":  # to initsup, before it has a loop
            os.kill(os.getpid(), signal.SIGTERM)
        else:  # the command has exited (not yet reaped) before initsup has a loop
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        return pid


    spawn.Spawner.spawn = spawn_then
    sys.argv = ["initsup", *sys.argv[2:]]
    cli.entry()
    """
)


def launch(what: str, *args: str) -> list[str]:
    return [PYTHON, "-c", LAUNCHER, what, *args]


def test_a_signal_before_the_loop_is_forwarded() -> None:
    """SIGTERM that comes right after the spawn still reaches the command."""
    with started(launch("signal", "--", "sleep", "60")) as proc:
        assert proc.wait(20) == 128 + signal.SIGTERM


def test_a_command_that_ended_before_the_loop_is_reaped() -> None:
    """A command already gone when the loop starts is reaped on its first pass."""
    with started(launch("exited", "--", "sh", "-c", "exit 7")) as proc:
        assert proc.wait(20) == 7


def test_output_written_before_the_loop_is_relayed() -> None:
    """What a command wrote before initsup set up its relay comes out whole."""
    command = ["sh", "-c", "echo first; echo second >&2; exit 3"]
    with started(launch("exited", "--log-format", "json", "--", *command)) as proc:
        assert proc.wait(20) == 3
        assert proc.popen.stdout is not None
        records = [json.loads(line) for line in proc.popen.stdout.read().splitlines()]
    assert sorted((r["stream"], r["event"]) for r in records) == [
        ("stderr", "second"),
        ("stdout", "first"),
    ]
