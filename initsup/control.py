"""The control server: `initsup ctl` requests over a unix socket, served inside the loop.

Wire format, one request per connection: the client sends one line of JSON,
`{"cmd": "status", "args": ["web"]}`, at most ctlsocket.MAX_REQUEST bytes.  The server answers with
JSON lines: `{"out": line}` and `{"err": line}` for the client to print as lines,
`{"data": text}` to write as it is (tail), `{"json": value}` to print as JSON, and a last
`{"exit": code}`; `tail -f` and `events -f` stream until the
client goes away.  The server words every answer exactly as supervisorctl does, so the
client only prints.

The transport (limits on size, time, memory and clients; who may connect) is
initsup.ctlsocket's; this module says what each request means.
"""

from __future__ import annotations

import os
import time

from initsup import __version__, events, jsoncodec
from initsup.ctlsocket import Connection, Server
from initsup.process import Process
from initsup.signals import parse_signal
from initsup.states import RUNNING_STATES, STOPPED_STATES, ProcessState
from initsup.supervisor import Supervisor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

RECENT_EVENTS = 200


def default_socket_path(environ: dict[str, str] | os._Environ[str]) -> str:
    """INITSUP_SOCKET, else /run/initsup.sock, else $TMPDIR (or /tmp)/initsup.sock.

    `initsup ctl` looks in the same places in the same order, so a `docker exec` shell
    finds the socket with no flags whether or not the container runs as root.
    """
    explicit = environ.get("INITSUP_SOCKET")
    if explicit:
        return explicit
    if os.access("/run", os.W_OK):
        return "/run/initsup.sock"
    return os.path.join(environ.get("TMPDIR") or "/tmp", "initsup.sock")


class BadRequest(ValueError):
    """A request line that is not `{"cmd": str, "args": [str, ...]}`."""


def parse_request(line: bytes) -> tuple[str, list[str]]:
    """The command and arguments of one request line; BadRequest saying what is wrong."""
    try:
        request = jsoncodec.loads(line.decode())
    except Exception:  # whatever the codec raises (SystemError from _json on 3.10/3.11)
        raise BadRequest("not JSON") from None
    if not isinstance(request, dict):
        raise BadRequest("not a JSON object")
    command, args = request.get("cmd"), request.get("args", [])
    if not isinstance(command, str) or not isinstance(args, list):
        raise BadRequest('needs "cmd" (a string) and "args" (a list of strings)')
    if not all(isinstance(a, str) for a in args):
        raise BadRequest('"args" must all be strings')
    return command, args


class ControlServer(Server):
    """Accepts `initsup ctl` connections on a unix socket and serves their requests."""

    def __init__(self, supervisor: Supervisor, path: str, mode: int = 0o600) -> None:
        super().__init__(supervisor, path, mode)
        self.recent_events: list[dict[str, Any]] = []
        self.event_watchers: list[Callable[[dict[str, Any]], None]] = []
        supervisor.bus.subscribe(self._remember_event)

    def _remember_event(self, event: Any) -> None:
        record = {"timestamp": time.time(), "event": event.name, **event.fields}
        self.recent_events.append(record)
        del self.recent_events[:-RECENT_EVENTS]
        for watcher in list(self.event_watchers):
            watcher(record)

    def handle(self, c: Connection, line: bytes) -> None:
        try:
            command, args = parse_request(line)
        except BadRequest as exc:
            c.reject(str(exc))
            return
        handler = COMMANDS.get(command)
        if handler is None:
            c.err(f"*** Unknown syntax: {command}")
            c.finish(1)
            return
        try:
            handler(c, args)
        except Exception as exc:
            c.fail(f"control command {command!r} failed", f"{command} failed", exc)


# -- naming processes ------------------------------------------------------------------


def namespec(process: Process) -> str:
    """`name` when the group has the program's own name, else `group:name` (supervisorctl)."""
    return process.name if process.group == process.name else f"{process.group}:{process.name}"


