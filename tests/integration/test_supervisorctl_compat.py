"""supervisorctl's commands side by side: the same script of commands, on the same
configuration file, run by a client against a server, and compared line for line and
exit code for exit code with the reference (the real supervisorctl against the real
supervisord), timestamps, pids, uptimes, versions and the run's directory aside.

A pair is (client, server).  The reference is ("supervisorctl", "supervisord"); PAIRS
lists the pairs compared with it: `initsup ctl` against initsup, and the real
supervisorctl against initsup (its XML-RPC on the same socket).  A difference kept on
purpose is in KEPT, with its reason.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import INITSUP, PYTHON, env, kill_tree, wait_for

BIN = Path(PYTHON).parent
SUPERVISORD = BIN / "supervisord"
SUPERVISORCTL = BIN / "supervisorctl"

pytestmark = pytest.mark.skipif(
    not (SUPERVISORD.exists() and SUPERVISORCTL.exists()),
    reason="supervisor is not installed next to this Python",
)

CONFIG = """\
[unix_http_server]
file=%(here)s/ctl.sock

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/ctl.sock

[program:web]
command=sleep 1000
startsecs=1

[program:talker]
command=sh -c 'echo hello; echo oops >&2; exec sleep 1000'
startsecs=1

[program:idle]
command=sleep 1000
autostart=false
startsecs=1

[program:missing]
command=/nonexistent/command
autostart=false
startretries=0

