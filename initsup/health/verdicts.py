"""Live, ready and started: the verdicts on one process, and which processes are watched.

Kubernetes asks three questions of a container (livenessProbe, readinessProbe,
startupProbe), and `initsup ctl health --live | --ready | --startup`, /livez, /readyz and
/startupz answer them per program from the same functions here, so the HTTP endpoints and
the exec probes can never disagree.  Each is a pure function of a Process and its
`facts` (initsup.health.facts): no clock, no I/O, nothing kept.

Liveness is not readiness: a program that is starting, backing off or restarting is live
(restarting the container would not help it); only FATAL, or a failed health check past
its retries, is not.  A program *done* (it exited as expected and nothing restarts it, a
`migrate` step) counts as live, ready and started: it did its job.
"""

from __future__ import annotations

from initsup.states import ProcessState

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from initsup.process import Process

    # (good, why not: "" when good)
    Verdict = tuple[bool, str]

S = ProcessState
ALIVE = (S.STARTING, S.RUNNING)
OK: Verdict = (True, "")


def done(process: Process) -> bool:
    """EXITED with an expected exit code, and no restart coming: its job is done."""
    return (
        process.state == S.EXITED
        and process.ended_for_good
        and process.exitstatus in process.config.exitcodes
    )


def live(process: Process) -> Verdict:
    """Not FATAL, and not unhealthy (its check failed `retries` times in a row)."""
    if process.state == S.FATAL:
        return False, "FATAL"
    facts = process.facts
    if facts is not None and facts.healthy is False:
        detail = facts.last.detail if facts.last is not None else "check failed"
        return False, f"unhealthy: {detail} ({facts.failures} failed checks)"
    return OK


def ready(process: Process) -> Verdict:
    """Done, or alive and ready now: its check passed (or READY=1 came), or, with no
    facts to go by, RUNNING."""
    if done(process):
        return OK
    facts = process.facts
    if facts is None:
        return OK if process.state == S.RUNNING else (False, _not_ready(process))
    if facts.ready and process.state in ALIVE:
        return OK
    return False, _not_ready(process)


def started(process: Process) -> Verdict:
    """Done, or ready at least once since initsup started it, later restarts or not
    (startupProbe's question: once true, Kubernetes stops asking)."""
    if done(process):
        return OK
    facts = process.facts
    if facts is not None:
        return OK if facts.ever_ready else (False, _not_ready(process))
    if process.state == S.RUNNING or process.running_at > 0:  # RUNNING once: started
        return OK
    return False, _not_ready(process)


def _not_ready(process: Process) -> str:
    """Why a process is not ready, in a few words: "waiting for db (not ready: HTTP
    503)", "STARTING, not ready: HTTP 503", "BACKOFF", "EXITED (exit status 1)"."""
    facts = process.facts
    state = process.state
    if facts is not None and facts.waiting_for:
        return "waiting for " + ", ".join(facts.waiting_for)
    if state not in ALIVE:
        if state == S.EXITED:
            return f"EXITED (exit status {process.exitstatus})"
        return state.name
    last = facts.last if facts is not None else None
    if last is not None and not last.ok:
        return f"{state.name}, not ready: {last.detail}"
    return f"{state.name}, not ready"


def watched(processes: Iterable[Process]) -> list[Process]:
    """The processes the container's verdicts are about: the essential ones, or with
    none marked essential, every autostart one (as `initsup ctl health` always did)."""
    every = list(processes)
    return [p for p in every if p.config.essential] or [p for p in every if p.config.autostart]


# Each question by the name the endpoints and `ctl health`'s flags give it.
QUESTIONS: dict[str, Callable[[Process], Verdict]] = {
    "live": live,
    "ready": ready,
    "started": started,
}