def _resolve(sup: Supervisor, name: str) -> tuple[list[Process], str | None]:
    """Processes a name means (NAME, GROUP:NAME, GROUP:*, all), or an error line."""
    processes = list(sup.processes.values())
    if name == "all":
        return processes, None
    group, colon, process = name.partition(":")
    if colon and process in ("", "*"):
        found = [p for p in processes if p.group == group]
        return (found, None) if found else ([], f"{group}: ERROR (no such group)")
    if colon:
        found = [p for p in processes if p.group == group and p.name == process]
    else:  # supervisorctl means group NAME, process NAME; a unique process name also does
        found = [p for p in processes if p.group == name and p.name == name]
        found = found or [p for p in processes if p.name == name]
        if len(found) > 1:
            return [], f"{name}: ERROR (ambiguous: use GROUP:NAME)"
    return (found, None) if found else ([], f"{name}: ERROR (no such process)")


def _is_group(name: str) -> bool:
    return name == "all" or name.endswith((":*", ":"))


# -- status ----------------------------------------------------------------------------


def describe(process: Process, now: float) -> str:
    """supervisord's description column for a process."""
    state = process.state
    if state == ProcessState.RUNNING:
        return f"pid {process.pid}, uptime {_uptime(now - process.start_wall)}"
    if state in (ProcessState.FATAL, ProcessState.BACKOFF):
        return process.spawnerr or f'unknown error (try "tail {process.name}")'
    if state in (ProcessState.STOPPED, ProcessState.EXITED):
        if not process.start_wall:
            return "Not started"
        return time.strftime("%b %d %I:%M %p", time.localtime(process.stop_wall))
    return ""


def _uptime(seconds: float) -> str:
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days} day{'s' if days != 1 else ''}, {clock}" if days else clock


def info(process: Process, now: float) -> dict[str, Any]:
    """supervisord's process info struct (getProcessInfo), for `status --json`."""
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
    }


def cmd_status(c: Connection, args: list[str]) -> None:
    as_json = "--json" in args
    names = [a for a in args if a != "--json"]
    chosen: list[Process] = []
    code = 0
    for name in names or ["all"]:
        found, error = _resolve(c.sup, name)
        if error:
            c.out(error)
            code = 4
        chosen += [p for p in found if p not in chosen]
    chosen.sort(key=lambda p: (p.group, p.name))
    now = time.time()
    if as_json:
        c.send(json=[info(p, now) for p in chosen])
    else:
        width = max([30, *(len(namespec(p)) for p in chosen)]) + 3
        for p in chosen:
            line = f"{namespec(p).ljust(width)}{p.state.name.ljust(10)}{describe(p, now)}"
            c.out(line.rstrip())
    if code == 0 and any(p.state in STOPPED_STATES for p in chosen):
        code = 3
    c.finish(code)


def cmd_health(c: Connection, args: list[str]) -> None:
    processes = list(c.sup.processes.values())
    essential = [p for p in processes if p.config.essential]
    watched = essential or [p for p in processes if p.config.autostart]
    down = [p for p in watched if p.state != ProcessState.RUNNING]
    if c.sup.shutting_down:
        c.err("unhealthy: initsup is shutting down")
        c.finish(1)
        return
    for p in down:
        c.err(f"unhealthy: {namespec(p)} is {p.state.name}")
    if not down:
        kind = "essential" if essential else "autostart"
        c.out(f"healthy: {len(watched)} {kind} program(s) RUNNING")
    c.finish(1 if down else 0)


# -- start, stop, restart, signal ------------------------------------------------------


class _Waiting:
    """Completes a request once every process it acted on has settled.

    The lines come out in the order of the processes, once all have settled, as
    supervisorctl prints the results of a group call.
    """

    def __init__(
        self,
        c: Connection,
        processes: list[Process],
        settled: Callable[[Process], bool],
        report: Callable[[Process], tuple[str, int]],
        then: Callable[[int], None],
    ) -> None:
        self.c, self.settled, self.report, self.then = c, settled, report, then
        self.order = list(processes)
        self.results: dict[int, tuple[str, int]] = {}
        if not self.order:
            then(0)
            return
        c.sup.watchers.append(self._changed)
        c.cleanups.append(self._forget)
        for process in self.order:
            self._changed(process)

    def _changed(self, process: Process) -> None:
        # Called by the supervisor, outside the connection's guard: a failure here is the
        # request's, answered and closed, never the supervisor's.
        try:
            self._settle(process)
        except Exception as exc:
            self._forget()
            self.c.fail("control command failed while waiting", "failed", exc)

    def _settle(self, process: Process) -> None:
        if process not in self.order or id(process) in self.results:
            return
        if not self.settled(process):
            return
        self.results[id(process)] = self.report(process)
        if len(self.results) < len(self.order):
            return
        self._forget()
        code = 0
        for p in self.order:
            line, result = self.results[id(p)]
            self.c.out(line)
            code = max(code, result)
        self.then(code)

    def _forget(self) -> None:
        if self._changed in self.c.sup.watchers:
            self.c.sup.watchers.remove(self._changed)


