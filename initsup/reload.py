"""Reload: read the configuration again, compare it group by group with what runs (Diff),
and carry the difference out: stop and remove a group that is gone, stop, remove, add
back and start a group that changed, add and start a new one, leave the others alone.

Reloads run one at a time: SIGHUP, `ctl reread` and `ctl update`, XML-RPC's reloadConfig
(a read that applies nothing) and the read of a restart, queued in the order asked.  Every
read that succeeds becomes the host's `configured` groups, what addProcessGroup adds from.

Why one at a time: a reload compares the new configuration with the groups that run, and
an apply that is still stopping a changed group has not yet replaced it; a second reload
started then would see the old group again and replace it a second time, leaving the
first new copy running untracked.  Queued, the second reload reads and compares only
after the first has finished, and finds what the first left running.

Why SIGHUPs coalesce: each reload forks and parses the whole configuration.  A SIGHUP
that comes while one is queued already asks for nothing more (that one will read the
file as it is by then), several taken at one wake-up are one reload, and a SIGHUP's
reload starts at least SIGHUP_SPACING after the previous one's end, so a storm of them
makes about one reload a second, not one each.

Reading goes through the loop (initsup.config.reader.Watch), so however long the configuration
takes to read, PID 1 goes on reaping, relaying and answering.  The reader is a child of
PID 1 like the programs: its pid is registered with the reaper's owners, and its exit
comes back here.
"""

from __future__ import annotations

from initsup import events
from initsup.config.reader import Loader, LoadFailed, Watch
from initsup.waits import stopped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from initsup.events import EventBus
    from initsup.logs import Logger
    from initsup.loop import EventLoop, Timer
    from initsup.model import Config, GroupConfig
    from initsup.process import Process
    from initsup.reaper import Owners
    from initsup.waits import Waits

    # answer(lines, problems): supervisorctl's lines, or every reason the reload failed.
    Answer = Callable[[list[str], list[str]], None]
    # answer((added, changed, removed), problems): control.api's DiffAnswer.
    DiffAnswer = Callable[[tuple[list[str], list[str], list[str]] | None, list[str]], None]
    # Starts a child reading the configuration (raises config.reader.LoadFailed when it cannot).
    Reloader = Callable[[], Loader]

    class Host(Protocol):
        """What a reload uses of the supervisor whose groups it replaces."""

        config: Config
        configured: list[GroupConfig]  # the groups of the configuration last read
        groups: dict[str, GroupConfig]
        processes: dict[str, Process]
        loop: EventLoop
        logger: Logger
        bus: EventBus
        waits: Waits
        owners: Owners

        @property
        def shutting_down(self) -> bool: ...  # shutting down or restarting

        @property
        def restarting(self) -> bool: ...

        def restarted(self, config: Config | None) -> None: ...  # None: the same again

        def add_group(self, group: GroupConfig) -> None: ...

        def start_group(self, group: GroupConfig) -> None: ...

        def remove_group(self, name: str) -> None: ...


# Seconds between the end of a SIGHUP's reload and the start of the next SIGHUP's: a
# storm of them (a config-sync sidecar signalling once per changed file) is one reload at
# once and one more, a second later, that sees every change.  `ctl` requests do not wait
# for it.
SIGHUP_SPACING = 1.0


class _Request:
    __slots__ = ("answer", "apply", "diff", "restart")

    def __init__(
        self,
        answer: Answer | None,
        apply: bool,
        diff: DiffAnswer | None = None,
        restart: bool = False,
    ) -> None:
        self.answer = answer  # None: a SIGHUP, a diff or a restart
        self.apply = apply
        self.diff = diff  # reloadConfig's answer: group names, nothing applied
        self.restart = restart  # the read between a restart's stop and its new start

    @property
    def logged(self) -> bool:
        """Whether only the log hears of this request's failure (SIGHUP, restart)."""
        return self.answer is None and self.diff is None


