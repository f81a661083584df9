"""A fresh PID namespace for initsup, and its PID 1 seen from the host."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import Proc, wait_for
from tests.supervised import Supervised

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def init_pid(s: Supervised | Proc) -> int:
    """Host pid of the namespace's PID 1 (initsup) under the unshare process: signals go
    there, since unshare itself ignores SIGTERM and SIGINT while it waits."""
    path = Path(f"/proc/{s.pid}/task/{s.pid}/children")
    return int(wait_for(lambda: path.read_text().split())[0])
