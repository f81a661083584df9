"""What any front end asks of the supervisor, as data: no wording, no connection.

`initsup ctl`'s commands (initsup.control.commands) are one front end; an XML-RPC or HTTP
server, or a status page, would be others beside it.  Each needs the same things: which
processes a name means, a process's info, starting and stopping with a wait for the
result, recent output and events with their followers, a reread.  Here they are answered
once, as values and callbacks, so that every front end behaves alike and words the
answers its own way (supervisorctl's lines, XML-RPC faults, a page).

The functions take the Host (the supervisor, as far as control sees it) and never a
connection.  Outcomes are named by supervisord's fault names (ALREADY_STARTED,
NOT_RUNNING, ...), which are what its XML-RPC interface reports too.
"""

from __future__ import annotations

import os
import time

from initsup import events, feeds
from initsup.signals import parse_signal
from initsup.states import RUNNING_STATES, ProcessState
from initsup.waits import stopped

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.alerts.hub import Alerts
    from initsup.feeds import OutputFeeds
    from initsup.health.monitor import Health
    from initsup.logs import Logger
    from initsup.loop import EventLoop
    from initsup.model import Config, GroupConfig
    from initsup.pools import Pools
    from initsup.process import Process
    from initsup.reaper import Owners
    from initsup.waits import Waits

    # answer(lines, problems): supervisorctl's lines, or every reason a reload failed.
    Answer = Callable[[list[str], list[str]], None]
    # A process and what became of it (STARTED, NOT_RUNNING, ...).
    Result = tuple[Process, str]
    # answer((added, changed, removed), problems): group names, as supervisord's
    # reloadConfig gives them; None with the reasons the configuration was refused.
    DiffAnswer = Callable[[tuple[list[str], list[str], list[str]] | None, list[str]], None]
    # A process (None: initsup itself), whether it is good, and why not.
    Verdict = tuple[Process | None, bool, str]

    class Host(Protocol):
        """What control needs of the supervisor, and all it may touch."""

        processes: dict[str, Process]  # by "group:name", in start order
        groups: dict[str, GroupConfig]
        bus: events.EventBus
        loop: EventLoop
        logger: Logger
        waits: Waits
        health: Health | None  # start order, checks: None when nothing asks for them
        output: OutputFeeds
        owners: Owners  # counts the orphans reaped
        pools: Pools | None  # listener pools: None without an [eventlistener:x]
        alerts: Alerts | None  # notifiers: None without a [notify:x]

        # The groups of the configuration last read (at start, or by the latest reread):
        # what getAllConfigInfo lists and addProcessGroup adds from.
        configured: list[GroupConfig]
        config: Config  # the configuration running (its options: getIdentification)

        @property
        def shutting_down(self) -> bool: ...
        @property
        def restarting(self) -> bool: ...  # between restart() and the new start
        def reread(self, answer: Answer, apply: bool = False) -> None: ...
        def reread_diff(self, answer: DiffAnswer) -> None: ...  # reads, applies nothing
        def add_configured_group(self, name: str) -> str: ...  # ADDED, ALREADY_ADDED, BAD_NAME
        def remove_stopped_group(self, name: str) -> str: ...  # REMOVED, BAD_NAME, STILL_RUNNING
        def restart(self) -> None: ...
        def shutdown(self, reason: str) -> None: ...


# What became of a process that was asked to do something (supervisord's fault names).
STARTED = "STARTED"
STOPPED = "STOPPED"
SIGNALLED = "SIGNALLED"
ALREADY_STARTED = "ALREADY_STARTED"
NOT_RUNNING = "NOT_RUNNING"
SPAWN_ERROR = "SPAWN_ERROR"
BAD_SIGNAL = "BAD_SIGNAL"
NO_FILE = "NO_FILE"
NOT_EXECUTABLE = "NOT_EXECUTABLE"

# What became of a group asked to be added or removed.
ADDED = "ADDED"
ALREADY_ADDED = "ALREADY_ADDED"
REMOVED = "REMOVED"
BAD_NAME = "BAD_NAME"
STILL_RUNNING = "STILL_RUNNING"

# Why a name means no process.
NO_SUCH_GROUP = "NO_SUCH_GROUP"
NO_SUCH_PROCESS = "NO_SUCH_PROCESS"
AMBIGUOUS = "AMBIGUOUS"