[program:pool]
command=sleep 1000
process_name=%(program_name)s_%(process_num)d
numprocs=2
startsecs=1
"""

# The script: each step is the command's words, and what it reads on stdin ("" for none).
STEPS: list[tuple[str, str]] = [
    ("status", ""),
    ("status web", ""),
    ("status nosuch", ""),
    ("status nosuch:*", ""),
    ("status web nosuch", ""),
    ("status pool:*", ""),
    ("pid", ""),
    ("pid web", ""),
    ("pid idle", ""),
    ("pid nosuch", ""),
    ("pid all", ""),
    ("start", ""),
    ("start web", ""),
    ("start nosuch", ""),
    ("start nosuch:*", ""),
    ("start missing", ""),
    ("start nosuch web", ""),
    ("start idle", ""),
    ("stop idle", ""),
    ("stop idle", ""),
    ("stop nosuch:*", ""),
    ("stop", ""),
    ("restart", ""),
    ("restart nosuch", ""),
    ("restart nosuch:*", ""),
    ("restart web", ""),
    ("signal", ""),
    ("signal CONT", ""),
    ("signal CONT all", ""),
    ("signal CONT idle", ""),
    ("signal CONT idle:*", ""),
    ("signal CONT nosuch:*", ""),
    ("signal FOO web", ""),
    ("signal FOO all", ""),
    ("signal FOO pool:*", ""),
    ("signal CONT pool:pool_1 web", ""),
    ("stop pool:*", ""),
    ("start pool:*", ""),
    ("restart pool:pool_0", ""),
    ("tail", ""),
    ("tail talker", ""),
    ("tail talker stderr", ""),
    ("tail -3 talker", ""),
    ("tail talker foo", ""),
    ("tail -x talker", ""),
    ("tail a b c d", ""),
    ("tail nosuch", ""),
    ("clear", ""),
    ("clear nosuch", ""),
    ("clear talker", ""),
    ("tail talker", ""),
    ("maintail", ""),
    ("maintail -x", ""),
    ("maintail a b", ""),
    ("avail", ""),
    ("avail x", ""),
    ("reread", ""),
    ("reread x", ""),
    ("update", ""),
    ("update nosuch", ""),
    ("update web", ""),
    ("update all", ""),
    ("update nosuch web", ""),
    ("fg", ""),
    ("fg nosuch", ""),
    ("fg idle", ""),
    # `fg web` is left out: supervisorctl's fg thread sometimes outlives its EOF and hangs
    # (tests/integration/test_ctl_shell.py covers initsup ctl's fg)
    ("version", ""),
    ("version x", ""),
    ("reload x", ""),
    ("shutdown x", ""),
    ("help", ""),
    ("help start", ""),
    ("help tail", ""),
    ("help nosuch", ""),
    ("bogus", ""),
    ("exit", ""),
    ("open", ""),
    ("open ftp://x", ""),
    ("", "status web\nversion\nbogus\n"),  # no command: commands from stdin, as a shell
    ("add", ""),
    ("add nosuch", ""),
    ("add web", ""),
    ("remove", ""),
    ("remove web", ""),
    ("remove nosuch", ""),
    ("remove idle", ""),
    ("add idle", ""),
]

# supervisord answers a group's start or stop with its processes in the order their
# changes finished (make_allfunc collects each as it completes), so two that change
# together come in either order; initsup answers in the group's order.
_IN_ANY_ORDER = (
    "supervisord lists a group's results in the order they finished; initsup in the "
    "group's order: the same lines are compared, in any order",
    lambda out: "".join(sorted(out.splitlines(keepends=True))),
)

# Differences kept on purpose, by step: why, and what is compared instead.
KEPT: dict[str, tuple[str, Callable[[str], str]]] = {
    "stop pool:*": _IN_ANY_ORDER,
    "start pool:*": _IN_ANY_ORDER,
    "maintail": (
        "supervisord's main log is its own text log; initsup's is the JSON records it "
        "writes: the lines differ, the exit code and the final newline do not",
        lambda out: "ends with a newline" if out.endswith("\n") else "no newline",
    ),
    "help": (
        "initsup ctl lists its own commands (events, health, sendcomm) in a block of their "
        "own after supervisorctl's, as supervisorctl lists a plugin's",
        lambda out: out.split("initsup commands")[0],
    ),
}


def normalise(text: str, directory: Path) -> str:
    """The transcript without what differs from run to run (and the version: `version`
    prints initsup's own, as supervisorctl prints supervisord's)."""
    text = text.replace(str(directory), "DIR")
    text = re.sub(r"pid \d+, uptime \d+:\d\d:\d\d", "pid N, uptime T", text)
    text = re.sub(r"[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M", "DATE", text)
    text = re.sub(r"(?m)(^|> )\d+\.\d+(\.\d+)*$", r"\1VERSION", text)  # also after a prompt
    return re.sub(r"(?m)^\d+$", "N", text)


# -- servers and clients -------------------------------------------------------------------


class Server:
    """A supervisor (supervisord or initsup) on CONFIG in a directory of its own."""

    def __init__(self, kind: str, directory: Path) -> None:
        directory.mkdir()
        self.directory = directory
        self.config = directory / "supervisord.conf"
        self.config.write_text(CONFIG)
        argv = (
            [str(SUPERVISORD), "-n", "-c", str(self.config)]
            if kind == "supervisord"
            else [*INITSUP, "-c", str(self.config)]
        )
        self.log = (directory / "server.out").open("wb")
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, env=env(), start_new_session=True
        )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                kill_tree(self.proc.pid)
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def client_argv(client: str, server: Server) -> list[str]:
    if client == "supervisorctl":
        return [str(SUPERVISORCTL), "-c", str(server.config)]
    return [*INITSUP, "ctl", "-c", str(server.config)]


def transcript(client: str, kind: str, directory: Path) -> dict[str, tuple[str, int]]:
    """Every step's normalised output and exit code, for one client against one server."""
    server = Server(kind, directory)
    argv = client_argv(client, server)

    def run(words: str, stdin: str = "") -> tuple[str, int]:
        try:
            done = subprocess.run(
                [*argv, *words.split()],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=30,
                env=env(),
            )
        except subprocess.TimeoutExpired:  # a step that hangs fails alone, not the run
            return "(no answer in 30 s)", -1
        return done.stdout, done.returncode

    try:
        wait_for(lambda: run("status")[0].count("RUNNING") == 4, timeout=30, interval=0.2)
        return {
            words or f"(stdin) {stdin!r}": (normalise(out, directory), code)
            for words, stdin in STEPS
            for out, code in [run(words, stdin)]
        }
    finally:
        server.close()


REFERENCE = ("supervisorctl", "supervisord")
PAIRS = [("initsup ctl", "initsup"), ("supervisorctl", "initsup")]


Transcripts = dict[tuple[str, str], dict[str, tuple[str, int]]]


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Transcripts]:
    """Each pair's transcript, the reference's first: each server runs once, in turn."""
    result = {}
    for client, kind in [REFERENCE, *PAIRS]:
        directory = tmp_path_factory.mktemp("compat") / f"{client}-{kind}".replace(" ", "_")
        result[client, kind] = transcript(client, kind, directory)
    yield result


def _step_ids() -> list[str]:
    return [words or f"(stdin) {stdin!r}" for words, stdin in STEPS]


@pytest.mark.parametrize("pair", PAIRS, ids=" -> ".join)
@pytest.mark.parametrize("step", _step_ids())
def test_same_lines_and_exit_code_as_supervisorctl(
    transcripts: Transcripts,
    pair: tuple[str, str],
    step: str,
) -> None:
    expected = transcripts[REFERENCE][step]
    got = transcripts[pair][step]
    if step in KEPT:
        _, compare = KEPT[step]
        expected, got = (compare(expected[0]), expected[1]), (compare(got[0]), got[1])
    assert got == expected
