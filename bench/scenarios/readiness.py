"""Scenario 11, readiness: start order gated on readiness, and what health checks cost.

A chain of 10 programs (tiny: 3), p0 ... p9, each started only once the one before is
ready, each ready after its own delay; from just before the system is spawned until the
last one is RUNNING (or has said READY=1).  The overhead per hop is that time minus the sum
of the delays, over the number of programs: what the system adds to each link, its own
start-up shared among them.

- the plugin's file: supervisord-dependent-startup's keys, unchanged, as its users write
  them: `[eventlistener:dependentstartup]` running `python -m
  supervisord_dependent_startup -c FILE` on PROCESS_STATE events (with the
  `[unix_http_server]` and `[rpcinterface:supervisor]` it calls back through), and programs
  `sleep 1000.NNN` with autostart=false, dependent_startup=true,
  dependent_startup_wait_for=p(N-1):running and startsecs=1 (supervisord's startsecs is
  whole seconds; the delay of a hop).  supervisord runs it with the plugin from PyPI
  (`supervisord -n -c FILE`, ready at `success: p9 entered RUNNING state` in its logfile,
  polled every 2 ms); initsup reads the same file (it starts the programs itself and does
  not run the plugin), ready at p9's PROCESS_STATE_RUNNING record on its stdout.
- depends_on= (initsup only): depends_on=p(N-1), startsecs=0.2.
- notify=true (initsup only): `python tests/bin/notify-ready 0.2`, startsecs=0,
  depends_on=p(N-1): ready at READY=1 on NOTIFY_SOCKET, the last at its PROCESS_READY
  record.  The delay counted is the 0.2 s sleep: each hop also holds the Python start of
  notify-ready, the program's own time, not initsup's.

Checks' cost (initsup only): 100 programs (tiny: 10) `sleep 1000.NNN`, startsecs=0, each
with `healthcheck=true` and healthcheck_interval=1, and beside them the same programs
without checks; once all are RUNNING and a settling pause has passed (the checks' quick
first runs are over), initsup is watched for a window (full 20 s, tiny 0.5 s): the CPU
seconds per minute of initsup and of its reaped children (the checks), utime + stime and
cutime + cstime from /proc/PID/stat, together and initsup's own alone.  The checked run
is left out when the initsup measured has no command checks (initsup/health/probes.py).

Every process of a run is killed and reaped afterwards, and none may be left (found by
the run's marker in its command line).
"""

from __future__ import annotations

import calendar
import json
import random
import subprocess
import time
from pathlib import Path
from typing import IO

from bench.configs import Options, write_config
from bench.core import Figure, Medians, Sample, Target, Tools, bound_target
from bench.proc import TICK, check_gone, marked, snapshot, started, stat_fields
from bench.supervised import Drain, LogCount, Supervised

CHAIN = {"full": 10, "tiny": 3}
CHECKED = {"full": 100, "tiny": 10}
WINDOW = {"full": 20.0, "tiny": 0.5}
SETTLE = {"full": 2.0, "tiny": 0.5}
PLUGIN_DELAY = 1.0  # startsecs=1: supervisord's shortest non-zero startsecs
DELAY = 0.2
HOP_TARGET_MS = 5.0
TIMEOUT = 120.0  # seconds a chain may take (supervisord: about 2 s a hop)
PLUGIN = "supervisord_dependent_startup"


class Readiness:
    name = "readiness"
    title = "Readiness"
    figures = (
        Figure("plugin", "chain of 10, the plugin's keys (startsecs=1): the last RUNNING", "ms"),
        Figure("plugin_hop", "the same, overhead per hop", "ms"),
        Figure("plugin_link", "the same, per hop after the first spawn", "ms"),
        Figure("depends", "chain of 10, depends_on= (startsecs=0.2): the last RUNNING", "ms"),
        Figure("depends_hop", "the same, overhead per hop", "ms"),
        Figure("depends_link", "the same, per hop after the first spawn", "ms"),
        Figure("notify", "chain of 10, notify=true (READY=1 after 0.2 s): the last ready", "ms"),
        Figure("notify_hop", "the same, overhead per hop (with the program's Python start)", "ms"),
        Figure("notify_link", "the same, per hop after the first spawn", "ms"),
        Figure("checks_cpu", "100 programs, 1 s command checks: CPU, own + checks'", "s/min"),
        Figure("checks_own", "the same, initsup's own CPU", "s/min"),
        Figure("idle_cpu", "the same 100 programs without checks: CPU", "s/min"),
    )
    runs = {"full": 3, "tiny": 1}

    def describe(self) -> str:
        return (
            f"A chain of {CHAIN['full']} programs, each started once the one before is ready: "
            "launch until the last is RUNNING (supervisord: with supervisord-dependent-startup; "
            "initsup: the plugin's file unchanged, depends_on=, notify=true), and the overhead "
            f"per hop beyond the delays; {CHECKED['full']} programs with 1 s command checks: "
            "initsup's CPU (its own and its checks') against the same programs unchecked."
        )

    def systems(self, tools: Tools) -> list[str]:
        found = ["initsup"]
        if "supervisord" not in tools.missing and _imports(tools.python, PLUGIN):
            found.append("supervisord")
        return found

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        count = CHAIN[size]
        total = chain(system, plugin_programs(count), tools, plugin=True)
        samples = _chain_samples("plugin", system, total, count, PLUGIN_DELAY)
        if system != "initsup":
            return samples
        total = chain(system, depends_programs(count), tools)
        samples += _chain_samples("depends", system, total, count, DELAY)
        total = chain(system, notify_programs(count, tools), tools, ready="PROCESS_READY")
        samples += _chain_samples("notify", system, total, count, DELAY)
        if has_checks(tools):
            own, checks = checks_cpu(size, tools, checked=True)
            samples += [
                Sample("checks_cpu", system, own + checks),
                Sample("checks_own", system, own),
            ]
        samples.append(Sample("idle_cpu", system, sum(checks_cpu(size, tools, checked=False))))
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [
            bound_target("plugin_hop", medians, HOP_TARGET_MS, "ms"),
            bound_target("depends_hop", medians, HOP_TARGET_MS, "ms"),
        ]


