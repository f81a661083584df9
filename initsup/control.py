"""The control server: `initsup ctl` requests over a unix socket, served inside the loop.

Wire format, one request per connection: the client sends one line of JSON,
`{"cmd": "status", "args": ["web"]}`, at most MAX_REQUEST bytes.  The server answers with
JSON lines: `{"out": line}` and `{"err": line}` for the client to print as lines,
`{"data": text}` to write as it is (tail), `{"json": value}` to print as JSON, and a last
`{"exit": code}`; `tail -f` and `events -f` stream until the
client goes away.  The server words every answer exactly as supervisorctl does, so the
client only prints.

Nothing here may stall the loop: sockets are non-blocking, a client that says nothing is
dropped after IDLE_TIMEOUT, a client that reads too slowly is dropped once MAX_PENDING
bytes wait for it, and a request is checked before anything acts on it.  Only root and
initsup's own user may connect (SO_PEERCRED); the socket is mode 0600.

The server uses `_socket`, the C module, directly: the `socket` module on top of it (enums,
selectors, array) is half a MiB of every idle initsup's memory, for methods the server
does not call.
"""

from __future__ import annotations

import _socket
import errno
import os
import stat
import sys
import time

from initsup import __version__, events, jsoncodec
from initsup.process import Process
from initsup.signals import parse_signal
from initsup.states import RUNNING_STATES, STOPPED_STATES, ProcessState
from initsup.supervisor import Supervisor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_REQUEST = 65536
MAX_PENDING = 1 << 20
IDLE_TIMEOUT = 10.0
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