def _targets(c: Connection, args: list[str], verb: str, missing_code: int) -> list[Process] | None:
    if not args:
        c.err(f"Error: {verb} requires a process name")
        c.finish(missing_code)
        return None
    chosen: list[Process] = []
    for name in args:
        found, error = _resolve(c.sup, name)
        if error:
            c.out(error)
            c.finish(2 if _is_group(name) else 1)
            return None
        chosen += [p for p in found if p not in chosen]
    return chosen


def _start(c: Connection, processes: list[Process], then: Callable[[int], None]) -> None:
    if c.sup.shutting_down:
        c.err("Error: initsup is shutting down")
        then(6)
        return
    acting = []
    for p in processes:
        if p.state in RUNNING_STATES or not p.start():  # supervisord: BACKOFF is started
            c.out(f"{namespec(p)}: ERROR (already started)")
        else:
            acting.append(p)

    def settled(p: Process) -> bool:
        return p.state != ProcessState.STARTING

    def report(p: Process) -> tuple[str, int]:
        if p.state == ProcessState.RUNNING:
            return f"{namespec(p)}: started", 0
        return f"{namespec(p)}: ERROR (spawn error)", 7

    _Waiting(c, acting, settled, report, then)


def _stop(c: Connection, processes: list[Process], then: Callable[[int], None]) -> None:
    acting = []
    for p in processes:
        if p.state not in RUNNING_STATES:
            p.stop()  # calls off a pending restart, if any
            c.out(f"{namespec(p)}: ERROR (not running)")
        else:
            p.stop()
            acting.append(p)

    def settled(p: Process) -> bool:
        return p.state in STOPPED_STATES

    def report(p: Process) -> tuple[str, int]:
        return f"{namespec(p)}: stopped", 0

    _Waiting(c, acting, settled, report, then)


def cmd_start(c: Connection, args: list[str]) -> None:
    processes = _targets(c, args, "start", 2)
    if processes is not None:
        _start(c, processes, c.finish)


def cmd_stop(c: Connection, args: list[str]) -> None:
    processes = _targets(c, args, "stop", 1)
    if processes is not None:
        _stop(c, processes, c.finish)


def cmd_restart(c: Connection, args: list[str]) -> None:
    processes = _targets(c, args, "restart", 2)
    if processes is not None:
        _stop(c, processes, lambda code: _start(c, processes, c.finish))


def cmd_signal(c: Connection, args: list[str]) -> None:
    if len(args) < 2:
        c.err("Error: signal requires a signal name and a process name")
        c.finish(2)
        return
    processes = _targets(c, args[1:], "signal", 2)
    if processes is None:
        return
    try:
        signum = parse_signal(args[0])
    except ValueError:
        for p in processes:
            c.out(f"{namespec(p)}: ERROR (bad signal name)")
        c.finish(1)
        return
    code = 0
    for p in processes:
        if p.signal(signum):
            c.out(f"{namespec(p)}: signalled")
        else:
            c.out(f"{namespec(p)}: ERROR (not running)")
            code = 7
    c.finish(code)


def cmd_pid(c: Connection, args: list[str]) -> None:
    if not args:
        c.out(str(os.getpid()))
        c.finish(0)
        return
    code = 0
    for name in args:
        found, error = _resolve(c.sup, name)
        if error:
            c.out(error)
            code = max(code, 1)
        for p in found:
            c.out(str(p.pid))
            if not p.pid and name != "all":
                code = 7
    c.finish(code)


# -- tail and events ---------------------------------------------------------------------


