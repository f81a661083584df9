"""Storms at PID 1: ten thousand orphans, and tens of thousands of signals while a program
writes, with initsup as PID 1 of a fresh PID namespace.  Nothing is lost, no zombie is
left, initsup keeps answering and still shuts down cleanly."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import BIN, env, run
from tests.pid1.namespace import UNSHARE, init_pid
from tests.supervised import Supervised

Start = Callable[..., Supervised]

# Every signal a supervisor-mode PID 1 catches and does not act on by stopping or
# reloading: the ones a storm from a confused sidecar or a `kill -s` loop would bring.
STORM = [
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGALRM,
    signal.SIGCONT,
    signal.SIGURG,
    signal.SIGCHLD,
    signal.SIGPIPE,
    signal.SIGRTMIN,
    signal.SIGRTMIN + 3,
]
LINES = 20_000
WRITER = (
    "import time\n"
    f"for i in range({LINES}):\n"
    "    print(f'line {i}', flush=True)\n"
    "    if i % 50 == 0: time.sleep(0.002)\n"
)


def _status(s: Supervised) -> str:
    result = run(["ctl", "status"], env=env(INITSUP_SOCKET=s.socket), timeout=30)
    return result.stdout.decode()


@pytest.mark.pid1
def test_ten_thousand_orphans_as_pid1(supervise: Start) -> None:
    """A program orphans 10,000 children: every one is reaped (the program checks that no
    member of its group is left, zombie or not), and initsup answers and stops cleanly."""
    maker = f"{sys.executable} {BIN / 'orphan_maker.py'} 10000 240"
    s = supervise(
        prefix=UNSHARE,
        ini=f"[program:maker]\ncommand={maker}\nautorestart=false\nstartsecs=0\n"
        "[program:idle]\ncommand=sleep 1000\n",
    )
    exited = s.wait("PROCESS_STATE_EXITED", timeout=240, program="maker")
    assert exited["exit_code"] == 0, [r["event"] for r in s.records if r["program"] == "maker"]
    assert "idle" in _status(s)
    os.kill(init_pid(s), signal.SIGTERM)
    assert s.finish() == 0


@pytest.mark.pid1
def test_signal_storm_at_pid1_loses_no_line(tmp_path: Path, supervise: Start) -> None:
    """30,000 signals of ten kinds from the host while a program writes 20,000 lines:
    every line arrives once and in order, `ctl status` answers, SIGTERM ends it with 0."""
    writer = tmp_path / "writer.py"
    writer.write_text(WRITER)
    s = supervise(
        prefix=UNSHARE,
        ini=f"[program:writer]\ncommand={sys.executable} {writer}\n"
        "autorestart=false\nstartsecs=0\n"
        "[program:idle]\ncommand=sleep 1000\nforward_signals=USR1,WINCH\n",
    )
    s.wait("PROCESS_STATE_RUNNING", program="writer")
    init = init_pid(s)
    for burst in range(30):  # spread over the writer's second or so of writing
        for i in range(1_000):
            os.kill(init, STORM[(burst + i) % len(STORM)])
        time.sleep(0.02)
    s.wait("PROCESS_STATE_EXITED", timeout=120, program="writer")
    lines = [r["event"] for r in s.records if r.get("program") == "writer" and r.get("stream")]
    assert lines == [f"line {i}" for i in range(LINES)]
    assert "idle" in _status(s)
    os.kill(init, signal.SIGTERM)
    assert s.finish() == 0
