"""Scenario 4, reaping an orphan storm as PID 1.

Every system runs as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`),
with the same measuring child under it (`python reap_child.py N RESULT TIMEOUT`, written
to the scratch directory):

- The child forks a middle process, which forks N grandchildren that exit at once; the
  middle waits until every grandchild is a zombie, sends their pids to the child and exits.
  The kernel then hands all N zombies to PID 1 at once (one SIGCHLD each).
- The child reaps the middle itself; from that moment it polls /proc until none of the N
  pids is left (zombie or alive), and writes the elapsed milliseconds to RESULT.  It checks
  only the oldest and newest pids it still waits for, so its polling stays cheap and does
  not take the CPU the system under test needs.
- It also writes how much CPU time PID 1 used over the same interval (the first field of
  /proc/1/schedstat, in ns): the system's own work, without the time it spent waiting
  for a CPU, which on a busy machine makes most of the spread of the elapsed figure.

Setups: `initsup -- python reap_child.py ...`, `tini -- ...`, `dumb-init ...` (all three
exit with the child); supervisord with the child as its one `[program]` (startsecs=0,
autorestart=false, output NONE), stopped by the harness once RESULT is written.
supervisord reaps at most 100 children per pass of its main loop, and a pass comes once a
second when nothing else wakes it, so a storm of N takes about N/100 s: it gets fewer runs
(the same N).  floor: a bare Python PID 1 that only loops on a blocking `waitpid(-1)`
until the child is reaped: the least a Python init can do.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from subprocess import DEVNULL

from bench.configs import write_config
from bench.core import Figure, Medians, Sample, Target, Tools, ratio_target
from bench.proc import started, wait_for

SIZES = {"full": 5000, "tiny": 50}
# supervisord's storm of 5,000 takes ~50 s: a few runs give a stable enough median.
SUPERVISORD_RUNS = {"full": 3, "tiny": 1}

CHILD = '''\
"""Make N zombies re-parented to PID 1 at once; write ms until all are gone to RESULT."""
import os
import sys
import time
from collections import deque

count, result, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return ""


def pid1_cpu_ns():
    """PID 1's time on a CPU so far (ns), or -1 where the kernel keeps no schedstat."""
    try:
        with open("/proc/1/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return -1


def report(text):
    with open(result + ".tmp", "w") as f:
        f.write(text)
    os.rename(result + ".tmp", result)  # the harness never sees half a result


read_end, write_end = os.pipe()
middle = os.fork()
if middle == 0:
    os.close(read_end)
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        pids.append(pid)
    # Only zombies: so that the figure is PID 1 reaping N exited processes handed over at
    # once, not the grandchildren's own exit.
    deadline = time.monotonic() + timeout
    pending = pids
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if state(p) != "Z"]
        if pending:
            time.sleep(0.001)
    os.write(write_end, b" ".join(str(p).encode() for p in pids))
    os._exit(1 if pending else 0)
os.close(write_end)
chunks = []
while True:
    chunk = os.read(read_end, 65536)
    if not chunk:
        break
    chunks.append(chunk)
_, status = os.waitpid(middle, 0)
began = time.perf_counter()
cpu_before = pid1_cpu_ns()
if status != 0:
    report("error: the grandchildren did not all exit")
    sys.exit(1)
# Reaped oldest first by every system here (waitpid(-1) walks the children in the order the
# kernel re-parented them): dropping gone pids from both ends checks each pid about once.
pending = deque(int(p) for p in b"".join(chunks).split())
deadline = began + timeout
while pending:
    while pending and not os.path.exists(f"/proc/{pending[0]}"):
        pending.popleft()
    while pending and not os.path.exists(f"/proc/{pending[-1]}"):
        pending.pop()
    if not pending:
        break
    if time.perf_counter() > deadline:
        report(f"error: {len(pending)} of {count} still there after {timeout} s")
        sys.exit(1)
    time.sleep(0.0005)
