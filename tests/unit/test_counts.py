"""Unit tests for initsup.control.counts and the counters it reads: the numbers /metrics
exports beside each process's info."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from initsup.control import api, counts
from initsup.feeds import OutputFeeds
from initsup.reaper import Owners
from tests.control_host import ControlHost


def test_started_wall_is_this_process_start() -> None:
    """The kernel's start time of the calling process, within the clock tick's rounding:
    a fresh interpreter's is between just before it was started and now."""
    before = time.time()
    code = "from initsup.control import counts; print(counts.started_wall())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    started = float(out.stdout)
    tick = 1 / os.sysconf("SC_CLK_TCK")
    # /proc/stat's btime is whole seconds: the start may read up to 1 s early.
    assert before - 1 - tick <= started <= time.time() + tick


def test_output_feeds_count_lines_and_bytes_and_never_forget_them() -> None:
    """Lines are the newlines seen; a clear (clearProcessLogs) does not lower the totals."""
    feeds = OutputFeeds()
    feeds.record(("g:p", "stdout"), b"one\ntwo\nthr")
    feeds.record(("g:p", "stderr"), b"ee\n")
    feeds.clear(("g:p", "stdout"))
    feeds.lost(4)
    assert (feeds.lines, feeds.bytes, feeds.dropped_lines) == (3, 14, 4)


def test_owners_count_the_strangers_they_reap() -> None:
    """A child nobody registered (an orphan re-parented to us) is counted when reaped."""
    unknown: list[int] = []
    owners = Owners(lambda pid, status: unknown.append(pid))
    child = subprocess.Popen(["true"])
    pid = child.pid
    deadline = time.monotonic() + 10
    while pid not in unknown and time.monotonic() < deadline:
        owners.reap()
        time.sleep(0.01)
    child.returncode = 0  # reaped above, not by Popen
    assert unknown == [pid]
    assert owners.unknown_reaped == 1


def test_totals_and_empty_pools_and_notifiers() -> None:
    """totals() reads the host's counters; no pools or notifiers: nothing to list."""
    host = ControlHost()
    host.output.record(("g:p", "stdout"), b"a\nb\n")
    host.owners.unknown_reaped = 2
    assert counts.totals(host) == {
        "reaped_orphans": 2,
        "output_lines": 2,
        "output_bytes": 4,
        "output_dropped_lines": 0,
    }
    assert counts.listener_queues(host) == []
    assert counts.notifier_counts(host) == []


def test_info_counts_every_spawn_after_the_first_as_a_restart() -> None:
    """`restarts` in a process's info: 0 before and after the first spawn, then one per
    spawn, by hand or automatic."""
    host = ControlHost()
    process = host.add("worker")
    assert api.info(process, 0)["restarts"] == 0
    process.start()
    host.advance(2)  # RUNNING after startsecs
    assert api.info(process, 0)["restarts"] == 0
    host.exit("worker", 1)  # unexpected: autorestart=unexpected restarts it
    host.advance(2)
    assert process.spawns == 2
    assert api.info(process, 0)["restarts"] == 1
    assert api.status(host, 0) == [api.info(process, 0)]
