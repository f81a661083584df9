"""supervisorctl's commands about groups, logs and initsup itself: avail, add, remove,
clear, maintail, fg and reload, with supervisorctl's lines and exit codes.

They are initsup.control.commands' siblings (that module's table lists them too), kept
apart so that neither grows past what one can read at once.  As there, each command reads
its arguments, asks initsup.control.api and words the answer for a Reply.
"""

from __future__ import annotations

from initsup.control import api
from initsup.control.reply import FOLLOW_HEAD, byte_count, in_turn, usage
from initsup.states import ProcessState

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.control.api import EventFeed, Host
    from initsup.control.reply import Reply

    Command = Callable[[Host, EventFeed, Reply, list[str]], None]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def cmd_avail(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """Every process of the configuration last read, added or not (getAllConfigInfo)."""
    if args:
        usage(reply, "Error: avail accepts no arguments", "avail")
        return
    rows = []
    # The groups last read, and (until a reread reads them again) the ones running.
    read = {group.name for group in host.configured}
    running = [group for group in host.groups.values() if group.name not in read]
    for group in [*host.configured, *running]:
        inuse = "in use" if group.name in host.groups else "avail"
        for config in group.processes:
            auto = "auto" if config.autostart else "manual"
            spec = config.name if config.name == group.name else f"{group.name}:{config.name}"
            rows.append((config.name, spec, inuse, auto, f"{group.priority}:{config.priority}"))
    rows.sort(key=lambda row: row[0])  # supervisord sorts by the process's own name
    for _, spec, inuse, auto, priorities in rows:
        reply.out(f"{spec:<32} {inuse:<9} {auto:<9} {priorities}")
    reply.finish(0)


def cmd_add(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """Add groups of the configuration last read (`reread` reads it)."""
    code = 0
    for name in args:
        if host.shutting_down:
            reply.out("ERROR: shutting down")
            code = 1
            continue
        result = api.add_group(host, name)
        if result == api.ADDED:
            reply.out(f"{name}: added process group")
        elif result == api.ALREADY_ADDED:
            reply.out("ERROR: process group already active")
        else:
            reply.out(f"ERROR: no such process/group: {name}")
            code = 1
    reply.finish(code)


def cmd_remove(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """Remove groups whose processes are all stopped."""
    code = 0
    for name in args:
        result = api.remove_group(host, name)
        if result == api.REMOVED:
            reply.out(f"{name}: removed process group")
            continue
        code = 1
        if result == api.STILL_RUNNING:
            reply.out(f"ERROR: process/group still running: {name}")
        else:
            reply.out(f"ERROR: no such process/group: {name}")
    reply.finish(code)


def cmd_clear(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """Forget processes' recent output (clearProcessLogs, clearAllProcessLogs)."""
    if not args:
        usage(reply, "Error: clear requires a process name", "clear")
        return
    if "all" in args:
        for p in api.by_name(host):
            api.clear_output(host, p)
            reply.out(f"{api.namespec(p)}: cleared")
        reply.finish(0)
        return
    code = 0
    for name in args:
        found, missed = api.resolve(host, name)
        if missed or len(found) != 1 or api.is_group(name):
            group, _, process = name.partition(":")
            reply.out(f"{process if process == group else name}: ERROR (no such process)")
            code = 1
            continue
        api.clear_output(host, found[0])
        reply.out(f"{api.namespec(found[0])}: cleared")
    reply.finish(code)


def cmd_maintail(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """The records initsup wrote last (its main log), or those and what follows (-f)."""
    if len(args) > 1:
        usage(reply, "Error: too many arguments", "maintail")
        return
    modifier = args[0] if args else None
    try:
        count = byte_count(modifier)
    except ValueError:
        reply.out(f"Error: bad argument {modifier}")
        reply.finish(1)
        return
    if count is not None:
        reply.data(_text(api.main_log(host, count)) + "\n")  # supervisorctl's newline
        reply.finish(0)
        return
    reply.out("==> Press Ctrl-C to exit <==")
    recent = api.main_log(host, FOLLOW_HEAD)
    if recent:
        reply.data(_text(recent))
    reply.stream(api.follow_main_log(host, lambda data: reply.data(_text(data))))


def cmd_fg(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """A process's stdout and stderr as they come, until ^C.

    initsup's programs read /dev/null, so there is no stdin to type into: `initsup ctl`
    ends `fg` at the first line typed, saying so (supervisord's NO_FILE).
    """
    if not args:
        usage(reply, "ERROR: no process name supplied", "fg")
        return
    if len(args) > 1:
        reply.out("ERROR: too many process names supplied")
        reply.finish(1)
        return
    found, missed = api.resolve(host, args[0])
    if missed or len(found) != 1 or api.is_group(args[0]):
        reply.out("ERROR: bad process name supplied")
        reply.finish(1)
        return
    process = found[0]
    if process.state != ProcessState.RUNNING:
        reply.out("ERROR: process not running")
        reply.finish(1)
        return
    reply.out("==> Press Ctrl-C to exit <==")
    forgets = []
    for stream in ("stdout", "stderr"):
        if stream == "stderr" and process.config.redirect_stderr:
            break  # stderr is in stdout's feed: following both would show it twice
        recent = api.recent_output(host, process, stream, FOLLOW_HEAD)
        if recent:
            reply.data(_text(recent))
        forgets.append(
            api.follow_output(host, process, stream, lambda data: reply.data(_text(data)))
        )

    def forget_both() -> None:
        for forget in forgets:
            forget()

    reply.stream(forget_both)


def cmd_reload(host: Host, feed: EventFeed, reply: Reply, args: list[str]) -> None:
    """Stop every program, read the configuration again and start anew (restart).

    The shell asks "Really restart ...?" before it sends this; the command itself does not.
    """
    if args:
        usage(reply, "Error: reload accepts no arguments", "reload")
        return
    if host.shutting_down:
        reply.out("ERROR: already shutting down")
        reply.finish(1)
        return
    reply.out("Restarted supervisord")
    reply.finish(0)
    api.restart(host)


COMMANDS: dict[str, Command] = {
    "avail": cmd_avail,
    "add": cmd_add,
    "remove": cmd_remove,
    "clear": cmd_clear,
    "maintail": cmd_maintail,
    "fg": cmd_fg,
    "reload": cmd_reload,
}


def update_groups(host: Host, reply: Reply, names: list[str]) -> None:
    """`update GROUP...`: supervisorctl's own steps, for the named groups only: read the
    configuration (reloadConfig), then stop and remove those gone, stop, remove and add
    back those changed, add those new, one at a time; unknown names are said first."""

    def diffed(diff: tuple[list[str], list[str], list[str]] | None, problems: list[str]) -> None:
        if diff is None:
            for problem in problems:
                reply.out(f"ERROR: CANT_REREAD: {problem}")
            reply.finish(2)
            return
        added, changed, removed = diff
        code = 0
        for name in names:
            if name not in host.groups and name not in added:
                reply.out(f"ERROR: no such group: {name}")
                code = 1
        kinds = {n: "removed" for n in removed} | {n: "changed" for n in changed}
        kinds.update({n: "added" for n in added})
        order = [n for n in (*removed, *changed, *added) if n in names]
        in_turn(
            order,
            lambda name, answered: _update_one(host, reply, name, kinds[name], answered),
            lambda last: reply.finish(code or last),
        )

    api.reread_diff(host, diffed)


def _update_one(
    host: Host, reply: Reply, name: str, kind: str, answered: Callable[[int], None]
) -> None:
    if kind == "added":
        api.add_group(host, name)
        reply.out(f"{name}: added process group")
        answered(0)
        return

    def stopped(results: object) -> None:
        reply.out(f"{name}: stopped")
        api.remove_group(host, name)
        if kind == "removed":
            reply.out(f"{name}: removed process group")
        else:
            api.add_group(host, name)
            reply.out(f"{name}: updated process group")
        answered(0)

    def failed(exc: BaseException) -> None:
        reply.fail("control command failed while waiting", "failed", exc)

    processes = [p for p in host.processes.values() if p.group == name]
    reply.when_gone(api.stop(host, processes, lambda result: None, stopped, failed))