class ControlServer:
    """Accepts `initsup ctl` connections on a unix socket and serves their requests."""

    def __init__(self, supervisor: Supervisor, path: str, mode: int = 0o600) -> None:
        self.supervisor = supervisor
        self.path = path
        self.sock = _listen(path, mode)
        self.recent_events: list[dict[str, Any]] = []
        self.event_watchers: list[Callable[[dict[str, Any]], None]] = []
        supervisor.bus.subscribe(self._remember_event)
        supervisor.loop.add_reader(self.sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        self.supervisor.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _remember_event(self, event: Any) -> None:
        record = {"timestamp": time.time(), "event": event.name, **event.fields}
        self.recent_events.append(record)
        del self.recent_events[:-RECENT_EVENTS]
        for watcher in list(self.event_watchers):
            watcher(record)

    def _accept(self) -> None:
        while True:
            try:
                # accept4 with SOCK_CLOEXEC; typeshed does not list the C method.
                fd, _ = self.sock._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: say so, keep serving
                self.supervisor.logger.error(f"control socket: accept failed: {exc}")
                return
            conn = _socket.socket(fileno=fd)
            conn.setblocking(False)
            uid = _peer_uid(conn)
            if uid not in (0, os.geteuid()):
                self.supervisor.logger.warning(f"control socket: refused a client of uid {uid}")
                _Connection(self, conn).refuse(f"uid {uid} may not control initsup")
                continue
            _Connection(self, conn)


class _Connection:
    """One client: read its request, answer it, close."""

    def __init__(self, server: ControlServer, conn: _socket.socket) -> None:
        self.server = server
        self.sup = server.supervisor
        self.conn = conn
        self.fd = conn.fileno()
        self.inbox = b""
        self.outbox = bytearray()
        self.closed = False
        self.answered = False  # its request has been read (or refused)
        self.cleanups: list[Callable[[], None]] = []  # undone when the client goes
        self.sup.loop.add_reader(self.fd, self._on_readable)
        self._deadline = self.sup.loop.call_later(IDLE_TIMEOUT, self._idle)

    # -- transport -------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = self.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        if self.answered:
            return  # one request per connection: whatever else comes is discarded
        self.inbox += data
        if b"\n" in self.inbox:
            self.answered = True
            self._deadline.cancel()
            self._handle(self.inbox.split(b"\n", 1)[0])
        elif len(self.inbox) > MAX_REQUEST:
            self.answered = True
            self._deadline.cancel()
            self._reject(f"request larger than {MAX_REQUEST} bytes")

    def _idle(self) -> None:
        self.sup.logger.warning("control socket: a client sent no request in time; dropped")
        self.close()

    def send(self, **message: Any) -> None:
        """Queue one JSON line for the client; drop a client that does not read."""
        if self.closed:
            return
        self.outbox += jsoncodec.dumps(message).encode() + b"\n"
        if len(self.outbox) > MAX_PENDING:
            self.sup.logger.warning("control socket: a client is not reading; dropped")
            self.close()
            return
        self._flush()

    def out(self, text: str) -> None:
        self.send(out=text)

    def err(self, text: str) -> None:
        self.send(err=text)

    def finish(self, code: int) -> None:
        """Send the exit code and close once everything is written."""
        self.send(exit=code)
        self._closing = True
        self._flush()

    _closing = False
    _half_closed = False

    def _flush(self) -> None:
        if self.closed:
            return
        try:
            sent = self.conn.send(self.outbox) if self.outbox else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        del self.outbox[:sent]
        if self.outbox:
            self.sup.loop.add_writer(self.fd, self._flush)
            return
        self.sup.loop.remove_writer(self.fd)
        if self._closing and not self._half_closed:
            # Say we are done, but read (and drop) what the client still sends until it
            # hangs up: closing with unread input would reset the connection and could
            # lose our answer.  A client that never hangs up is dropped after a while.
            self._half_closed = True
            try:
                self.conn.shutdown(_socket.SHUT_WR)
            except OSError:
                self.close()
                return
            self._deadline = self.sup.loop.call_later(IDLE_TIMEOUT, self.close)

    def close(self) -> None:
        """Forget the client: unregister, stop its streams, close the socket."""
        if self.closed:
            return
        self.closed = True
        self._deadline.cancel()
        for cleanup in self.cleanups:
            cleanup()
        self.sup.loop.remove_reader(self.fd)
        self.sup.loop.remove_writer(self.fd)
        self.conn.close()

    def refuse(self, reason: str) -> None:
        self.answered = True
        self._deadline.cancel()
        self.err(f"Error: {reason}")
        self.finish(2)

    def _reject(self, reason: str) -> None:
        self.sup.logger.warning(f"control socket: bad request: {reason}")
        self.err(f"Error: bad request: {reason}")
        self.finish(2)

    # -- requests ----------------------------------------------------------------------

    def _handle(self, line: bytes) -> None:
        try:
            request = jsoncodec.loads(line.decode())
        except ValueError:  # UnicodeDecodeError too
            self._reject("not JSON")
            return
        if not isinstance(request, dict):
            self._reject("not a JSON object")
            return
        command, args = request.get("cmd"), request.get("args", [])
        if not isinstance(command, str) or not isinstance(args, list):
            self._reject('needs "cmd" (a string) and "args" (a list of strings)')
            return
        if not all(isinstance(a, str) for a in args):
            self._reject('"args" must all be strings')
            return
        handler = COMMANDS.get(command)
        if handler is None:
            self.err(f"*** Unknown syntax: {command}")
            self.finish(1)
            return
        try:
            handler(self, args)
        except Exception as exc:
            self.sup.logger.exception(f"control command {command!r} failed", exc)
            self.err(f"Error: {command} failed: {exc}")
            self.finish(1)


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


def cmd_status(c: _Connection, args: list[str]) -> None:
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


def cmd_health(c: _Connection, args: list[str]) -> None:
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
        c: _Connection,
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


def _targets(c: _Connection, args: list[str], verb: str, missing_code: int) -> list[Process] | None:
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


def _start(c: _Connection, processes: list[Process], then: Callable[[int], None]) -> None:
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


def _stop(c: _Connection, processes: list[Process], then: Callable[[int], None]) -> None:
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


def cmd_start(c: _Connection, args: list[str]) -> None:
    processes = _targets(c, args, "start", 2)
    if processes is not None:
        _start(c, processes, c.finish)


def cmd_stop(c: _Connection, args: list[str]) -> None:
    processes = _targets(c, args, "stop", 1)
    if processes is not None:
        _stop(c, processes, c.finish)


def cmd_restart(c: _Connection, args: list[str]) -> None:
    processes = _targets(c, args, "restart", 2)
    if processes is not None:
        _stop(c, processes, lambda code: _start(c, processes, c.finish))


def cmd_signal(c: _Connection, args: list[str]) -> None:
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


def cmd_pid(c: _Connection, args: list[str]) -> None:
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


def cmd_tail(c: _Connection, args: list[str]) -> None:
    follow = "-f" in args
    count = 1600
    rest = []
    for arg in args:
        if arg == "-f":
            continue
        if arg.startswith("-") and arg[1:].isdigit():
            count = int(arg[1:])
        else:
            rest.append(arg)
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
    c.cleanups.append(lambda: watchers.remove(more))


def cmd_events(c: _Connection, args: list[str]) -> None:
    for record in c.server.recent_events[-50:]:
        c.send(json=record)
    if "-f" not in args:
        c.finish(0)
        return

    def more(record: dict[str, Any]) -> None:
        c.send(json=record)

    c.server.event_watchers.append(more)
    c.cleanups.append(lambda: c.server.event_watchers.remove(more))


# -- configuration and the supervisor itself -------------------------------------------


def _reread(c: _Connection, apply: bool) -> None:
    """Have the configuration read again (and applied); answer when that is done."""

    def answer(lines: list[str], problems: list[str]) -> None:
        for problem in problems:
            c.err(f"ERROR: {problem}")
        for line in lines:
            c.out(line)
        c.finish(2 if problems else 0)

    c.sup.reread(answer, apply)


def cmd_reread(c: _Connection, args: list[str]) -> None:
    _reread(c, apply=False)


def cmd_update(c: _Connection, args: list[str]) -> None:
    _reread(c, apply=True)


def cmd_avail(c: _Connection, args: list[str]) -> None:
    for p in sorted(c.sup.processes.values(), key=lambda p: (p.group, p.name)):
        group_priority = c.sup.groups[p.group].priority
        auto = "auto" if p.config.autostart else "manual"
        c.out(f"{namespec(p):<30} in use    {auto:<9} {group_priority}:{p.config.priority}")
    c.finish(0)


def cmd_sendcomm(c: _Connection, args: list[str]) -> None:
    """supervisord's sendRemoteCommEvent: a REMOTE_COMMUNICATION event for listeners."""
    if len(args) != 2:
        c.err("Error: sendcomm requires a type and the data")
        c.finish(2)
        return
    c.sup.bus.publish(events.remote_communication(args[0], args[1]))
    c.finish(0)


def cmd_version(c: _Connection, args: list[str]) -> None:
    c.out(__version__)
    c.finish(0)


def cmd_shutdown(c: _Connection, args: list[str]) -> None:
    c.out("Shut down")
    c.finish(0)
    c.sup.shutdown("asked to by initsup ctl")


COMMANDS: dict[str, Callable[[_Connection, list[str]], None]] = {
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


# -- the socket ------------------------------------------------------------------------


def _listen(path: str, mode: int) -> _socket.socket:
    """A listening, non-blocking unix socket at path, replacing a stale one."""
    _remove_stale(path)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        # Created with the final mode: no window in which others could connect.
        old_umask = os.umask(0o777 & ~mode)
        try:
            sock.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, mode)
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _remove_stale(path: str) -> None:
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    except FileNotFoundError:
        return
    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a leftover of an earlier run
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"another initsup is listening on {path}")


def _peer_uid(conn: _socket.socket) -> int:
    # struct ucred: pid, uid, gid, three 32-bit ints in the machine's order.
    creds = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder)
