"""Supervisor mode as PID 1 of a fresh PID namespace, against hostile settings."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import alive, wait_for
from tests.pid1.namespace import UNSHARE
from tests.supervised import Supervised

Start = Callable[..., Supervised]


def _init(s: Supervised, other: int) -> int:
    """Host pid of the namespace's PID 1 (initsup) under the unshare process, which also
    has `other` as a child."""
    path = Path(f"/proc/{s.pid}/task/{s.pid}/children")
    return int(wait_for(lambda: [p for p in path.read_text().split() if int(p) != other])[0])


@pytest.mark.pid1
def test_a_crash_loop_never_makes_pid1_signal_its_process_group(
    supervise: Start, tmp_path: Path
) -> None:
    """D1 as PID 1: after 1,025 crashes the program was left RUNNING with pid 0 and a stop
    sent kill(0, SIGTERM): to the whole process group PID 1 shares with the container's
    runtime.  A sleep outside the namespace in that group must survive the shutdown."""
    pid_file = tmp_path / "sentinel.pid"
    script = f'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {pid_file}; exec "$@"'
    s = supervise(
        prefix=["setsid", "sh", "-c", script, "sh", *UNSHARE],
        ini="[program:crashy]\ncommand=/bin/false\nstartsecs=0\nautorestart=true\nbackoff_max=0\n",
    )
    sentinel = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
    init = _init(s, sentinel)
    try:
        exits = 0
        while exits < 1100:  # raw lines: a schema check of each would take seconds here
            line = s.proc.readline(timeout=30)
            exits += '"event":"PROCESS_STATE_EXITED"' in line
            assert '"event":"internal error' not in line, line
        os.kill(init, signal.SIGTERM)
        assert s.finish(timeout=15) == 0
        assert alive(sentinel)
    finally:
        for pid in (init, sentinel):  # a failed run must not leave a crash loop behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
