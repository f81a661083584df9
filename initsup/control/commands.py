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
from initsup.control.reply import FOLLOW_HEAD, byte_count, in_turn, miss, usage
from initsup.states import RUNNING_STATES, STOPPED_STATES, ProcessState

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.control.api import EventFeed, Host, Result
    from initsup.control.reply import Reply
    from initsup.process import Process

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


def _line(result: Result, words: dict[str, tuple[str, int]]) -> tuple[str, int]:
    process, status = result
    text, code = words[status]
    return f"{api.namespec(process)}: {text}", code


# -- status ----------------------------------------------------------------------------


def cmd_status(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    as_json = "--json" in args
    names = [a for a in args if a != "--json"]
    chosen: list[Process] = []
    code = 0
    for name in names or ["all"]:
        found, missed = api.resolve(host, name)
        if missed:
            reply.out(miss(missed))
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
    flags = [a for a in args if a.startswith("-")]
    names = [a for a in args if not a.startswith("-")]
    if len(flags) > 1 or any(f not in _QUESTIONS for f in flags) or (names and not flags):
        usage(reply, "Error: health takes one of --live, --ready, --startup [NAME]", "health", 2)
        return
    if flags:
        _probe(host, reply, _QUESTIONS[flags[0]], names)
        return
    essential, watched, down = api.health(host)
    if host.shutting_down:
        reply.err("unhealthy: initsup is shutting down")
        reply.finish(1)
        return
    for p in down:
        reply.err(f"unhealthy: {api.namespec(p)} is {p.state.name}")
    if not down:
        kind = "essential" if essential else "autostart"
        done = sum(p.state != ProcessState.RUNNING for p in watched)  # one-shots, done
        ending = f", {done} done" if done else ""
        reply.out(f"healthy: {len(watched) - done} {kind} program(s) RUNNING{ending}")
    reply.finish(1 if down else 0)


# `ctl health`'s flags and the question each asks (initsup.health.verdicts).
_QUESTIONS = {"--live": "live", "--ready": "ready", "--startup": "started"}


def _probe(host: Host, reply: Reply, question: str, names: list[str]) -> None:
    """An exec probe's answer: 0 and one line when good; 1 and a line per failure, naming
    the program and why; supervisorctl's line and 4 for a name that means no process."""
    chosen: list[Process] | None = None
    for name in names:
        found, missed = api.resolve(host, name)
        if missed:
            reply.out(miss(missed))
            reply.finish(4)
            return
        chosen = (chosen or []) + [p for p in found if p not in (chosen or [])]
    judged = api.judge(host, question, chosen)
    failed = [(p, why) for p, good, why in judged if not good]
    for p, why in failed:
        reply.err(f"not {question}: {api.namespec(p)}: {why}" if p else f"not {question}: {why}")
    if not failed:
        programs = [api.namespec(p) for p, _, _ in judged if p is not None]
        said = ", ".join(programs) if names else f"{len(programs)} program(s)"
        reply.out(f"{question}: {said}")
    reply.finish(1 if failed else 0)


# -- start, stop, restart, signal ------------------------------------------------------


def _named(host: Host, reply: Reply, name: str) -> tuple[list[Process], bool] | None:
    """(the processes a name means, whether it means a group or all); None when it means
    none, answered with supervisorctl's line."""
    found, missed = api.resolve(host, name)
    if missed:
        reply.out(miss(missed))
        return None
    return found, api.is_group(name)


# supervisorctl's words for the faults of a command that cannot be started.
_UNSTARTABLE = {api.NO_FILE: "no such file", api.NOT_EXECUTABLE: "file is not executable"}


def _settled(
    reply: Reply, words: dict[str, tuple[str, int]], then: Callable[[int], None]
) -> Callable[[list[Result]], None]:
    """Print the waited-for results in the order of the processes, as supervisorctl prints
    a group call's, then go on with the last error's exit code among them."""

    def done(results: list[Result]) -> None:
        code = 0
        for result in results:
            line, result_code = _line(result, words)
            reply.out(line)
            code = result_code or code
        then(code)

    return done


def _waiting_failed(reply: Reply) -> Callable[[BaseException], None]:
    # Called back from the supervisor's change: a failure is the request's, answered and
    # closed, never the supervisor's.
    def on_error(exc: BaseException) -> None:
        reply.fail("control command failed while waiting", "failed", exc)

    return on_error


def _start_one(host: Host, reply: Reply, name: str, then: Callable[[int], None]) -> None:
    """supervisorctl's start of one name: a group or all starts what is not running."""
    named = _named(host, reply, name)
    if named is None:
        then(2 if api.is_group(name) else 1)
        return
    processes, group = named
    code = 0
    startable = []
    for p in processes:
        if p.state in RUNNING_STATES and group:
            continue
        why = None if p.state in RUNNING_STATES else api.unstartable(p)
        if why:
            reply.out(f"{api.namespec(p)}: ERROR ({_UNSTARTABLE[why[0]]})")
            code = 1
        else:
            startable.append(p)

    def refused(result: Result) -> None:
        reply.out(_line(result, _START_REFUSED)[0])

    forget = api.start(
        host,
        startable,
        refused,
        _settled(reply, _STARTED, lambda last: then(last or code)),
        _waiting_failed(reply),
    )
    if forget is None:
        reply.err("Error: initsup is shutting down")
        then(6)
    else:
        reply.when_gone(forget)


def _stop_one(host: Host, reply: Reply, name: str, then: Callable[[int], None]) -> None:
    """supervisorctl's stop of one name: a group or all stops what is running."""
    named = _named(host, reply, name)
    if named is None:
        then(1)
        return
    processes, group = named

    def refused(result: Result) -> None:
        if not group:  # stopProcessGroup passes over what is not running
            reply.out(_line(result, _STOP_REFUSED)[0])

    settled = _settled(reply, _STOPPED, then)
    forget = api.stop(host, processes, refused, settled, _waiting_failed(reply))
    reply.when_gone(forget)


def cmd_start(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if not args:
        usage(reply, "Error: start requires a process name", "start", 2)
        return
    in_turn(args, lambda name, then: _start_one(host, reply, name, then), reply.finish)


def cmd_stop(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if not args:
        usage(reply, "Error: stop requires a process name", "stop")
        return
    in_turn(args, lambda name, then: _stop_one(host, reply, name, then), reply.finish)


def cmd_restart(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """supervisorctl's restart: `stop NAMES`, then `start NAMES`."""
    if not args:
        usage(reply, "Error: restart requires a process name", "restart")
        return

    def start(stop_code: int) -> None:
        in_turn(
            args,
            lambda name, then: _start_one(host, reply, name, then),
            lambda code: reply.finish(code or stop_code),
        )

    in_turn(args, lambda name, then: _stop_one(host, reply, name, then), start)


def cmd_signal(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if len(args) < 2:
        usage(reply, "Error: signal requires a signal name and a process name", "signal")
        return
    code = 0
    for name in args[1:]:
        named = _named(host, reply, name)
        if named is None:
            code = 1
            continue
        processes, group = named
        if group:  # signalProcessGroup passes over what is not running
            processes = [p for p in processes if p.state in RUNNING_STATES]
        for result in api.send_signal(processes, args[0]):
            line, result_code = _line(result, _SIGNALLED)
            reply.out(line)
            code = result_code or code
    reply.finish(code)


def cmd_pid(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if not args:
        reply.out(str(os.getpid()))
        reply.finish(0)
        return
    if "all" in args:  # supervisorctl: every process, whatever else is named
        for p in api.by_name(host):
            reply.out(str(p.pid))
        reply.finish(0)
        return
    code = 0
    for name in args:
        found, missed = api.resolve(host, name)
        if missed or len(found) != 1:
            reply.out(f"No such process {name}")
            code = 1
            continue
        reply.out(str(found[0].pid))
        if not found[0].pid:
            code = 7
    reply.finish(code)


# -- tail and events ---------------------------------------------------------------------


def _tail_args(reply: Reply, args: list[str]) -> tuple[str, str, int | None] | None:
    """(NAME, stdout or stderr, the byte count or None to follow), as supervisorctl reads
    them; None when answered with an error."""
    if not args or len(args) > 3:
        few = "few" if not args else "many"
        usage(reply, f"Error: too {few} arguments", "tail")
        return None
    modifier = args[0] if args[0].startswith("-") else None
    rest = args[1:] if modifier else args
    if not rest:
        reply.out("Error: tail requires process name")
        reply.finish(1)
        return None
    channel = rest[-1].lower() if len(rest) > 1 else "stdout"
    if channel not in ("stdout", "stderr"):
        reply.out(f"Error: bad channel {channel!r}")
        reply.finish(1)
        return None
    try:
        count = byte_count(modifier)
    except ValueError:
        reply.out(f"Error: bad argument {modifier}")
        reply.finish(1)
        return None
    return rest[0], channel, count


def cmd_tail(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    parsed = _tail_args(reply, args)
    if parsed is None:
        return
    name, stream, count = parsed
    found, missed = api.resolve(host, name)
    if missed or len(found) != 1:
        reply.out(f"{name}: ERROR (no such process name)")
        reply.finish(1)
        return
    if count is not None:
        recent = api.recent_output(host, found[0], stream, count)
        reply.data(recent.decode("utf-8", "backslashreplace") + "\n")  # supervisorctl's
        reply.finish(0)
        return
    reply.out("==> Press Ctrl-C to exit <==")
    recent = api.recent_output(host, found[0], stream, FOLLOW_HEAD)
    if recent:
        reply.data(recent.decode("utf-8", "backslashreplace"))

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


def _no_arguments(reply: Reply, command: str, args: list[str]) -> bool:
    """supervisorctl's answer to arguments for a command that takes none; True if given."""
    if args:
        usage(reply, f"Error: {command} accepts no arguments", command)
    return bool(args)


def cmd_reread(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if not _no_arguments(reply, "reread", args):
        _reread(host, reply, apply=False)


def cmd_update(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    names = [name for name in args if name != "all"]
    if names:
        from initsup.control import admin

        admin.update_groups(host, reply, names)
    else:
        _reread(host, reply, apply=True)


def cmd_sendcomm(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """supervisord's sendRemoteCommEvent: a REMOTE_COMMUNICATION event for listeners."""
    if len(args) != 2:
        reply.err("Error: sendcomm requires a type and the data")
        reply.finish(2)
        return
    api.send_remote_comm(host, args[0], args[1])
    reply.finish(0)


def cmd_version(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if not _no_arguments(reply, "version", args):
        reply.out(__version__)
        reply.finish(0)


def cmd_shutdown(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    if _no_arguments(reply, "shutdown", args):
        return
    reply.out("Shut down")
    reply.finish(0)
    api.shutdown(host, "asked to by initsup ctl")


# supervisorctl's commands about groups, logs and initsup itself, in control/admin.py:
# loaded on first use, as most containers never call them.
ADMIN = ("avail", "add", "remove", "clear", "maintail", "fg", "reload")


def _admin(name: str) -> Command:
    def run(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
        from initsup.control import admin

        admin.COMMANDS[name](host, feed, reply, args)

    return run


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
    "version": cmd_version,
    "sendcomm": cmd_sendcomm,
    "shutdown": cmd_shutdown,
    **{name: _admin(name) for name in ADMIN},
}


def run(host: Host, feed: EventFeed, reply: Reply, command: str, args: list[str]) -> None:
    """Answer one control request, whichever transport brought it (the socket, POST
    /initsup/ctl): supervisorctl's line for an unknown command, and any failure of the
    command answered on the reply and logged, never raised."""
    handler = COMMANDS.get(command)
    if handler is None:
        reply.err(f"*** Unknown syntax: {command}")
        reply.finish(1)
        return
    try:
        handler(host, feed, reply, args)
    except Exception as exc:
        reply.fail(f"control command {command!r} failed", f"{command} failed", exc)
