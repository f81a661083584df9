"""Scenario 6, shutdown on SIGTERM.

- prompt programs: N programs (full 20, tiny 3) that exit on SIGTERM at once, each
  `sh -c 'echo >> READY; exec sleep 1000'`.  initsup and supervisord: one `[program:pNN]`
  section each, startsecs=0, output NONE, the same file for both.  tini (`tini -g -- sh -c
  ...`) and dumb-init (`dumb-init sh -c ...`, which signals the child's whole process group
  by default): one shell starts the same N programs in the background and waits, so the
  signal reaches all of them through the group.
- TERM-ignoring programs: M programs (full 5, tiny 2), each `sh -c "trap '' TERM; echo >>
  READY; exec sleep 1000"` in its own section with stopwaitsecs=2, on initsup and
  supervisord only (tini and dumb-init have no stop timeout).  The trap comes before the
  ready line, so a program counted as ready already ignores SIGTERM.

Every system runs as a child of the harness.  Once READY has one line per program, the
harness SIGTERMs the system and times it until it has exited (through a pidfd, so the
figure has no polling step).  Then it checks that no process of the run is left: every
descendant seen before the signal must be gone (or a zombie, reaped by the harness) within
5 s; one that is not is killed, and the run fails naming it.  The harness is a child
subreaper meanwhile, so that what a system leaves behind comes back to it rather than to
the machine's init.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import time
from collections.abc import Iterator
from subprocess import DEVNULL, Popen

from bench.configs import config_command, write_config
from bench.core import Figure, Medians, Sample, Target, Tools, bound_target
from bench.proc import check_gone, children, kill_tree, snapshot, started, wait_for

SIZES = {"full": (20, 5), "tiny": (3, 2)}  # (prompt programs, TERM-ignoring programs)
PROMPT = "sh -c 'echo >> {ready}; exec sleep 1000'"
STUBBORN = "sh -c \"trap '' TERM; echo >> {ready}; exec sleep 1000\""
STOPWAITSECS = 2
LEFT_BEHIND_GRACE = 5.0  # seconds a SIGTERMed leftover may take to die before it counts

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


class Shutdown:
    name = "shutdown"
    title = "Shutdown"
    figures = (
        Figure("prompt", "SIGTERM to exit, programs that exit at once", "ms"),
        Figure("stubborn", "SIGTERM to exit, programs that ignore TERM", "s"),
    )
    runs = {"full": 10, "tiny": 1}

    def describe(self) -> str:
        prompt, stubborn = SIZES["full"]
        return (
            f"SIGTERM to exit with {prompt} `sleep` programs that exit on TERM (initsup and "
            f"supervisord: one section each; tini -g and dumb-init: under one shell), and "
            f"with {stubborn} that ignore TERM (stopwaitsecs={STOPWAITSECS}); nothing may "
            "be left behind."
        )

    def systems(self, tools: Tools) -> list[str]:
        wanted = ["initsup", "supervisord", "tini", "dumb-init"]
        return [s for s in wanted if s not in tools.missing]

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        prompt, stubborn = SIZES[size]
        samples = [Sample("prompt", system, shut_down(system, tools, prompt, False) * 1000)]
        if system in ("initsup", "supervisord"):
            samples.append(Sample("stubborn", system, shut_down(system, tools, stubborn, True)))
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [
            bound_target("prompt", medians, 100, "ms"),
            bound_target("stubborn", medians, 2.3, "s"),
        ]


def shut_down(system: str, tools: Tools, count: int, ignore_term: bool) -> float:
    """Seconds from SIGTERM to the system's exit, with `count` programs running."""
    ready = tools.scratch / "ready"
    ready.write_bytes(b"")
    template = STUBBORN if ignore_term else PROMPT
    program = template.format(ready=ready)
    if system in ("initsup", "supervisord"):
        options = {
            "command": program,
            "startsecs": "0",
            "stdout_logfile": "NONE",
            "stderr_logfile": "NONE",
        }
        if ignore_term:
            options["stopwaitsecs"] = str(STOPWAITSECS)
        programs = {f"p{number:02d}": options for number in range(1, count + 1)}
        command = config_command(system, tools, write_config(system, tools.scratch, programs))
    else:
        # `program &` count times, then wait: the shell and the sleeps share one group.
        script = f"for i in $(seq {count}); do {program} & done; wait"
        if system == "tini":
            command = [str(tools.tini), "-g", "--", "sh", "-c", script]
        else:
            command = [str(tools.dumb_init), "sh", "-c", script]
    with adopting(), started(command, env=tools.env(), stdout=DEVNULL, stderr=DEVNULL) as proc:
        wait_for(
            lambda: ready.read_bytes().count(b"\n") >= count or proc.poll() is not None,
            30,
            f"{system}: {count} programs to be ready",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"{system} exited ({proc.returncode}) before its programs ran")
        tree = snapshot(proc.pid)
        seconds = _terminate(proc, timeout=30 + STOPWAITSECS * count)
        # Leftovers are killed there; adopted by the harness, adopting() reaps them.
        check_gone(tree, system, LEFT_BEHIND_GRACE)
        return seconds


def _terminate(proc: Popen[bytes], timeout: float) -> float:
    """SIGTERM proc; seconds until it has exited; then reap it."""
    pidfd = os.pidfd_open(proc.pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        began = time.perf_counter()
        os.kill(proc.pid, signal.SIGTERM)
        if not poller.poll(timeout * 1000):
            raise TimeoutError(f"not within {timeout} s: pid {proc.pid} to exit on SIGTERM")
        seconds = time.perf_counter() - began
    finally:
        os.close(pidfd)
    proc.wait(timeout=30)
    return seconds


@contextlib.contextmanager
def adopting() -> Iterator[None]:
    """The harness is a child subreaper for the block; afterwards every process it adopted
    meanwhile is killed and reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    before = ctypes.c_int(0)
    libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(before), 0, 0, 0)
    mine = set(children(os.getpid()))
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, before.value, 0, 0, 0)
        for pid in set(children(os.getpid())) - mine:
            kill_tree(pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


SCENARIO = Shutdown()