def _chain_samples(key: str, system: str, timing: Timing, count: int, delay: float) -> list[Sample]:
    """The total, its overhead per hop, and the same once the first program runs (the
    system's own start-up aside: count programs, count - 1 links between them)."""
    links = max(1, count - 1)
    return [
        Sample(key, system, timing.total * 1000),
        Sample(f"{key}_hop", system, (timing.total - count * delay) * 1000 / count),
        Sample(f"{key}_link", system, (timing.inner - count * delay) * 1000 / links),
    ]


def _imports(python: str, module: str) -> bool:
    done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=60)
    return done.returncode == 0


def has_checks(tools: Tools) -> bool:
    """Whether the initsup measured runs command checks (health/probes.py is there)."""
    return (tools.root / "initsup" / "health" / "probes.py").exists()


def marker() -> str:
    """A number unique to the run, in every program's command line."""
    return f"1000.{random.randrange(10**8, 10**9)}"


# -- the chains --------------------------------------------------------------------------


def plugin_programs(count: int) -> dict[str, Options]:
    programs = {}
    for n in range(count):
        options = {"autostart": "false", "startsecs": "1", "dependent_startup": "true"}
        if n:
            options["dependent_startup_wait_for"] = f"p{n - 1}:running"
        programs[f"p{n}"] = options
    return programs


def depends_programs(count: int) -> dict[str, Options]:
    programs = {}
    for n in range(count):
        programs[f"p{n}"] = {"startsecs": str(DELAY)}
        if n:
            programs[f"p{n}"]["depends_on"] = f"p{n - 1}"
    return programs


def notify_programs(count: int, tools: Tools) -> dict[str, Options]:
    programs = depends_programs(count)
    notify_ready = tools.root / "tests" / "bin" / "notify-ready"
    for options in programs.values():
        options.update(notify="true", startsecs="0")
        options["command"] = f"{tools.python} {notify_ready} {DELAY} {{marker}}"
    return programs


class Timing:
    """One chain's run: seconds from the spawn of the system until the last program was
    ready, and from the first program's spawn until then (by the system's own clock)."""

    def __init__(self, total: float, inner: float) -> None:
        self.total, self.inner = total, inner


def chain(
    system: str,
    programs: dict[str, Options],
    tools: Tools,
    plugin: bool = False,
    ready: str = "PROCESS_STATE_RUNNING",
) -> Timing:
    """Run one chain on system; when its last program was ready by the system's account."""
    run = marker()
    for options in programs.values():
        options["command"] = options.get("command", "sleep {marker}").format(marker=run)
    scratch = tools.scratch
    for leftover in ("supervisord.log", "supervisord.pid", "http.sock"):
        (scratch / leftover).unlink(missing_ok=True)
    more: dict[str, Options] = {}
    listeners: dict[str, Options] = {}
    if plugin:
        more = {
            "unix_http_server": {"file": str(scratch / "http.sock")},
            "rpcinterface:supervisor": {
                "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
            },
        }
        listeners["dependentstartup"] = {
            "command": f"{tools.python} -m {PLUGIN} -c {scratch / 'supervisord.conf'}",
            "autostart": "true",
            "autorestart": "unexpected",
            "startretries": "0",
            "exitcodes": "0,3",
            "events": "PROCESS_STATE",
        }
    # One file, named as supervisord's users name it, read by either system unchanged.
    config = write_config(
        "supervisord", scratch, programs, listeners, {"loglevel": "info"}, shared=True, more=more
    )
    names = list(programs)
    first, last = names[0], names[-1]
    if system == "initsup":
        marks = (
            f'"event":"PROCESS_STATE_STARTING","logger":"initsup","program":"{first}"',
            f'"event":"{ready}","logger":"initsup","program":"{last}"',
        )
        command = tools.initsup("-c", str(config))
    else:
        marks = (f"spawned: '{first}' with pid", f"success: {last} entered RUNNING")
        command = tools.supervisord_command(config)
    return _timed(system, command, tools, run, marks)


