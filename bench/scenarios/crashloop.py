"""Scenario 5, a crash-looping program.

One program, `date +%s%N` (written `%%s%%N` in the INI file, for both systems' %-expansion),
that prints a nanosecond stamp and exits at once; autorestart=true and startsecs=0 on both
systems, initsup with its default restart backoff (at once the first time, then 1, 2, 4...
s); stdout_logfile is a file in the scratch directory (the same for both), stderr NONE.

- first restart: the second stamp minus the first, raw.  Besides the supervisor's reaction
  (reap, restart, fork/exec) this holds the program's own run time: from its stamp to its
  exit, and from its exec to its stamp.  The floor column estimates that part, as context
  only: the same program run twice in a row by a shell, `sh -c 'date +%s%N; date +%s%N'`,
  second stamp minus first.  The target is checked on initsup's raw figure, program run
  time included: <= 5 ms.
- CPU while crash-looping: the supervisor's own CPU time (utime + stime from
  /proc/PID/stat, not its children's) over a window (full: 10 s, tiny: 1 s) that begins
  once the first restart has been seen, as a % of one CPU; with the number of restarts
  (stamps) in that window, since initsup's backoff restarts far less often.

Both supervisors run as children of the harness (`initsup -c FILE`, `supervisord -n -c
FILE`) and are stopped with SIGTERM at the end, so that they reap their own program.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from subprocess import DEVNULL

from bench.configs import config_command, write_config
from bench.core import Figure, Medians, Sample, Target, Tools, bound_target
from bench.proc import cpu_seconds, started, wait_for

WINDOW = {"full": 10.0, "tiny": 1.0}  # seconds of crash-looping the CPU figure covers
GAP_BOUND_MS = 5.0


class Crashloop:
    name = "crashloop"
    title = "Crash loop"
    figures = (
        Figure("gap", "first restart: exit to next stamp (raw)", "ms"),
        Figure("cpu", "supervisor CPU while crash-looping", "%"),
        Figure("restarts", "restarts in the CPU window", "count"),
    )
    runs = {"full": 10, "tiny": 1}

    def describe(self) -> str:
        return (
            "`date +%s%N` exiting at once, autorestart=true, startsecs=0: the first restart as "
            "the difference of two stamps (floor: `sh -c 'date; date'`, the program's own run "
            f"time), then the supervisor's CPU over {WINDOW['full']:g} s of crash-looping."
        )

    def systems(self, tools: Tools) -> list[str]:
        wanted = ["initsup", "supervisord", "floor"]
        return [s for s in wanted if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        if system == "floor":
            return [Sample("gap", "floor", floor_gap())]
        stamps = tools.scratch / f"{system}.stamps"
        stamps.unlink(missing_ok=True)
        program = {
            "command": "date +%%s%%N",  # %% for the INI's %-expansion, on both systems
            "startsecs": "0",
            "autorestart": "true",
            "stdout_logfile": str(stamps),
            "stderr_logfile": "NONE",
        }
        config = write_config(system, tools.scratch, {"crash": program})
        command = config_command(system, tools, config)
        window = WINDOW[size]
        with started(command, env=tools.env(), stdout=DEVNULL, stderr=DEVNULL) as proc:
            first = wait_for(
                lambda: _stamps(stamps, 2) or proc.poll() is not None,
                30,
                f"{system}: the program's first restart",
            )
            if proc.poll() is not None:
                raise RuntimeError(f"{system} exited ({proc.returncode}) before a restart")
            assert isinstance(first, list)
            before, began = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(window)
            used, elapsed = cpu_seconds(proc.pid) - before, time.monotonic() - began
            restarts = len(_stamps(stamps, 0)) - len(first)
            stop(proc, f"{system} to stop")
        gap_ms = (first[1] - first[0]) / 1e6
        return [
            Sample("gap", system, gap_ms),
            Sample("cpu", system, used / elapsed * 100),
            Sample("restarts", system, restarts),
        ]

    def targets(self, medians: Medians) -> list[Target]:
        return [bound_target("gap", medians, GAP_BOUND_MS, "ms")]  # raw: the floor not taken off


def floor_gap() -> float:
    """ms between two stamps of `date` run back to back by a shell."""
    result = subprocess.run(
        ["sh", "-c", "date +%s%N; date +%s%N"], stdout=subprocess.PIPE, check=True, timeout=30
    )
    first, second = (int(line) for line in result.stdout.split())
    return (second - first) / 1e6


def _stamps(path: Path, at_least: int) -> list[int]:
    """The complete stamps in path, if there are at least `at_least` of them."""
    try:
        lines = path.read_bytes().split(b"\n")[:-1]  # a line still being written is no stamp
    except FileNotFoundError:
        return []
    return [int(line) for line in lines] if len(lines) >= at_least else []


def stop(proc: subprocess.Popen[bytes], what: str) -> None:
    """SIGTERM the supervisor and wait for it, so that it reaps its own program."""
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"not within 30 s: {what}") from None


SCENARIO = Crashloop()
