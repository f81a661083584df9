"""What /metrics exports, as metric families: each process's state, restarts, last exit,
start, health and readiness; initsup's own counts (and its process's, in
initsup.control.metrics_process); and, when asked, node_exporter's old
`node_supervisord_*` series.

Everything comes from the control API (initsup.control.api: each process's info, in
supervisorctl's order; initsup.control.counts: initsup's own numbers), so /metrics says
what `initsup ctl status --json` and XML-RPC say at the same moment.  A series is left
out while it has no value rather than written as 0: a program's last exit code before
its first end, its start time before its first start, its health without a verdict.
A 0 there would read as a clean exit, a start in 1970, a failed check.

The process families are built a process at a time into their sample lists (one label
text per process, escaped once), so that the cost of a scrape grows with the programs
and nothing else.
"""

from __future__ import annotations

from initsup import __version__
from initsup.control import api, counts
from initsup.control.metrics_process import process_families
from initsup.control.metrics_text import COUNTER, GAUGE, INFO, Family, label, labels, sample
from initsup.states import ProcessState

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from typing import Any

    from initsup.control.api import Host

STATES = tuple(ProcessState)  # STOPPED ... UNKNOWN: one initsup_program_state sample each
# node_exporter's collector counted these as up, and exported a start time only for them
NODE_UP = frozenset({ProcessState.STARTING, ProcessState.RUNNING, ProcessState.STOPPING})


def families(host: Host, now: float, started: float | None, compat: set[str]) -> list[Family]:
    """Every family of one scrape, at wall time `now`; `started`: initsup's start."""
    found = api.by_name(host)
    infos = [api.info(p, now) for p in found]
    codes = [p.exit_code for p in found]
    result = program_families(infos, codes)
    result += own_families(host, started)
    result += process_families(started)
    if "node_supervisord" in compat:
        result += node_supervisord_families(infos)
    return result


def program_families(infos: list[dict[str, Any]], codes: list[int | None]) -> list[Family]:
    """The per-process families, labelled `program` and `group`, from each process's info
    (initsup.control.api.info) and its last end's code (None: it never ended)."""
    state = Family("initsup_program_state", GAUGE, "1 for the state the process is in")
    up = Family("initsup_program_up", GAUGE, "1 while the process is RUNNING, else 0")
    restarts = Family(
        "initsup_program_restarts_total", COUNTER, "Spawns of the process after its first"
    )
    exit_code = Family(
        "initsup_program_last_exit_code",
        GAUGE,
        "Exit code of the last end of the process, 128+N for signal N",
    )
    start = Family(
        "initsup_program_start_time_seconds",
        GAUGE,
        "When the process was last started, in seconds since the epoch",
    )
    healthy = Family(
        "initsup_program_healthy", GAUGE, "1 when the health check passes, 0 when it fails"
    )
    ready = Family("initsup_program_ready", GAUGE, "1 when the process is ready, else 0")
    essential = Family(
        "initsup_program_essential", GAUGE, "1 when the end of the process ends initsup"
    )
    # `,state="RUNNING"} ` and the like, made once: 8 samples per process come from them
    state_tails = [(int(s), f',state="{s.name}"}} ') for s in STATES]
    for info, code in zip(infos, codes):
        pair = f'program="{label(info["name"])}",group="{label(info["group"])}"'
        ours = "{" + pair + "}"
        current = info["state"]
        state.samples += [
            "{" + pair + tail + ("1" if number == current else "0") for number, tail in state_tails
        ]
        up.samples.append(ours + (" 1" if current == ProcessState.RUNNING else " 0"))
        restarts.samples.append(sample(info["restarts"], ours))
        if code is not None:
            exit_code.samples.append(sample(code, ours))
        if info["start"]:
            start.samples.append(sample(info["start"], ours))
        if info["healthy"] is not None:
            healthy.samples.append(ours + (" 1" if info["healthy"] else " 0"))
        ready.samples.append(ours + (" 1" if info["ready"] else " 0"))
        essential.samples.append(ours + (" 1" if info["essential"] else " 0"))
    return [state, up, restarts, exit_code, start, healthy, ready, essential]