def _timed(
    system: str, command: list[str], tools: Tools, run: str, marks: tuple[str, str]
) -> Timing:
    """Start command: seconds until the line holding marks[1] (on initsup's stdout, in
    supervisord's logfile), and between the lines holding marks[0] and marks[1]."""
    began = time.perf_counter()
    with started(
        command,
        env=tools.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as proc:
        assert proc.stdout is not None
        logfile = None if system == "initsup" else tools.scratch / "supervisord.log"
        lines = Lines(proc.stdout, marks)
        reached = lines.wait(proc, logfile, TIMEOUT)
        tree = {**marked(run), **snapshot(proc.pid)}
    try:
        check_gone(tree, f"{system}, {run!r}")
    finally:
        lines.join(10)
    if reached is None:
        raise TimeoutError(f"{system}: the chain's last program not ready; {lines.tail()!r}")
    return Timing(reached - began, lines.between(logfile))


class Lines(Drain):
    """A child's stdout drained on a thread, keeping the first line holding each mark."""

    def __init__(self, stream: IO[bytes], marks: tuple[str, str]) -> None:
        self.marks = [mark.encode() for mark in marks]
        self.found: dict[bytes, bytes] = {}
        super().__init__(stream, self.marks[1], 1)

    def _run(self) -> None:
        for line in self._stream:
            for mark in self.marks:
                if mark in line and mark not in self.found:
                    self.found[mark] = line
            self.last.append(line)
            if self.marks[1] in line and self.reached_at is None:
                self.reached_at = time.perf_counter()
                self.done.set()
        self.done.set()

    def wait(
        self, proc: subprocess.Popen[bytes], logfile: Path | None, timeout: float
    ) -> float | None:
        """perf_counter() when the last mark was seen (polling the logfile every 2 ms
        when there is one), None when not within timeout."""
        if logfile is None:
            self.done.wait(timeout)
            return self.reached_at
        log = LogCount(logfile, self.marks[1])
        deadline = time.monotonic() + timeout
        while log.poll() < 1:
            if proc.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.002)
        return time.perf_counter()

    def between(self, logfile: Path | None) -> float:
        """Seconds between the two marked lines, by their own timestamps."""
        if logfile is None:
            first, last = (json.loads(self.found[mark])["timestamp"] for mark in self.marks)
            return _rfc3339(last) - _rfc3339(first)
        text = logfile.read_bytes().splitlines()
        first, last = (next(line for line in text if mark in line) for mark in self.marks)
        return _logged(last) - _logged(first)


def _rfc3339(stamp: str) -> float:
    """initsup's record timestamp (2026-12-06T04:55:09.325223Z) as epoch seconds."""
    whole = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    return whole + float(stamp[19:-1])


def _logged(line: bytes) -> float:
    """supervisord's logfile line (2026-12-06 04:55:09,325 INFO ...) as seconds (local)."""
    text = line[:23].decode()
    return time.mktime(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")) + int(text[20:23]) / 1000


# -- the checks' cost --------------------------------------------------------------------


def checks_cpu(size: str, tools: Tools, checked: bool) -> tuple[float, float]:
    """initsup's CPU seconds per minute, its own and its reaped children's (the checks),
    while its programs run and, when checked, each is checked every second."""
    count, run = CHECKED[size], marker()
    programs: dict[str, Options] = {}
    for n in range(count):
        programs[f"p{n}"] = {"command": f"sleep {run}", "startsecs": "0"}
        if checked:
            programs[f"p{n}"].update(healthcheck="true", healthcheck_interval="1")
    config = write_config("initsup", tools.scratch, programs)
    command = tools.initsup("-c", str(config))
    with Supervised("initsup", command, tools, count, f"sleep {run}") as supervised:
        supervised.wait_running(60.0)
        time.sleep(SETTLE[size])
        pid = supervised.proc.pid
        own, children, began = *_cpu(pid), time.monotonic()
        time.sleep(WINDOW[size])
        own_now, children_now = _cpu(pid)
        elapsed = time.monotonic() - began
    per_minute = 60 / elapsed
    return (own_now - own) * per_minute, (children_now - children) * per_minute


def _cpu(pid: int) -> tuple[float, float]:
    """Seconds of CPU of pid (utime + stime) and of its reaped children (cutime + cstime)."""
    fields = [int(value) for value in stat_fields(pid)[11:15]]
    return (fields[0] + fields[1]) / TICK, (fields[2] + fields[3]) / TICK


SCENARIO = Readiness()
