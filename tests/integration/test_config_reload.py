"""Reloading a configuration that now includes a FIFO or a device: PID 1 keeps working.

Before, `[include]` opened every match, so a SIGHUP (or `ctl reread`) with a FIFO in
conf.d froze the supervisor waiting for its loader: no reaping, no answers, no SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.helpers import INITSUP, env
from tests.supervised import Supervised


def test_sighup_with_a_fifo_in_conf_d_is_refused_and_initsup_still_answers(
    tmp_path: Path, supervise: Callable[..., Supervised]
) -> None:
    """The reload is refused naming the FIFO; ctl answers; SIGTERM still shuts down."""
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    s = supervise(
        ini=f"[include]\nfiles = {conf_d}/*\n[program:app]\ncommand=sleep 1000\nstartsecs=0\n"
    )
    s.wait("PROCESS_STATE_RUNNING", program="app")
    os.mkfifo(conf_d / "pipe")
    os.kill(s.pid, signal.SIGHUP)
    refused = s.wait_prefix("reload refused")
    assert refused["event"] == (
        f"reload refused: {conf_d}/pipe: cannot read: a FIFO, not a regular file"
    )
    proc = subprocess.run(
        [*INITSUP, "ctl", "reread"],
        env=env(INITSUP_SOCKET=s.socket),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert f"{conf_d}/pipe: cannot read: a FIFO, not a regular file" in proc.stdout + proc.stderr
    assert s.stop() == 0
