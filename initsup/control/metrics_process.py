"""The standard `process_*` metrics of initsup's own process, with the names and meanings
Prometheus' client libraries give them, so that the dashboards and alerts made for any
exporter's memory, CPU and descriptors work for PID 1 too.

Read from the kernel at each scrape (/proc/self and os.times): a few system calls.  A
value the kernel cannot give (no /proc) is left out, never guessed.
"""

from __future__ import annotations

import os

from initsup.control.metrics_text import COUNTER, GAUGE, Family, sample


def process_families(started: float | None) -> list[Family]:
    """process_cpu_seconds_total, process_start_time_seconds, the memory sizes and the
    descriptors of initsup's own process (started: its start, seconds since the epoch)."""
    times = os.times()
    families = [
        Family(
            "process_cpu_seconds_total",
            COUNTER,
            "User and system CPU time spent by initsup itself, in seconds",
            [sample(times.user + times.system)],
        ),
        Family(
            "process_start_time_seconds",
            GAUGE,
            "Start time of initsup's process since the epoch, in seconds",
            [sample(started)] if started is not None else [],
        ),
    ]
    virtual, resident = _memory()
    families.append(
        Family(
            "process_virtual_memory_bytes",
            GAUGE,
            "Virtual memory size of initsup's process, in bytes",
            [sample(virtual)] if virtual is not None else [],
        )
    )
    families.append(
        Family(
            "process_resident_memory_bytes",
            GAUGE,
            "Resident memory size of initsup's process, in bytes",
            [sample(resident)] if resident is not None else [],
        )
    )
    return families + _descriptors()


def _memory() -> tuple[int | None, int | None]:
    """(virtual, resident) bytes from /proc/self/statm, or Nones."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = statm.read().split()
        size = os.sysconf("SC_PAGE_SIZE")
        return int(pages[0]) * size, int(pages[1]) * size
    except (OSError, ValueError, IndexError):
        return None, None


def _descriptors() -> list[Family]:
    """process_open_fds and process_max_fds (the soft limit)."""
    try:
        opened: list[str] = [sample(len(os.listdir("/proc/self/fd")))]
    except OSError:
        opened = []
    most = []
    try:  # /proc rather than `resource`, a C extension initsup otherwise does without
        with open("/proc/self/limits", "rb") as limits:
            for line in limits:
                if line.startswith(b"Max open files"):
                    soft = line[len(b"Max open files") :].split()[0]
                    most = [sample(int(soft))] if soft.isdigit() else []  # not "unlimited"
    except (OSError, ValueError, IndexError):
        pass
    return [
        Family("process_open_fds", GAUGE, "Open file descriptors of initsup's process", opened),
        Family("process_max_fds", GAUGE, "Most open file descriptors initsup may have", most),
    ]