class Reloads:
    """The queue of reloads of one Supervisor, and the one being carried out."""

    def __init__(self, host: Host, reloader: Reloader | None) -> None:
        self._sup = host
        self._reloader = reloader
        self._queue: list[_Request] = []
        self._current: _Request | None = None
        self._watch: Watch | None = None
        self._calm_until = 0.0  # a SIGHUP's reload does not start before then
        self._pause: Timer | None = None
        host.bus.subscribe(self._on_event)

    def ask(self, answer: Answer | None, apply: bool) -> None:
        """Queue a reload; answer None is a SIGHUP, which coalesces with a queued one."""
        if answer is None and any(_is_sighup(r) for r in self._queue):
            return
        self._queue.append(_Request(answer, apply))
        if answer is None:
            # At the end of this pass, not now: the other SIGHUPs taken in the same
            # wake-up then find this one queued, and all of them are one reload.
            self._sup.loop.call_later(0, self._next)
        else:
            self._next()

    def ask_diff(self, answer: DiffAnswer) -> None:
        """Queue a read that only compares (reloadConfig): answer gets the group names."""
        self._queue.append(_Request(None, False, diff=answer))
        self._next()

    def restart_read(self) -> None:
        """Every program stopped for a restart: read the configuration, ahead of anything
        queued, and hand it to host.restarted (None when it was refused)."""
        if not self._sup.restarting:
            return  # a shutdown overtook the restart
        self._queue.insert(0, _Request(None, False, restart=True))
        self._next()

    def stop_reading(self, problem: str) -> None:
        """Stop the read under way and answer every queued request with problem."""
        if self._pause is not None:
            self._pause.cancel()
            self._pause = None
        if self._watch is not None:
            self._watch.cancel()
            self._refuse([problem])
        while self._queue and self._current is None:
            self._next()

    def exited(self, pid: int, status: int) -> None:
        """A configuration's reader was reaped: the current one's status completes its
        read; one killed earlier (that had not died at once) needs nothing more."""
        watch = self._watch
        if watch is not None and watch.loader.pid == pid and watch.loader.status is None:
            watch.reaped(status)

    def _next(self) -> None:
        if self._current is not None or not self._queue:
            return
        if self._sup.shutting_down and not (self._queue[0].restart and self._sup.restarting):
            self._current = self._queue.pop(0)
            self._refuse([self._why_not()])
            return
        self._current = self._take()
        if self._current is None:
            return
        if self._reloader is None:  # only a restart gets here without one: start again
            self._finish([])
            self._sup.restarted(None)
            return
        try:
            loader = self._reloader()
        except LoadFailed as exc:  # no process to read with: say so, leak nothing
            self._refuse([str(exc)])
            return
        try:
            self._watch = Watch(loader, self._sup.loop, self._loaded, self._failed)
        except Exception as exc:  # the loop refused the pipe: nothing may be left behind
            loader.close()
            self._refuse([f"could not watch the configuration's reader: {exc}"])
            return
        self._sup.owners.add(loader.pid, self)

    def _why_not(self) -> str:
        return "initsup is restarting" if self._sup.restarting else "initsup is shutting down"

    def _take(self) -> _Request | None:
        """The first request, but a SIGHUP soon after the last waits (ctl ones go first)."""
        too_soon = self._sup.loop.clock() < self._calm_until
        for index, request in enumerate(self._queue):
            if not _is_sighup(request) or not too_soon:
                return self._queue.pop(index)
        if self._pause is None:
            self._pause = self._sup.loop.call_at(self._calm_until, self._resume)
        return None

    def _resume(self) -> None:
        self._pause = None
        self._calm_until = 0.0
        self._next()

    def _failed(self, reason: str) -> None:
        self._refuse([reason])

    def _loaded(self, loader: Loader) -> None:
        self._forget_watch()
        request = self._current
        assert request is not None
        try:
            new, warnings = loader.result()
        except Exception as exc:  # a bad configuration: keep running what runs
            for warning in getattr(exc, "warnings", None) or []:
                self._sup.logger.warning(warning)  # a typo warned of explains the error
            self._refuse(list(getattr(exc, "problems", None) or [str(exc)]))
            return
        for warning in warnings:
            self._sup.logger.warning(warning)
        if request.restart:
            self._finish([])
            if self._sup.restarting:
                self._sup.restarted(new)
            return
        if self._sup.shutting_down:
            self._refuse([self._why_not()])
            return
        self._sup.configured = list(new.groups)
        diff = Diff(self._sup.groups, new)
        if request.diff is not None:
            self._finish([])
            request.diff((diff.added, diff.changed, diff.removed), [])
        elif request.apply:
            apply(self._sup, diff, self._finish)
        else:
            self._finish(diff.lines())

    def _refuse(self, problems: list[str]) -> None:
        self._forget_watch()
        request = self._current
        # A restart a shutdown overtook has nothing to say: the shutdown is said.
        if request is not None and request.logged and (self._sup.restarting or not request.restart):
            what = "restart" if request.restart else "reload"
            for problem in problems:
                self._sup.logger.error(f"{what} refused: {problem}")
        self._finish([], problems)
        if request is not None and request.diff is not None:
            request.diff(None, problems)
        if request is not None and request.restart and self._sup.restarting:
            self._sup.restarted(None)  # not after a shutdown overtook the restart

    def _forget_watch(self) -> None:
        # A reader not reaped yet stays registered: the reaper will bring its news (to
        # exited(), which then has nothing to do).  One reaped by the Loader itself is
        # forgotten now, before its pid can be reused.
        if self._watch is not None and self._watch.loader.status is not None:
            self._sup.owners.forget(self._watch.loader.pid, self)
        self._watch = None

    def _finish(self, lines: list[str], problems: list[str] | None = None) -> None:
        request, self._current = self._current, None
        if request is not None and _is_sighup(request):
            self._calm_until = self._sup.loop.clock() + SIGHUP_SPACING
        if request is not None and request.answer is not None:
            request.answer(lines, problems or [])
        if self._queue:
            # From the loop, not from here: a queue of requests that all fail at once
            # must not recurse once per request.
            self._sup.loop.call_later(0, self._next)

    def _on_event(self, event: events.Event) -> None:
        """At shutdown: stop reading, and answer every queued request."""
        if event.name == "SUPERVISOR_STATE_CHANGE_STOPPING":
            self.stop_reading(self._why_not())


