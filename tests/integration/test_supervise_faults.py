"""Supervisor mode against hostile settings: what must never lose a program or PID 1.

Each test is a reproduction from the reliability findings (D1, D3, D4, D5, D9, D12) or a
shutdown rule, run the way users run initsup: a fresh interpreter on an INI text.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import alive, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """A prefix that starts initsup in a new session with a `sleep` in its process group.

    Yields (prefix, pid file).  A signal to initsup's own process group reaches the sleep;
    nothing initsup does may reach it.  The sleep is killed afterwards.
    """
    pid_file = tmp_path / "sentinel.pid"
    script = f'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {pid_file}; exec "$@"'
    yield ["setsid", "sh", "-c", script, "sh"], pid_file
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_crash_loop_past_1025_restarts_keeps_the_program(
    supervise: Start, sentinel: tuple[list[str], Path]
) -> None:
    """D1: 2.0 ** n overflowed at the 1,026th restart, leaving RUNNING with pid 0; a stop then
    signalled initsup's own process group and never finished.  Now the restarts go on, the
    stop finishes, and nothing in initsup's process group is signalled."""
    prefix, pid_file = sentinel
    s = supervise(
        prefix=prefix,
        ini="[program:crashy]\ncommand=/bin/false\nstartsecs=0\nautorestart=true\nbackoff_max=0\n",
    )
    exits = errors = 0
    while exits < 1100:  # raw lines: a schema check of each would take seconds here
        line = s.proc.readline(timeout=30)
        exits += '"event":"PROCESS_STATE_EXITED"' in line
        errors += '"event":"internal error' in line
    sentinel_pid = int(wait_for(pid_file.read_text))
    assert s.stop(timeout=15) == 0
    assert errors == 0
    assert not any(str(r["event"]).startswith("internal error") for r in s.records)
    assert alive(sentinel_pid)


@pytest.mark.parametrize("option", ["startsecs=2200000", "stopwaitsecs=3000000"])
def test_deadlines_weeks_away_are_waited_for_in_steps(supervise: Start, option: str) -> None:
    """D3: a timer more than 24.8 days away overflowed epoll's timeout and killed PID 1
    (at start for startsecs, at the stop for stopwaitsecs).  Now both run, and a program
    that ends on SIGTERM stops at once: initsup exits 0."""
    s = supervise(ini=f"[program:slow]\ncommand=sleep 1000\n{option}\n")
    s.wait("PROCESS_STATE_STARTING", program="slow")
    if option.startswith("stopwaitsecs"):
        s.wait("PROCESS_STATE_RUNNING", program="slow")
    s.read_available(0.3)  # a pass of the loop with the far timer pending
    assert s.proc.popen.poll() is None
    assert s.stop(timeout=15) == 0
    assert s.events("slow")[-1] == "PROCESS_STATE_STOPPED"
    assert not any(str(r["event"]).startswith("internal error") for r in s.records)
