"""Scenario 1, start-up.

- `-- /bin/true` until reaped: `initsup -- /bin/true` (the command pip installed),
  `tini -s -- /bin/true`, `dumb-init /bin/true`; floor: `python3 -c pass`, the interpreter
  initsup runs on.  Also initsup as the single file scripts/build_pyz.py makes, run as an
  image runs it (`initsup.pyz -- /bin/true`: its sh line starts the `python3` on PATH,
  here the same interpreter), against the same floor.  Five of these in a row per system
  per run (one at the tiny size).
- launch until a program has run: a config of one program, `sh -c 'echo > FIFO'`, with
  startsecs=0 and autorestart=false, from the system's start until the FIFO has data:
  `initsup -c FILE`, `supervisord -n -c FILE` (for supervisord also the program's
  stdout_logfile=NONE; its stderr goes to an AUTO log file in the scratch directory).
"""

from __future__ import annotations

import os
import select
import time
from subprocess import DEVNULL

from bench.configs import config_command, write_config
from bench.core import Figure, Medians, Sample, Target, Tools, bound_target, ratio_target
from bench.proc import spawn_wait, started

PROGRAM = "sh -c 'echo ran > {fifo}'"
# `-- /bin/true` samples per system per run: each takes milliseconds, and from one run to
# the next this machine's start-up times spread from 9 to 19 ms.
REPEATS = {"full": 5, "tiny": 1}


class Startup:
    name = "startup"
    title = "Start-up"
    figures = (
        Figure("true", "`-- /bin/true` to exit", "ms"),
        Figure("true_pyz", "`-- /bin/true` to exit, initsup.pyz", "ms"),
        Figure("launch", "launch until a program has run", "ms"),
    )
    runs = {"full": 30, "tiny": 1}

    def describe(self) -> str:
        return (
            "`-- /bin/true` from spawn to reaped (tini with -s, floor `python3 -c pass`); "
            "a one-program config from spawn until the program has written to a FIFO."
        )

    def systems(self, tools: Tools) -> list[str]:
        wanted = ["initsup", "supervisord", "tini", "dumb-init", "floor"]
        return [s for s in wanted if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        env = tools.env()
        commands = {
            "initsup": tools.initsup("--", "/bin/true"),
            "tini": [str(tools.tini), "-s", "--", "/bin/true"],
            "dumb-init": [str(tools.dumb_init), "/bin/true"],
            "floor": [tools.python, "-c", "pass"],
        }
        bindir = os.path.dirname(tools.python)  # where its python3 is, for initsup.pyz
        pyz_env = {**env, "PATH": bindir + os.pathsep + env.get("PATH", os.defpath)}
        samples = []
        for _ in range(REPEATS[size]):
            if system in commands:
                seconds, status = spawn_wait(commands[system], env)
                assert status == 0, (system, status)
                samples.append(Sample("true", system, seconds * 1000))
            if system == "floor":
                samples.append(Sample("true_pyz", system, seconds * 1000))
            if system == "initsup" and tools.pyz is not None:
                seconds, status = spawn_wait([tools.pyz, "--", "/bin/true"], pyz_env)
                assert status == 0, ("initsup.pyz", status)
                samples.append(Sample("true_pyz", system, seconds * 1000))
        if system in ("initsup", "supervisord"):
            samples.append(Sample("launch", system, launch(system, tools) * 1000))
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [
            ratio_target("true", medians, "floor", 1.3, "`python3 -c pass`"),
            bound_target("launch", medians, 50, "ms"),
        ]


def launch(system: str, tools: Tools) -> float:
    """Seconds from starting the supervisor until its one program has run."""
    fifo = tools.scratch / "ran.fifo"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    program = {"command": PROGRAM.format(fifo=fifo), "startsecs": "0", "autorestart": "false"}
    if system == "supervisord":
        program["stdout_logfile"] = "NONE"
    config = write_config(system, tools.scratch, {"probe": program})
    command = config_command(system, tools, config)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(reader, select.POLLIN)
        began = time.perf_counter()
        with started(command, env=tools.env(), stdout=DEVNULL, stderr=DEVNULL):
            if not poller.poll(30_000):
                raise TimeoutError(f"{system}: the program did not run within 30 s")
            return time.perf_counter() - began
    finally:
        os.close(reader)


SCENARIO = Startup()
