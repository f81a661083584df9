"""A reload that never finishes reading, with initsup as PID 1 of a fresh PID namespace:
PID 1 goes on reaping and answering, and stops at once when told (reliability D9)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import INITSUP, env
from tests.integration.test_reload_loader import stall, stalling
from tests.pid1.namespace import UNSHARE, init_pid
from tests.supervised import Supervised, seconds

Start = Callable[..., Supervised]


@pytest.mark.pid1
def test_pid1_keeps_reaping_while_a_reload_hangs(tmp_path: Path, supervise: Start) -> None:
    """SIGHUP while reading the configuration hangs: orphans are still reaped, ctl answers, and
    SIGTERM ends PID 1 (and with it the reader) at once."""
    ini = "[program:parent]\ncommand=sh -c 'while :; do (sleep 0.1 &); sleep 0.2; done'\n"
    s = supervise(prefix=UNSHARE, ini=ini, variables=stalling(tmp_path))
    s.wait("PROCESS_STATE_RUNNING", program="parent")
    stall(tmp_path)
    sent = time.time()
    os.kill(init_pid(s), signal.SIGHUP)
    reaped_after = 0
    while reaped_after < 3:  # orphans reaped while the reader hangs
        record = s.next()
        if str(record["event"]).startswith("reaped unknown pid"):
            reaped_after += seconds(record["timestamp"]) > sent
    began = time.monotonic()
    status = subprocess.run(
        [*INITSUP, "ctl", "status"],
        env=env(INITSUP_SOCKET=s.socket),
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert status.stdout.startswith("parent ") and time.monotonic() - began < 3.0
    began = time.monotonic()
    os.kill(init_pid(s), signal.SIGTERM)
    assert s.finish(timeout=10) == 0
    assert time.monotonic() - began < 5.0