RECENT_EVENTS = 200  # events kept for a client that asks for the latest ones

# -- naming processes ------------------------------------------------------------------


def namespec(process: Process) -> str:
    """`name` when the group has the program's own name, else `group:name` (supervisorctl)."""
    return process.namespec


def resolve(host: Host, name: str) -> tuple[list[Process], tuple[str, str] | None]:
    """Processes a name means (NAME, GROUP:NAME, GROUP:*, all), or why none.

    The reason is (the name it is about, NO_SUCH_GROUP / NO_SUCH_PROCESS / AMBIGUOUS); for
    a group that is the group's name, as supervisorctl reports it.
    """
    processes = list(host.processes.values())
    if name == "all":
        return processes, None
    group, colon, process = name.partition(":")
    if colon and process in ("", "*"):
        found = [p for p in processes if p.group == group]
        return (found, None) if found else ([], (group, NO_SUCH_GROUP))
    if colon:
        found = [p for p in processes if p.group == group and p.name == process]
    else:  # supervisorctl means group NAME, process NAME; a unique process name also does
        found = [p for p in processes if p.group == name and p.name == name]
        found = found or [p for p in processes if p.name == name]
        if len(found) > 1:
            return [], (name, AMBIGUOUS)
    return (found, None) if found else ([], (name, NO_SUCH_PROCESS))


def is_group(name: str) -> bool:
    """Whether a name means a group of processes (or all) rather than one process."""
    return name == "all" or name.endswith((":*", ":"))


def by_name(host: Host) -> list[Process]:
    """Every process, in supervisorctl's order: by group, then by name."""
    return sorted(host.processes.values(), key=lambda p: (p.group, p.name))


def group_priority(host: Host, process: Process) -> int:
    """The priority of the process's group (its shutdown and start tier)."""
    return host.groups[process.group].priority


# -- process info ----------------------------------------------------------------------


def describe(process: Process, now: float) -> str:
    """supervisord's description column for a process, then what its health facts have to
    say ("pid 12, uptime 0:01:02, ready"; "Not started, waiting for db")."""
    text = _description(process, now)
    words = process.facts.words() if process.facts is not None else ""
    if not words:
        return text
    return f"{text}, {words}" if text else words


def _description(process: Process, now: float) -> str:
    state = process.state
    if state == ProcessState.RUNNING:
        return f"pid {process.pid}, uptime {uptime(now - process.start_wall)}"
    if state in (ProcessState.FATAL, ProcessState.BACKOFF):
        return process.spawnerr or f'unknown error (try "tail {process.name}")'
    if state in (ProcessState.STOPPED, ProcessState.EXITED):
        if not process.start_wall:
            return "Not started"
        return time.strftime("%b %d %I:%M %p", time.localtime(process.stop_wall))
    return ""


def uptime(seconds: float) -> str:
    """H:MM:SS, with days in front past one (as supervisord's descriptions write it)."""
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days} day{'s' if days != 1 else ''}, {clock}" if days else clock


def info(process: Process, now: float) -> dict[str, Any]:
    """supervisord's process info struct (getProcessInfo), and initsup's own fields:
    essential, ready (initsup.health.verdicts) and healthy (None: no verdict)."""
    from initsup.health.verdicts import ready  # a small module; loaded when first asked

    logfile = process.config.stdout.path
    return {
        "name": process.name,
        "group": process.group,
        "pid": process.pid,
        "state": int(process.state),
        "statename": process.state.name,
        "start": int(process.start_wall),
        "stop": int(process.stop_wall),
        "now": int(now),
        "spawnerr": process.spawnerr,
        "exitstatus": process.exitstatus,
        "description": describe(process, now),
        "logfile": logfile,
        "stdout_logfile": logfile,
        "stderr_logfile": process.config.stderr.path,
        "essential": process.config.essential,
        "ready": ready(process)[0],
        "healthy": process.facts.healthy if process.facts is not None else None,
        "restarts": max(process.spawns - 1, 0),
    }


def status(host: Host, now: float) -> list[dict[str, Any]]:
    """`initsup ctl status --json`'s document: every process's info, by group and name."""
    return [info(p, now) for p in by_name(host)]