elapsed = time.perf_counter() - began
cpu_after = pid1_cpu_ns()
cpu = (cpu_after - cpu_before) / 1e6 if cpu_before >= 0 and cpu_after >= 0 else -1
report(f"{elapsed * 1000:.3f} {cpu:.3f}")
'''

# PID 1 with nothing but a reaping loop.
FLOOR = """\
import os, sys
child = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
while True:
    pid, status = os.waitpid(-1, 0)
    if pid == child:
        sys.exit(os.waitstatus_to_exitcode(status))
"""


class Reap:
    name = "reap"
    title = "Reaping"
    figures = (
        Figure("reap", "orphan storm: until no zombie is left", "ms"),
        Figure("reap_cpu", "orphan storm: PID 1's CPU time meanwhile", "ms"),
    )
    runs = {"full": 20, "tiny": 1}  # the elapsed figure spreads widely on a busy machine

    def __init__(self) -> None:
        self._supervisord_runs = 0

    def describe(self) -> str:
        return (
            f"as PID 1 of a fresh PID namespace, {SIZES['full']:,} zombies are re-parented at "
            "once; from then until none is left, timed by the child that made them "
            f"(supervisord: {SUPERVISORD_RUNS['full']} runs; floor: a bare Python "
            "waitpid(-1) loop as PID 1)."
        )

    def systems(self, tools: Tools) -> list[str]:
        if tools.unshare is None:
            return []  # needs root and unshare: a PID namespace of our own
        # The runner calls systems() once per scenario run: the count of supervisord's runs
        # starts again here.
        self._supervisord_runs = 0
        wanted = ["initsup", "supervisord", "tini", "dumb-init", "floor"]
        return [s for s in wanted if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        if system == "supervisord":
            if self._supervisord_runs >= SUPERVISORD_RUNS[size]:
                return []
            self._supervisord_runs += 1
        count = SIZES[size]
        timeout = 60 + count / 50  # supervisord's N/100 s, twice over, and then some
        child = tools.scratch / "reap_child.py"
        child.write_text(CHILD)
        result = tools.scratch / f"{system}.result"
        result.unlink(missing_ok=True)
        command = [tools.python, str(child), str(count), str(result), str(timeout)]
        assert tools.unshare is not None
        namespace = [tools.unshare, "--pid", "--fork", "--mount-proc"]
        if system == "supervisord":
            program = {
                "command": " ".join(command),
                "startsecs": "0",
                "autorestart": "false",
                "stdout_logfile": "NONE",
                "stderr_logfile": "NONE",
            }
            config = write_config(system, tools.scratch, {"reap": program})
            namespace += tools.supervisord_command(config)
        elif system == "initsup":
            namespace += tools.initsup("--", *command)
        elif system == "tini":
            namespace += [str(tools.tini), "--", *command]
        elif system == "dumb-init":
            namespace += [str(tools.dumb_init), *command]
        else:
            floor = tools.scratch / "reap_floor.py"
            floor.write_text(FLOOR)
            namespace += [tools.python, str(floor), *command]
        with started(namespace, env=tools.env(), stdout=DEVNULL, stderr=DEVNULL) as proc:
            wait_for(
                lambda: result.exists() or proc.poll() is not None,
                timeout + 30,
                f"{system}: the reap child's result",
                interval=0.05,
            )
            if system != "supervisord":
                # The other systems end with their child: their exit code must be the child's.
                try:
                    code = proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    what = f"{system} to exit after its child"
                    raise TimeoutError(f"not within 30 s: {what}") from None
                assert code == 0, (system, code, _read(result))
        text = _read(result)
        if not text or text.startswith("error"):
            raise RuntimeError(f"{system}: the reap child failed: {text or 'no result'}")
        elapsed, cpu = (float(word) for word in text.split())
        samples = [Sample("reap", system, elapsed)]
        if cpu >= 0:
            samples.append(Sample("reap_cpu", system, cpu))
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [ratio_target("reap", medians, "tini", 1.3, "tini")]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


SCENARIO = Reap()
