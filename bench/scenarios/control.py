"""Scenario 10, control: supervisorctl's surface with a thousand programs.

1,000 programs (tiny: 10) of `sleep`, startsecs=0, as in the scale scenario, plus a
`[unix_http_server]` on a socket in the scratch directory, `[supervisorctl] serverurl=`
pointing at it, and (for supervisord) `[rpcinterface:supervisor]`.  Once every program is
RUNNING:

- `status`: the wall time of the system's own client printing the status of all 1,000:
  `initsup ctl status` (its socket given by INITSUP_SOCKET) against initsup,
  `supervisorctl -c FILE status` against supervisord; spawned with posix_spawn, stdout to
  /dev/null, until reaped, on the bench's interpreter.  Three invocations per run.
- `supervisorctl`: the same `supervisorctl -c FILE status` against both: the one client,
  so the difference is the server's.
- `calls`: XML-RPC `supervisor.getAllProcessInfo()` calls per second for 2 s, one client
  (xmlrpc.client.ServerProxy over supervisor.xmlrpc.SupervisorTransport: supervisorctl's
  own transport, keep-alive) in a process of its own; every answer must list all programs.

Targets (the issue's): initsup ctl status <= 0.2x supervisorctl's wall time against
supervisord; getAllProcessInfo calls per second >= 5x supervisord's.
"""

from __future__ import annotations

import os
import subprocess

from bench.core import Figure, Medians, Sample, Target, Tools, ratio_target
from bench.proc import spawn_wait
from bench.supervised import Supervised, supervisor_command, unique_sleep

PROGRAMS = {"full": 1000, "tiny": 10}
READY_TIMEOUT = {"full": 180.0, "tiny": 30.0}
INVOCATIONS = 3
CALL_SECONDS = {"full": 2.0, "tiny": 0.2}

# Runs in a process of its own: argv is the socket, the seconds to call for.
CALLER = """
import sys, time, xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
transport = SupervisorTransport(None, None, "unix://" + sys.argv[1])
proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
count = len(proxy.supervisor.getAllProcessInfo())
calls, began = 0, time.perf_counter()
while True:
    assert len(proxy.supervisor.getAllProcessInfo()) == count
    calls += 1
    elapsed = time.perf_counter() - began
    if elapsed >= float(sys.argv[2]) and calls >= 3:
        break
print(count, calls / elapsed)
"""


class Control:
    name = "control"
    title = "Control"
    figures = (
        Figure("status", "own client's `status`, 1,000 programs", "ms"),
        Figure("supervisorctl", "`supervisorctl status`, 1,000 programs", "ms"),
        Figure("calls", "XML-RPC getAllProcessInfo, 1,000 programs", "calls/s", False),
    )
    runs = {"full": 3, "tiny": 1}

    def describe(self) -> str:
        return (
            f"{PROGRAMS['full']:,} RUNNING `sleep` programs behind a `[unix_http_server]`: "
            "`initsup ctl status` and `supervisorctl status` wall time (3 per run), and "
            "XML-RPC getAllProcessInfo calls per second over supervisorctl's transport."
        )

    def systems(self, tools: Tools) -> list[str]:
        return [s for s in ("initsup", "supervisord") if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        programs = PROGRAMS[size]
        socket = tools.scratch / "http.sock"
        more = {
            "unix_http_server": {"file": str(socket)},
            "supervisorctl": {"serverurl": f"unix://{socket}"},
            "rpcinterface:supervisor": {
                "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
            },
        }
        marker = unique_sleep()
        command = supervisor_command(system, tools, marker, programs, more)
        config = command[-1]
        supervisorctl = [tools.python, "-m", "supervisor.supervisorctl", "-c", config, "status"]
        own = tools.initsup("ctl", "status") if system == "initsup" else supervisorctl
        env = tools.env(INITSUP_SOCKET=str(socket))
        samples = []
        with Supervised(system, command, tools, programs, marker) as run:
            run.wait_running(READY_TIMEOUT[size])
            for _ in range(INVOCATIONS):
                samples.append(Sample("status", system, _wall_ms(own, env)))
                samples.append(Sample("supervisorctl", system, _wall_ms(supervisorctl, env)))
            samples.append(Sample("calls", system, _calls(tools, str(socket), programs, size)))
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [
            ratio_target("status", medians, "supervisord", 0.2, "supervisorctl"),
            _at_least("calls", medians, "supervisord", 5.0),
        ]


def _wall_ms(argv: list[str], env: dict[str, str]) -> float:
    seconds, status = spawn_wait(argv, env)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv[-3:])}: exit status {status}")
    return seconds * 1000


def _calls(tools: Tools, socket: str, programs: int, size: str) -> float:
    argv = [tools.python, "-c", CALLER, socket, str(CALL_SECONDS[size])]
    done = subprocess.run(argv, env=tools.env(), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"getAllProcessInfo caller failed: {done.stderr.strip()[-500:]}")
    count, rate = done.stdout.split()
    if int(count) != programs:
        raise RuntimeError(f"getAllProcessInfo listed {count} of {programs} programs")
    return float(rate)


def _at_least(figure: str, medians: Medians, reference: str, factor: float) -> Target:
    """initsup >= factor x reference (higher is better)."""
    mine, theirs = medians.get(figure, "initsup"), medians.get(figure, reference)
    text = f">= {factor:g}x {reference}"
    if mine is None or theirs is None:
        return Target(figure, text, False, f"{reference} not measured")
    return Target(figure, text, mine >= factor * theirs, f"{mine / theirs:.2f}x {reference}")


SCENARIO = Control()
