"""Scenario 8, scale: a thousand programs in one config.

1,000 programs (tiny: 10), each its own `[program:pN]` section running `sleep 1000.NNN`
(NNN a number unique to the run, which marks its processes), with `startsecs=0` for both
systems so that RUNNING means spawned and no startsecs timer is in the figure.  From just
before the supervisor is spawned until it reports all programs RUNNING, then its RSS.

- initsup: `initsup -c FILE`, default JSON log format, stdout and stderr to a pipe the
  harness reads on a thread, counting `PROCESS_STATE_RUNNING` records.
- supervisord: `supervisord -n -c FILE`, the same sections after a `[supervisord]` section
  with logfile, pidfile and childlogdir in the scratch directory and loglevel=info;
  programs' output at its default (AUTO log files in childlogdir); stdout and stderr to a
  drained pipe; the harness polls the logfile every 2 ms for `success: pN entered RUNNING
  state` lines.

Both count as ready only once every `sleep` is also among the supervisor's descendants.
The soft RLIMIT_NOFILE the supervisor inherits is raised to 4 per program (plus 64) if it
is lower (initsup ignores supervisord's `minfds`).  The setups, and the check that nothing
of a run is left, are bench/supervised.py's, shared with the idle scenario.  No target in
the issue.
"""

from __future__ import annotations

from bench.core import Figure, Medians, Sample, Target, Tools
from bench.proc import rss_mib
from bench.supervised import Supervised, supervisor_command, unique_sleep

PROGRAMS = {"full": 1000, "tiny": 10}
READY_TIMEOUT = {"full": 180.0, "tiny": 30.0}


class Scale:
    name = "scale"
    title = "Scale"
    figures = (
        Figure("ready", "start until 1,000 programs RUNNING", "ms"),
        Figure("rss", "RSS of the supervisor, 1,000 programs", "MiB"),
    )
    runs = {"full": 5, "tiny": 1}

    def describe(self) -> str:
        return (
            f"{PROGRAMS['full']:,} `[program:pN]` sections of `sleep`, startsecs=0: from spawn "
            "until the supervisor reports all RUNNING (initsup: its JSON records on stdout; "
            "supervisord: its logfile), and its RSS then."
        )

    def systems(self, tools: Tools) -> list[str]:
        return [s for s in ("initsup", "supervisord") if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        programs = PROGRAMS[size]
        marker = unique_sleep()
        command = supervisor_command(system, tools, marker, programs)
        with Supervised(system, command, tools, programs, marker) as run:
            reached = run.wait_running(READY_TIMEOUT[size])
            rss = rss_mib(run.proc.pid)
        return [
            Sample("ready", system, (reached - run.began) * 1000),
            Sample("rss", system, rss),
        ]

    def targets(self, medians: Medians) -> list[Target]:
        return []


SCENARIO = Scale()
