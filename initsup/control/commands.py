"""supervisorctl's commands for `initsup ctl`: their arguments, wording and exit codes.

Each command reads its arguments, asks initsup.control.api, and words the answer line by
line exactly as supervisorctl 4 does, with its exit codes, so that scripts written for
supervisorctl keep working (docs/control.md lists them).  A command writes to a Reply
(the control socket's connection provides one) and never to a socket: what goes over the
wire, and how, is initsup.control.server's business.
"""

from __future__ import annotations

import os
import time

from initsup import __version__
from initsup.control import api
from initsup.states import STOPPED_STATES

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.control.api import EventFeed, Host, Result
    from initsup.process import Process

    class Reply(Protocol):
        """Where a command's answer goes, line by line, then its exit code."""

        def out(self, text: str) -> None: ...  # a line for stdout
        def err(self, text: str) -> None: ...  # a line for stderr
        def data(self, text: str) -> None: ...  # text to write as it is (tail)
        def json(self, value: Any) -> None: ...  # a value to print as JSON
        def finish(self, code: int) -> None: ...  # the exit code: the answer is complete
        def fail(self, event: str, what: str, exc: BaseException) -> None: ...  # log, answer
        def when_gone(self, forget: Callable[[], None]) -> None: ...  # on the client's end
        def stream(self, forget: Callable[[], None]) -> None: ...  # answer until it goes

    Command = Callable[[Host, EventFeed, Reply, list[str]], None]


# What supervisorctl says after "NAME: " for each outcome, and the exit code it means, per
# command (a process not running is fine for `stop`, an error for `signal`).
_STARTED = {api.STARTED: ("started", 0), api.SPAWN_ERROR: ("ERROR (spawn error)", 7)}
_START_REFUSED = {api.ALREADY_STARTED: ("ERROR (already started)", 0)}
_STOPPED = {api.STOPPED: ("stopped", 0)}
_STOP_REFUSED = {api.NOT_RUNNING: ("ERROR (not running)", 0)}
_SIGNALLED = {
    api.SIGNALLED: ("signalled", 0),
    api.NOT_RUNNING: ("ERROR (not running)", 7),
    api.BAD_SIGNAL: ("ERROR (bad signal name)", 1),
}
_NO_SUCH = {
    api.NO_SUCH_GROUP: "no such group",
    api.NO_SUCH_PROCESS: "no such process",
    api.AMBIGUOUS: "ambiguous: use GROUP:NAME",
}


def _line(result: Result, words: dict[str, tuple[str, int]]) -> tuple[str, int]:
    process, status = result
    text, code = words[status]
    return f"{api.namespec(process)}: {text}", code


def _miss(reason: tuple[str, str]) -> str:
    name, why = reason
    return f"{name}: ERROR ({_NO_SUCH[why]})"


# -- status ----------------------------------------------------------------------------


