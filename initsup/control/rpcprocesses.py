"""supervisord's start, stop and signal methods (one process, a group, all) over the
control API, with supervisord's names, faults and group answers.

Names are read as supervisord reads them (`split_namespec`): NAME is group NAME's
process NAME, GROUP:NAME one process, GROUP:* or GROUP: the group; nothing else (no
`all`, no lookup of a process by its name alone, which `initsup ctl` allows).  A group
answer lists only the processes the request concerned (a group start skips those
already running), as supervisord's does.
"""

from __future__ import annotations

from initsup.control import api
from initsup.control.rpcbase import Fault, Later, group_result, once
from initsup.states import RUNNING_STATES, SIGNALLABLE_STATES, ProcessState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.control.api import Host, Result
    from initsup.control.rpcbase import Finish
    from initsup.process import Process

NOT_FOUND = 127  # a SpawnFailed's exit code when the command does not exist


def lookup(host: Host, name: str) -> tuple[str, Process | None]:
    """(group name, the process, or None for GROUP:* and GROUP:); BAD_NAME for none."""
    group, colon, process = name.partition(":")
    if not colon:
        process = name
    if group not in host.groups:
        raise Fault("BAD_NAME", name)
    if colon and process in ("", "*"):
        return group, None
    found = host.processes.get(f"{group}:{process}")
    if found is None:
        raise Fault("BAD_NAME", name)
    return group, found


def in_priority_order(host: Host, group: str | None = None) -> list[Process]:
    """Every process (or a group's), by group priority, then process priority: the order
    supervisord acts on for GROUP:* and the All methods."""
    members: dict[str, list[Process]] = {}
    for process in host.processes.values():
        members.setdefault(process.group, []).append(process)
    by_priority = sorted(host.groups, key=lambda g: host.groups[g].priority)
    names = by_priority if group is None else [group]
    ordered = []
    for name in names:
        ordered.extend(sorted(members.get(name, []), key=lambda p: p.config.priority))
    return ordered


def each(processes: list[Process], one: Callable[[Process], Any]) -> Any:
    """one(p) for every process, as a group answer: a list of results, or a Later that
    gives it once every process's answer has come."""
    results: list[dict[str, Any]] = []
    pending: list[tuple[Process, Later]] = []
    for process in processes:
        try:
            outcome = one(process)
        except Fault as fault:
            outcome = fault
        if isinstance(outcome, Later):
            pending.append((process, outcome))
        else:
            results.append(group_result(process, outcome))
    if not pending:
        return results

    def run(finish: Finish) -> None:
        left = [len(pending)]
        waited: dict[int, dict[str, Any]] = {}
        position = {id(p): i for i, p in enumerate(processes)}

        def member(process: Process) -> Finish:
            def answered(outcome: Any) -> None:
                waited[position[id(process)]] = group_result(process, outcome)
                left[0] -= 1
                if not left[0]:
                    # In the group's order, as supervisord's poll of its callbacks lists
                    # processes that settle together (a group stopped at once).
                    finish(results + [waited[i] for i in sorted(waited)])

            return once(answered)

        for process, later in pending:
            later.run(member(process))

    return Later(run)


# -- start -----------------------------------------------------------------------------


def start_process(host: Host, name: str, wait: bool = True) -> Any:
    """supervisor.startProcess: True once RUNNING (at once without wait)."""
    group, process = lookup(host, name)
    if process is None:
        return start_group(host, group, wait)
    return _start(host, process, wait, name)


def start_group(host: Host, name: str, wait: bool = True) -> Any:
    """supervisor.startProcessGroup: a result for each process that was not running."""
    if name not in host.groups:
        raise Fault("BAD_NAME", name)
    return _start_all(host, in_priority_order(host, name), wait)


def start_all(host: Host, wait: bool = True) -> Any:
    """supervisor.startAllProcesses."""
    return _start_all(host, in_priority_order(host), wait)


def _start_all(host: Host, processes: list[Process], wait: bool) -> Any:
    stopped = [p for p in processes if p.state not in RUNNING_STATES]
    return each(stopped, lambda p: _start(host, p, wait, api.namespec(p)))