def _is_sighup(request: _Request) -> bool:
    return request.logged and not request.restart


# -- carrying a difference out -----------------------------------------------------------


class Diff:
    """How a newly read configuration differs from the running one, by group name."""

    def __init__(self, running: dict[str, GroupConfig], new: Config) -> None:
        new_groups = {g.name: g for g in new.groups}
        self.new = new
        self.added = sorted(n for n in new_groups if n not in running)
        self.changed = sorted(n for n in running if n in new_groups and running[n] != new_groups[n])
        self.removed = sorted(n for n in running if n not in new_groups)

    def lines(self) -> list[str]:
        """supervisorctl's `reread` lines."""
        words = [(n, "available") for n in self.added]
        words += [(n, "changed") for n in self.changed]
        words += [(n, "disappeared") for n in self.removed]
        return [f"{name}: {word}" for name, word in sorted(words)] or [
            "No config updates to processes"
        ]


def apply(host: Host, diff: Diff, done: Callable[[list[str]], None] | None = None) -> None:
    """Carry out a Diff; done(lines) gets supervisorctl's `update` lines at the end."""
    host.logger.info(
        "configuration reloaded: "
        f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed",
        added=diff.added,
        changed=diff.changed,
        removed=diff.removed,
    )
    host.config = diff.new
    lines: list[str] = []
    pending = set(diff.removed + diff.changed)
    new_groups = {g.name: g for g in diff.new.groups}

    def replaced(name: str) -> None:
        verb = "updated" if name in new_groups else "removed"
        lines.extend([f"{name}: stopped", f"{name}: {verb} process group"])
        pending.discard(name)
        if not pending:
            finish()

    def finish() -> None:
        for name in diff.added:
            host.add_group(new_groups[name])
            host.start_group(new_groups[name])
            lines.append(f"{name}: added process group")
        if done is not None:
            done(lines)

    for name in diff.removed + diff.changed:
        _replace_group(host, name, new_groups.get(name), replaced)
    if not pending:
        finish()


def _replace_group(
    host: Host, name: str, new: GroupConfig | None, done: Callable[[str], None]
) -> None:
    """Stop every process of group name; once all have stopped, remove the group and
    add and start new in its place (if any), then done(name)."""
    old = [p for key, p in host.processes.items() if key.startswith(name + ":")]

    def swap() -> None:
        host.remove_group(name)
        if new is not None:
            host.add_group(new)
            host.start_group(new)
        done(name)

    host.waits.all_settled(old, stopped, swap)
    for process in old:
        process.stop()
    host.waits.recheck_soon()  # in a later pass: some may be stopped already
