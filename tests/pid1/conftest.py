"""The pid1 layer needs root and unshare; it skips with the reason elsewhere, never under CI."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest


@functools.cache
def unavailable_reason() -> str | None:
    """Why a fresh PID namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to create a PID namespace with unshare"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=30
    )
    if probe.returncode != 0:
        return f"unshare --pid refused: {probe.stderr.decode().strip()}"
    return None


@pytest.fixture(autouse=True)
def _require_pid_namespace() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the pid1 layer must run under CI, but: {reason}")
    pytest.skip(reason)