def health(host: Host) -> tuple[bool, list[Process], list[Process]]:
    """(whether essential programs are the ones watched, those watched, those down: neither
    RUNNING nor done, as a one-shot that exited as expected is).

    The essential programs are watched; with none, every autostart program is.
    """
    from initsup.health import verdicts

    watched = verdicts.watched(host.processes.values())
    essential = any(p.config.essential for p in watched)
    down = [p for p in watched if p.state != ProcessState.RUNNING and not verdicts.done(p)]
    return essential, watched, down


def judge(host: Host, question: str, processes: list[Process] | None) -> list[Verdict]:
    """Each process's answer to a question ("live", "ready" or "started", as
    initsup.health.verdicts asks it), the watched ones' for None; "ready" of the watched
    ones has one more check, initsup itself (process None), failed once it shuts down:
    load balancers stop sending before the programs stop."""
    from initsup.health import verdicts

    ask = verdicts.QUESTIONS[question]
    chosen = verdicts.watched(host.processes.values()) if processes is None else processes
    judged: list[Verdict] = [(p, *ask(p)) for p in chosen]
    if question == "ready" and processes is None:
        stopping = host.shutting_down
        judged.append((None, not stopping, "initsup is shutting down" if stopping else ""))
    return judged


# -- start, stop, signal ---------------------------------------------------------------


def start(
    host: Host,
    processes: list[Process],
    refused: Callable[[Result], None],
    done: Callable[[list[Result]], None],
    on_error: Callable[[BaseException], None],
) -> Callable[[], None] | None:
    """Start processes; tell of each refused at once, then of the rest once all settle.

    refused((p, ALREADY_STARTED)) is called before this returns, in order; done gets
    (p, STARTED) or (p, SPAWN_ERROR) for the others, in order, when none is STARTING any
    more (at once with none).  Returns `forget` for a caller that stops waiting, or None,
    starting nothing, while initsup shuts down.
    """
    if host.shutting_down:
        return None
    acting = []
    for p in processes:
        if p.state in RUNNING_STATES or not p.start():  # supervisord: BACKOFF is started
            refused((p, ALREADY_STARTED))
        else:
            acting.append(p)

    def settled(p: Process) -> bool:
        return p.state != ProcessState.STARTING

    def report(p: Process) -> Result:
        return (p, STARTED) if p.state == ProcessState.RUNNING else (p, SPAWN_ERROR)

    return host.waits.each_settled(acting, settled, report, done, on_error)


def stop(
    host: Host,
    processes: list[Process],
    refused: Callable[[Result], None],
    done: Callable[[list[Result]], None],
    on_error: Callable[[BaseException], None],
) -> Callable[[], None]:
    """Stop processes; as start(), with NOT_RUNNING at once and STOPPED once stopped.

    A process that is not running is still told to stop: that calls off a pending restart,
    and a start that waits for its dependencies or follows on_unhealthy.
    """
    acting = []
    for p in processes:
        if host.health is not None:
            host.health.call_off(p)
        if p.state not in RUNNING_STATES:
            p.stop()
            refused((p, NOT_RUNNING))
        else:
            p.stop()
            acting.append(p)

    def report(p: Process) -> Result:
        return p, STOPPED

    return host.waits.each_settled(acting, stopped, report, done, on_error)


def send_signal(processes: list[Process], signame: str) -> list[Result]:
    """Signal each process: SIGNALLED or NOT_RUNNING; BAD_SIGNAL for all if no such signal."""
    try:
        signum = parse_signal(signame)
    except ValueError:
        return [(p, BAD_SIGNAL) for p in processes]
    return [(p, SIGNALLED if p.signal(signum) else NOT_RUNNING) for p in processes]


def unstartable(process: Process) -> tuple[str, str] | None:
    """Why the process's command cannot be started, found before any start as supervisord
    finds it (NO_FILE or NOT_EXECUTABLE, and its text), looked up on the program's PATH;
    None when it can (or when only the start can tell: a path relative to its directory)."""
    from initsup.spawn import ExecError, find_executable

    command = process.config.command[0] if process.config.command else ""
    if "/" in command and not command.startswith("/"):
        return None
    path = process.config.environment.get("PATH", os.environ.get("PATH"))
    try:
        find_executable(command, path)
    except ExecError as exc:
        if exc.exit_code == 127:
            return NO_FILE, f"can't find command {command!r}"
        return NOT_EXECUTABLE, f"command at {command!r} is not executable"
    return None


# -- output and events -------------------------------------------------------------------