def _start(host: Host, process: Process, wait: bool, name: str) -> Later:
    """Start process; faults name it `name`: as the client wrote it for one process, as
    supervisorctl does in a group's answer (supervisord's wording of both)."""
    if process.state in RUNNING_STATES:
        raise Fault("ALREADY_STARTED", name)
    if process.state == ProcessState.UNKNOWN:
        raise Fault("FAILED", f"{name} is in an unknown process state")
    unstartable = api.unstartable(process)
    if unstartable is not None:  # supervisord finds these before it spawns anything
        raise Fault(*unstartable)

    def run(finish: Finish) -> None:
        finish = once(finish)
        spawning = [True]  # done() called inside api.start: the spawn itself failed

        def done(results: list[Result]) -> None:
            finish(_started(process, name, spawning[0]))

        def failed(exc: BaseException) -> None:
            finish(Fault("FAILED", f"{name}: {exc}"))

        forget = api.start(host, [process], _ignore, done, failed)
        spawning[0] = False
        if forget is None:  # initsup began shutting down
            finish(Fault("SHUTDOWN_STATE"))
        elif not wait:
            forget()
            finish(Fault("SPAWN_ERROR", name) if process.spawnerr else True)

    return Later(run)


def _started(process: Process, name: str, spawning: bool) -> Any:
    """What a start that settled gives: True, or why the process is not RUNNING."""
    if process.state == ProcessState.RUNNING:
        return True
    if process.spawnerr:
        if spawning and process.exit_code == NOT_FOUND:
            return Fault("NO_FILE", process.spawnerr)  # supervisord checks before spawning
        return Fault("SPAWN_ERROR", name)
    return Fault("ABNORMAL_TERMINATION", name)  # stopped while starting


def _ignore(result: Result) -> None:
    """A refusal api.start or api.stop reports: checked beforehand, never reached."""


# -- stop ------------------------------------------------------------------------------


def stop_process(host: Host, name: str, wait: bool = True) -> Any:
    """supervisor.stopProcess: True once stopped (at once without wait)."""
    group, process = lookup(host, name)
    if process is None:
        return stop_group(host, group, wait)
    return _stop(host, process, wait, name)


def stop_group(host: Host, name: str, wait: bool = True) -> Any:
    """supervisor.stopProcessGroup: a result for each process that was running."""
    if name not in host.groups:
        raise Fault("BAD_NAME", name)
    return _stop_all(host, in_priority_order(host, name), wait)


def stop_all(host: Host, wait: bool = True) -> Any:
    """supervisor.stopAllProcesses."""
    return _stop_all(host, in_priority_order(host), wait)


def _stop_all(host: Host, processes: list[Process], wait: bool) -> Any:
    running = [p for p in processes if p.state in RUNNING_STATES]
    return each(running, lambda p: _stop(host, p, wait, api.namespec(p)))


def _stop(host: Host, process: Process, wait: bool, name: str) -> Later:
    """Stop process; faults name it `name`, as _start's do."""
    if process.state not in RUNNING_STATES:
        raise Fault("NOT_RUNNING", name)

    def run(finish: Finish) -> None:
        finish = once(finish)

        def failed(exc: BaseException) -> None:
            finish(Fault("FAILED", f"{name}: {exc}"))

        forget = api.stop(host, [process], _ignore, lambda results: finish(True), failed)
        if not wait:
            forget()
            finish(True)

    return Later(run)


# -- signal ----------------------------------------------------------------------------


def signal_process(host: Host, name: str, signal: str | int) -> Any:
    """supervisor.signalProcess: BAD_SIGNAL, then NOT_RUNNING, as supervisord checks."""
    group, process = lookup(host, name)
    if process is None:
        return signal_group(host, group, signal)
    return _signal(process, signal, name)


def signal_group(host: Host, name: str, signal: str | int) -> Any:
    """supervisor.signalProcessGroup: a result for each process that could be signalled."""
    if name not in host.groups:
        raise Fault("BAD_NAME", name)
    return _signal_all(in_priority_order(host, name), signal)


def signal_all(host: Host, signal: str | int) -> Any:
    """supervisor.signalAllProcesses."""
    return _signal_all(in_priority_order(host), signal)


def _signal_all(processes: list[Process], signal: str | int) -> Any:
    signallable = [p for p in processes if p.state in SIGNALLABLE_STATES]
    return each(signallable, lambda p: _signal(p, signal, api.namespec(p)))


def _signal(process: Process, signal: str | int, name: str) -> bool:
    [(_, outcome)] = api.send_signal([process], str(signal))
    if outcome == api.BAD_SIGNAL:
        raise Fault("BAD_SIGNAL", signal)
    if outcome == api.NOT_RUNNING:
        raise Fault("NOT_RUNNING", name)
    return True