def cmd_status(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    as_json = "--json" in args
    names = [a for a in args if a != "--json"]
    chosen: list[Process] = []
    code = 0
    for name in names or ["all"]:
        found, miss = api.resolve(host, name)
        if miss:
            reply.out(_miss(miss))
            code = 4
        chosen += [p for p in found if p not in chosen]
    chosen.sort(key=lambda p: (p.group, p.name))
    now = time.time()
    if as_json:
        reply.json([api.info(p, now) for p in chosen])
    else:
        width = max([30, *(len(api.namespec(p)) for p in chosen)]) + 3
        for p in chosen:
            line = f"{api.namespec(p).ljust(width)}{p.state.name.ljust(10)}{api.describe(p, now)}"
            reply.out(line.rstrip())
    if code == 0 and any(p.state in STOPPED_STATES for p in chosen):
        code = 3
    reply.finish(code)


def cmd_health(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    essential, watched, down = api.health(host)
    if host.shutting_down:
        reply.err("unhealthy: initsup is shutting down")
        reply.finish(1)
        return
    for p in down:
        reply.err(f"unhealthy: {api.namespec(p)} is {p.state.name}")
    if not down:
        kind = "essential" if essential else "autostart"
        reply.out(f"healthy: {len(watched)} {kind} program(s) RUNNING")
    reply.finish(1 if down else 0)


# -- start, stop, restart, signal ------------------------------------------------------


def _targets(
    host: Host, reply: Reply, args: list[str], verb: str, missing: int
) -> list[Process] | None:
    """The processes args name, in order, once each; None when answered with an error."""
    if not args:
        reply.err(f"Error: {verb} requires a process name")
        reply.finish(missing)
        return None
    chosen: list[Process] = []
    for name in args:
        found, miss = api.resolve(host, name)
        if miss:
            reply.out(_miss(miss))
            reply.finish(2 if api.is_group(name) else 1)
            return None
        chosen += [p for p in found if p not in chosen]
    return chosen


def _settled(
    reply: Reply, words: dict[str, tuple[str, int]], then: Callable[[int], None]
) -> Callable[[list[Result]], None]:
    """Print the waited-for results in the order of the processes, as supervisorctl prints
    a group call's, then go on with the highest exit code among them."""

    def done(results: list[Result]) -> None:
        code = 0
        for result in results:
            line, result_code = _line(result, words)
            reply.out(line)
            code = max(code, result_code)
        then(code)

    return done


def _waiting_failed(reply: Reply) -> Callable[[BaseException], None]:
    # Called back from the supervisor's change: a failure is the request's, answered and
    # closed, never the supervisor's.
    def on_error(exc: BaseException) -> None:
        reply.fail("control command failed while waiting", "failed", exc)

    return on_error


def _start(host: Host, reply: Reply, processes: list[Process], then: Callable[[int], None]) -> None:
    def refused(result: Result) -> None:
        reply.out(_line(result, _START_REFUSED)[0])

    forget = api.start(
        host, processes, refused, _settled(reply, _STARTED, then), _waiting_failed(reply)
    )
    if forget is None:
        reply.err("Error: initsup is shutting down")
        then(6)
    else:
        reply.when_gone(forget)


def _stop(host: Host, reply: Reply, processes: list[Process], then: Callable[[int], None]) -> None:
    def refused(result: Result) -> None:
        reply.out(_line(result, _STOP_REFUSED)[0])

    forget = api.stop(
        host, processes, refused, _settled(reply, _STOPPED, then), _waiting_failed(reply)
    )
    reply.when_gone(forget)


def cmd_start(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    processes = _targets(host, reply, args, "start", 2)
    if processes is not None:
        _start(host, reply, processes, reply.finish)


def cmd_stop(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    processes = _targets(host, reply, args, "stop", 1)
    if processes is not None:
        _stop(host, reply, processes, reply.finish)


def cmd_restart(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    processes = _targets(host, reply, args, "restart", 2)
    if processes is not None:
        _stop(host, reply, processes, lambda code: _start(host, reply, processes, reply.finish))


def cmd_signal(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if len(args) < 2:
        reply.err("Error: signal requires a signal name and a process name")
        reply.finish(2)
        return
    processes = _targets(host, reply, args[1:], "signal", 2)
    if processes is None:
        return
    code = 0
    for result in api.send_signal(processes, args[0]):
        line, result_code = _line(result, _SIGNALLED)
        reply.out(line)
        code = max(code, result_code)
    reply.finish(code)


def cmd_pid(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if not args:
        reply.out(str(os.getpid()))
        reply.finish(0)
        return
    code = 0
    for name in args:
        found, miss = api.resolve(host, name)
        if miss:
            reply.out(_miss(miss))
            code = max(code, 1)
        for p in found:
            reply.out(str(p.pid))
            if not p.pid and name != "all":
                code = 7
    reply.finish(code)


# -- tail and events ---------------------------------------------------------------------


def _tail_args(reply: Reply, args: list[str]) -> tuple[list[str], int] | None:
    """(NAME and maybe the stream, the byte count), or None when answered with an error."""
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
            reply.err(f"Error: tail: bad option {arg} (use -f, or -BYTES with BYTES a number)")
            reply.finish(2)
            return None
    if not rest or len(rest) > 2 or (len(rest) == 2 and rest[1] not in ("stdout", "stderr")):
        reply.err("Error: tail requires a process name, and optionally stdout or stderr")
        reply.finish(2)
        return None
    return rest, count


def cmd_tail(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    parsed = _tail_args(reply, args)
    if parsed is None:
        return
    rest, count = parsed
    found, miss = api.resolve(host, rest[0])
    if miss or len(found) != 1:
        reply.out(f"{rest[0]}: ERROR (no such process name)")
        reply.finish(1)
        return
    stream = rest[1] if len(rest) == 2 else "stdout"
    recent = api.recent_output(host, found[0], stream, count)
    if recent:
        reply.data(recent.decode("utf-8", "backslashreplace"))
    if "-f" not in args:
        reply.finish(0)
        return

    def more(data: bytes) -> None:
        reply.data(data.decode("utf-8", "backslashreplace"))

    reply.stream(api.follow_output(host, found[0], stream, more))


def cmd_events(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    for record in feed.recent(50):
        reply.json(record)
    if "-f" not in args:
        reply.finish(0)
        return
    reply.stream(feed.follow(reply.json))


# -- configuration and the supervisor itself -------------------------------------------


def _reread(host: Host, reply: Reply, apply: bool) -> None:
    """Have the configuration read again (and applied); answer when that is done."""

    def answer(lines: list[str], problems: list[str]) -> None:
        for problem in problems:
            reply.err(f"ERROR: {problem}")
        for line in lines:
            reply.out(line)
        reply.finish(2 if problems else 0)

    api.reread(host, answer, apply)


def cmd_reread(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    _reread(host, reply, apply=False)


def cmd_update(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    _reread(host, reply, apply=True)


def cmd_avail(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    for p in api.by_name(host):
        auto = "auto" if p.config.autostart else "manual"
        priorities = f"{api.group_priority(host, p)}:{p.config.priority}"
        reply.out(f"{api.namespec(p):<30} in use    {auto:<9} {priorities}")
    reply.finish(0)


def cmd_sendcomm(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """supervisord's sendRemoteCommEvent: a REMOTE_COMMUNICATION event for listeners."""
    if len(args) != 2:
        reply.err("Error: sendcomm requires a type and the data")
        reply.finish(2)
        return
    api.send_remote_comm(host, args[0], args[1])
    reply.finish(0)


def cmd_version(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    reply.out(__version__)
    reply.finish(0)


def cmd_shutdown(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    reply.out("Shut down")
    reply.finish(0)
    api.shutdown(host, "asked to by initsup ctl")


COMMANDS: dict[str, Command] = {
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