def _output_key(process: Process, stream: str) -> tuple[str, str]:
    """The output feed of a process's stream; stderr is stdout's when redirected there."""
    if process.config.redirect_stderr and stream == "stderr":
        stream = "stdout"
    return feeds.key(process.group, process.name, stream)


def recent_output(host: Host, process: Process, stream: str, count: int) -> bytes:
    """The last `count` bytes of a process's stdout or stderr (all of them for 0)."""
    return host.output.recent(_output_key(process, stream))[-count:]


def follow_output(
    host: Host, process: Process, stream: str, callback: Callable[[bytes], None]
) -> Callable[[], None]:
    """callback(data) for everything the process writes to the stream; returns `forget`."""
    return host.output.follow(_output_key(process, stream), callback)


def output_written(host: Host, process: Process, stream: str) -> int:
    """Bytes the stream got since its process was added or its output last cleared."""
    return host.output.written(_output_key(process, stream))


def clear_output(host: Host, process: Process) -> None:
    """Forget a process's recent stdout and stderr (supervisord's clearProcessLogs)."""
    for stream in ("stdout", "stderr"):
        host.output.clear(_output_key(process, stream))


def main_log(host: Host, count: int) -> bytes:
    """The last `count` bytes of the records initsup wrote (all it keeps for 0)."""
    return host.output.recent(feeds.MAIN_LOG)[-count:]


def main_log_written(host: Host) -> int:
    """Bytes of records initsup wrote since it started or its main log was last cleared."""
    return host.output.written(feeds.MAIN_LOG)


def follow_main_log(host: Host, callback: Callable[[bytes], None]) -> Callable[[], None]:
    """callback(data) for every record initsup writes from now on; returns `forget`."""
    return host.output.follow(feeds.MAIN_LOG, callback)


def clear_main_log(host: Host) -> None:
    """Forget the records kept (supervisord's clearLog)."""
    host.output.clear(feeds.MAIN_LOG)


class EventFeed:
    """The latest events as records (RECENT_EVENTS of them), and who follows new ones."""

    def __init__(self, bus: events.EventBus) -> None:
        self._recent: list[dict[str, Any]] = []
        self._followers: list[Callable[[dict[str, Any]], None]] = []
        bus.subscribe(self._remember)

    def _remember(self, event: events.Event) -> None:
        record = {"timestamp": time.time(), "event": event.name, **event.fields}
        self._recent.append(record)
        del self._recent[:-RECENT_EVENTS]
        for follower in list(self._followers):
            follower(record)

    def recent(self, count: int) -> list[dict[str, Any]]:
        """The last `count` records, oldest first."""
        return self._recent[-count:]

    def follow(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """callback(record) for every event from now on; returns `forget`."""
        self._followers.append(callback)
        return lambda: self._followers.remove(callback)


# -- the configuration and the supervisor itself ---------------------------------------


def reread(host: Host, answer: Answer, apply: bool) -> None:
    """Read the configuration again (and apply it); answer(lines, problems) when done."""
    host.reread(answer, apply)


def reread_diff(host: Host, answer: DiffAnswer) -> None:
    """Read the configuration again and keep it as the one configured, applying nothing;
    answer((added, changed, removed), problems) when done (supervisord's reloadConfig)."""
    host.reread_diff(answer)


def add_group(host: Host, name: str) -> str:
    """Add (and start the autostart programs of) a group of the configuration last read:
    ADDED, ALREADY_ADDED or BAD_NAME (supervisord's addProcessGroup)."""
    return host.add_configured_group(name)


def remove_group(host: Host, name: str) -> str:
    """Remove a group whose processes are all stopped: REMOVED, BAD_NAME or STILL_RUNNING."""
    return host.remove_stopped_group(name)


def restart(host: Host) -> None:
    """Stop every program, read the configuration again and start anew; initsup stays up."""
    host.restart()


def send_remote_comm(host: Host, kind: str, data: str) -> None:
    """supervisord's sendRemoteCommEvent: a REMOTE_COMMUNICATION event for listeners."""
    host.bus.publish(events.remote_communication(kind, data))


def shutdown(host: Host, reason: str) -> None:
    """Stop every program in order and end initsup."""
    host.shutdown(reason)


def identification(host: Host) -> str:
    """What this initsup calls itself ([supervisord] identifier=; supervisord's
    getIdentification, and `server:` in listener headers)."""
    return host.config.options.identifier