def cmd_tail(c: Connection, args: list[str]) -> None:
    follow = "-f" in args
    count = 1600
    rest = []
    for arg in args:
        if arg == "-f":
            continue
        if not arg.startswith("-"):
            rest.append(arg)
        elif arg[1:].isascii() and arg[1:].isdigit():  # int() takes "²" and "_" too
            count = int(arg[1:])
        else:
            c.err(f"Error: tail: bad option {arg} (use -f, or -BYTES with BYTES a number)")
            c.finish(2)
            return
    if not rest or len(rest) > 2 or (len(rest) == 2 and rest[1] not in ("stdout", "stderr")):
        c.err("Error: tail requires a process name, and optionally stdout or stderr")
        c.finish(2)
        return
    found, error = _resolve(c.sup, rest[0])
    if error or len(found) != 1:
        c.out(f"{rest[0]}: ERROR (no such process name)")
        c.finish(1)
        return
    process = found[0]
    stream = rest[1] if len(rest) == 2 else "stdout"
    if process.config.redirect_stderr and stream == "stderr":
        stream = "stdout"
    key = (f"{process.group}:{process.name}", stream)
    recent = bytes(c.sup.recent_output.get(key, b""))[-count:]
    if recent:
        c.send(data=recent.decode("utf-8", "backslashreplace"))
    if not follow:
        c.finish(0)
        return

    def more(data: bytes) -> None:
        c.send(data=data.decode("utf-8", "backslashreplace"))

    watchers = c.sup.output_watchers.setdefault(key, [])
    watchers.append(more)
    c.following = True
    c.cleanups.append(lambda: watchers.remove(more))


def cmd_events(c: Connection, args: list[str]) -> None:
    server = c.server
    assert isinstance(server, ControlServer)
    for record in server.recent_events[-50:]:
        c.send(json=record)
    if "-f" not in args:
        c.finish(0)
        return

    def more(record: dict[str, Any]) -> None:
        c.send(json=record)

    server.event_watchers.append(more)
    c.following = True
    c.cleanups.append(lambda: server.event_watchers.remove(more))


# -- configuration and the supervisor itself -------------------------------------------


def _reread(c: Connection, apply: bool) -> None:
    """Have the configuration read again (and applied); answer when that is done."""

    def answer(lines: list[str], problems: list[str]) -> None:
        for problem in problems:
            c.err(f"ERROR: {problem}")
        for line in lines:
            c.out(line)
        c.finish(2 if problems else 0)

    c.sup.reread(answer, apply)


def cmd_reread(c: Connection, args: list[str]) -> None:
    _reread(c, apply=False)


def cmd_update(c: Connection, args: list[str]) -> None:
    _reread(c, apply=True)


def cmd_avail(c: Connection, args: list[str]) -> None:
    for p in sorted(c.sup.processes.values(), key=lambda p: (p.group, p.name)):
        group_priority = c.sup.groups[p.group].priority
        auto = "auto" if p.config.autostart else "manual"
        c.out(f"{namespec(p):<30} in use    {auto:<9} {group_priority}:{p.config.priority}")
    c.finish(0)


def cmd_sendcomm(c: Connection, args: list[str]) -> None:
    """supervisord's sendRemoteCommEvent: a REMOTE_COMMUNICATION event for listeners."""
    if len(args) != 2:
        c.err("Error: sendcomm requires a type and the data")
        c.finish(2)
        return
    c.sup.bus.publish(events.remote_communication(args[0], args[1]))
    c.finish(0)


def cmd_version(c: Connection, args: list[str]) -> None:
    c.out(__version__)
    c.finish(0)


def cmd_shutdown(c: Connection, args: list[str]) -> None:
    c.out("Shut down")
    c.finish(0)
    c.sup.shutdown("asked to by initsup ctl")


COMMANDS: dict[str, Callable[[Connection, list[str]], None]] = {
    "status": cmd_status,
    "health": cmd_health,
    "start": cmd_start,
    "stop": cmd_stop,
    "restart": cmd_restart,
    "signal": cmd_signal,
    "pid": cmd_pid,
    "tail": cmd_tail,
    "events": cmd_events,
    "reread": cmd_reread,
    "update": cmd_update,
    "avail": cmd_avail,
    "version": cmd_version,
    "sendcomm": cmd_sendcomm,
    "shutdown": cmd_shutdown,
}
