"""initsup's own numbers, as data: the part of the control API (initsup.control.api)
that /metrics reads beside each process's info.

Counters only ever grow while initsup runs (a reload keeps them), except a notifier's,
which starts again at 0 when a reload replaces that notifier.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from initsup.control.api import Host


def started_wall() -> float | None:
    """When initsup started (seconds since the epoch), as the kernel has it; None if
    /proc cannot tell."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        with open("/proc/stat", "rb") as system:
            boot = next(line for line in system if line.startswith(b"btime "))
        ticks = os.sysconf("SC_CLK_TCK")
        return int(boot.split()[1]) + int(fields[19]) / ticks
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def totals(host: Host) -> dict[str, int]:
    """initsup's counts since it started: orphans reaped, the programs' output (lines are
    newlines seen), and lines lost by log files (a full disk, a FIFO nobody reads)."""
    output = host.output
    return {
        "reaped_orphans": host.owners.unknown_reaped,
        "output_lines": output.lines,
        "output_bytes": output.bytes,
        "output_dropped_lines": output.dropped_lines,
    }


def listener_queues(host: Host) -> list[tuple[str, int, int, int]]:
    """Each listener pool's (name, events waiting, buffer_size, events discarded)."""
    if host.pools is None:
        return []
    buffers = host.pools.buffers
    return [(name, len(b.waiting), b.buffer_size, b.overflowed) for name, b in buffers.items()]


def notifier_counts(host: Host) -> list[tuple[str, str, dict[str, int]]]:
    """Each notifier's (name, type, {"sent", "failed", "dropped": sends so far})."""
    if host.alerts is None:
        return []
    return [(n.config.name, n.config.kind, dict(n.outbox.counts)) for n in host.alerts.notifiers]