def own_families(host: Host, started: float | None) -> list[Family]:
    """initsup's own families: its start, build, reaping, output, pools and notifiers."""
    totals = counts.totals(host)
    result = [
        Family(
            "initsup_start_time_seconds",
            GAUGE,
            "When initsup started, in seconds since the epoch",
            [sample(started)] if started is not None else [],
        ),
        Family(
            "initsup_build_info",
            INFO,
            "The version of initsup",
            [sample(1, labels(version=__version__))],
        ),
    ]
    for name, help_text in (
        ("reaped_orphans", "Processes reaped that initsup had not started itself"),
        ("output_lines", "Lines the programs wrote, stdout and stderr"),
        ("output_bytes", "Bytes the programs wrote, stdout and stderr"),
        ("output_dropped_lines", "Lines of output lost because a log file could not take them"),
    ):
        result.append(Family(f"initsup_{name}_total", COUNTER, help_text, [sample(totals[name])]))
    return result + pool_families(host) + notifier_families(host)


def pool_families(host: Host) -> list[Family]:
    """Each event listener pool's queue: its depth, its capacity, the events discarded."""
    depth = Family("initsup_listener_queue_depth", GAUGE, "Events waiting for a listener")
    capacity = Family(
        "initsup_listener_queue_capacity", GAUGE, "Events the pool holds (buffer_size)"
    )
    discarded = Family(
        "initsup_listener_discarded_events_total",
        COUNTER,
        "Events discarded because the queue was full",
    )
    for pool, waiting, size, overflowed in counts.listener_queues(host):
        pair = labels(pool=pool)
        depth.samples.append(sample(waiting, pair))
        capacity.samples.append(sample(size, pair))
        discarded.samples.append(sample(overflowed, pair))
    return [depth, capacity, discarded]


def notifier_families(host: Host) -> list[Family]:
    """Each notifier's alerts sent, send attempts failed, and alerts dropped."""
    made = {
        "sent": Family("initsup_notifier_sent_total", COUNTER, "Alerts sent"),
        "failed": Family(
            "initsup_notifier_failed_total", COUNTER, "Attempts to send an alert that failed"
        ),
        "dropped": Family(
            "initsup_notifier_dropped_total",
            COUNTER,
            "Alerts dropped unsent (a full queue, or no time left at shutdown)",
        ),
    }
    for name, kind, numbers in counts.notifier_counts(host):
        pair = labels(notifier=name, type=kind)
        for key, family in made.items():
            family.samples.append(sample(numbers.get(key, 0), pair))
    return list(made.values())


def node_supervisord_families(infos: list[dict[str, Any]]) -> list[Family]:
    """node_exporter's supervisord collector's series, with its names, labels (`name`,
    `group`) and meanings: up counts STARTING and STOPPING as up, state is supervisord's
    number, exit_status its exitstatus field (-1 after a signal), and the start time is
    there only while up, typed a counter (a gauge in OpenMetrics, which would otherwise
    rename it `..._total`)."""
    up = Family("node_supervisord_up", GAUGE, "1 while STARTING, RUNNING or STOPPING")
    state = Family("node_supervisord_state", GAUGE, "supervisord's number for the state")
    exit_status = Family(
        "node_supervisord_exit_status", GAUGE, "supervisord's exitstatus of the last end"
    )
    start = Family(
        "node_supervisord_start_time_seconds",
        COUNTER,
        "When the process was started, while it is up",
        openmetrics_type=GAUGE,
    )
    for info in infos:
        pair = f'{{name="{label(info["name"])}",group="{label(info["group"])}"}}'
        current = info["state"]
        running = current in NODE_UP
        up.samples.append(pair + (" 1" if running else " 0"))
        state.samples.append(sample(current, pair))
        exit_status.samples.append(sample(info["exitstatus"], pair))
        if running:
            start.samples.append(sample(info["start"], pair))
    return [up, state, exit_status, start]
