"""Scenario 2, idle: what a supervisor costs while nothing happens.

Fifty programs, `sleep 1000.NNN` each (NNN a number unique to the run, so that leftovers
can be found by their command line), are started; once all fifty run and a short settling
pause has passed, the supervisor process alone is watched for a window (full 20 s, tiny
0.5 s): its RSS at the end of the window, its context switches over the window (voluntary
plus involuntary, per minute: each one is a wake-up), and its CPU time over the window.

- initsup: `initsup -c FILE`, FILE holding fifty `[program:sN]` sections (one section per
  program, not numprocs, as a hand-written config has them) with `startsecs=0`, default
  JSON log format; stdout and stderr to a pipe the harness drains on a thread, counting
  `PROCESS_STATE_RUNNING` records until there are fifty.
- supervisord: `supervisord -n -c FILE`, the same fifty sections after a `[supervisord]`
  section with logfile, pidfile and childlogdir in the scratch directory and loglevel=info;
  programs' output left at its default (AUTO log files, in childlogdir); stdout and stderr
  to a drained pipe; ready when its logfile holds fifty `entered RUNNING state` lines.
- tini (`tini -s -- sh -c SCRIPT`) and dumb-init (`dumb-init sh -c SCRIPT`) run one child,
  so SCRIPT is `sleep 1000.NNN &` fifty times, then `wait`; stdout and stderr to a drained
  pipe.  The measured process is tini or dumb-init, not the shell.
- floor: the bare interpreter initsup runs on, sleeping: `python -c "import time;
  time.sleep(1000)"`, for the RSS target (no programs).
- initsup in single-command mode, `initsup -- sh -c SCRIPT` as tini runs it, for the rows
  of a single-command init: there tini, dumb-init and the floor are the same runs as above.

Every system is also ready only when fifty `sleep` processes are among its descendants.
Afterwards it is killed, and no process of the run may be left: neither of its tree nor
any with the run's `sleep` in its command line.  The setups are bench/supervised.py's,
shared with the scale scenario.
"""

from __future__ import annotations

import time

from bench.core import Figure, Medians, Sample, Target, Tools, ratio_target
from bench.proc import context_switches, cpu_seconds, rss_mib
from bench.supervised import Supervised, shell_script, supervisor_command, unique_sleep

PROGRAMS = 50
WINDOW = {"full": 20.0, "tiny": 0.5}
# The last RUNNING record may still be on its way out when the count is reached: a pause
# keeps that write (and any timer a supervisor sets on reaching RUNNING) out of the window.
SETTLE = {"full": 1.0, "tiny": 0.2}
READY_TIMEOUT = 60.0


class Idle:
    name = "idle"
    title = "Idle"
    figures = (
        Figure("rss", "RSS of the supervisor, 50 programs idle", "MiB"),
        Figure("wakeups", "wake-ups of the supervisor", "/min"),
        Figure("cpu", "CPU of the supervisor while idle", "%"),
        Figure("rss_single", "RSS of a single-command init, 50 sleeps idle", "MiB"),
        Figure("wakeups_single", "wake-ups of a single-command init", "/min"),
    )
    # The window is 20 s: three runs of each system keep a full run near five minutes.
    runs = {"full": 3, "tiny": 1}

    def describe(self) -> str:
        return (
            f"{PROGRAMS} `sleep` programs (one `[program:x]` section each, startsecs=0; "
            "tini and dumb-init run `sh -c` starting them with `&` and `wait`), watched for "
            f"{WINDOW['full']:g} s after all run: the supervisor process's RSS, context "
            "switches per minute and CPU; floor: the interpreter initsup runs on, sleeping. "
            "Also initsup in single-command mode running the same `sh -c` as tini."
        )

    def systems(self, tools: Tools) -> list[str]:
        wanted = ["initsup", "supervisord", "tini", "dumb-init", "floor"]
        return [s for s in wanted if s not in tools.missing] + ["initsup:single"]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        marker = unique_sleep()
        if system == "initsup:single":
            command = tools.initsup("--", "sh", "-c", shell_script(marker, PROGRAMS))
        elif system == "floor":
            command = [tools.python, "-c", "import time; time.sleep(1000)"]
        elif system == "tini":
            command = [str(tools.tini), "-s", "--", "sh", "-c", shell_script(marker, PROGRAMS)]
        elif system == "dumb-init":
            command = [str(tools.dumb_init), "sh", "-c", shell_script(marker, PROGRAMS)]
        else:
            command = supervisor_command(system, tools, marker, PROGRAMS)
        programs = 0 if system == "floor" else PROGRAMS
        with Supervised(system, command, tools, programs, marker) as run:
            run.wait_running(READY_TIMEOUT)
            time.sleep(SETTLE[size])
            pid = run.proc.pid
            switches, cpu, began = context_switches(pid), cpu_seconds(pid), time.monotonic()
            time.sleep(WINDOW[size])
            switches = context_switches(pid) - switches
            cpu = cpu_seconds(pid) - cpu
            elapsed = time.monotonic() - began
            rss = rss_mib(pid)
        wakeups = switches * 60 / elapsed
        if system == "initsup:single":
            return [
                Sample("rss_single", "initsup", rss),
                Sample("wakeups_single", "initsup", wakeups),
            ]
        samples = [
            Sample("rss", system, rss),
            Sample("wakeups", system, wakeups),
            Sample("cpu", system, cpu / elapsed * 100),
        ]
        if system in ("tini", "dumb-init", "floor"):  # single-command inits already
            samples += [
                Sample("rss_single", system, rss),
                Sample("wakeups_single", system, wakeups),
            ]
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [rss_target(medians), wakeup_target(medians)]


def rss_target(medians: Medians) -> Target:
    """Both bounds of the issue on one row (the report shows one target per figure)."""
    text = "<= 0.6x supervisord and <= floor + 3 MiB"
    ratio = ratio_target("rss", medians, "supervisord", 0.6, "supervisord")
    mine, floor = medians.get("rss", "initsup"), medians.get("rss", "floor")
    if mine is None or floor is None:
        return Target("rss", text, False, f"{ratio.detail}; floor not measured")
    above = mine - floor
    return Target("rss", text, ratio.met and above <= 3, f"{ratio.detail}, floor + {above:.1f} MiB")


def wakeup_target(medians: Medians) -> Target:
    """None at all: checked on every run, not on the median, since one is already a miss."""
    runs = medians.samples.get(("wakeups", "initsup"), [])
    if not runs:
        return Target("wakeups", "0 in every run", False, "not measured")
    return Target(
        "wakeups",
        "0 in every run",
        max(runs) == 0,
        f"at most {max(runs):.3g}/min, {len(runs)} runs",
    )


SCENARIO = Idle()
