"""A host for in-process tests of the control floor, and a Reply that records the answer.

`ControlHost` is tests.fakes.FakeHost (fake clock, fake spawns) plus what
initsup.control.api's Host protocol asks: the processes and groups, an event bus, and the
real Waits and OutputFeeds, told of every change as the supervisor tells them.  So a
command runs over the same waits and feeds as in initsup, with time under the test's hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from initsup import events, logs, reaper
from initsup.alerts.hub import Alerts
from initsup.control.api import EventFeed
from initsup.feeds import OutputFeeds
from initsup.health.monitor import Health
from initsup.model import Config, GroupConfig, ProcessConfig
from initsup.pools import Pools
from initsup.process import Process
from initsup.states import STOPPED_STATES
from initsup.waits import Waits
from tests.fakes import FakeHost, exited


class ControlHost(FakeHost):
    """The supervisor as control sees it, over a fake clock."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: dict[str, Process] = {}
        self.groups: dict[str, GroupConfig] = {}
        self.bus = events.EventBus()
        self.bus.subscribe(self.events.append)
        self.waits = Waits(lambda callback: self.call_later(0, callback))
        self.health: Health | None = None
        self.output = OutputFeeds()
        self.owners = reaper.Owners(lambda pid, status: None)
        self.pools: Pools | None = None
        self.alerts: Alerts | None = None
        self.loop: Any = None  # control's commands never touch the loop
        self.logged: list[logs.Record] = []  # what the logger wrote
        self.logger: Any = logs.Logger(self.logged.append, "debug")  # tests may swap it
        self.rereads: list[bool] = []  # the `apply` of each reread asked for
        self.shutdowns: list[str] = []
        self.restarts = 0
        self.restarting = False
        self.configured: list[GroupConfig] = []  # what add_configured_group adds from
        self.diff: tuple[list[str], list[str], list[str]] = ([], [], [])  # reread_diff's
        self.feed = EventFeed(self.bus)  # the control server's, made with it
        self.config = Config()  # the configuration running: its options

    def publish(self, event: events.Event) -> None:
        self.bus.publish(event)

    def changed(self, process: Process) -> None:
        super().changed(process)
        self.waits.changed(process)

    def reread(self, answer: Callable[[list[str], list[str]], None], apply: bool = False) -> None:
        self.rereads.append(apply)
        answer(["web: changed"], [])

    def reread_diff(
        self,
        answer: Callable[[tuple[list[str], list[str], list[str]] | None, list[str]], None],
    ) -> None:
        self.rereads.append(False)
        answer(self.diff, [])

    def add_configured_group(self, name: str) -> str:
        if name in self.groups:
            return "ALREADY_ADDED"
        for group in self.configured:
            if group.name == name:
                self.groups[name] = group
                for config in group.processes:
                    self.processes[f"{name}:{config.name}"] = Process(config, self)
                return "ADDED"
        return "BAD_NAME"

    def remove_stopped_group(self, name: str) -> str:
        group = self.groups.get(name)
        if group is None:
            return "BAD_NAME"
        keys = [f"{name}:{config.name}" for config in group.processes]
        if any(self.processes[key].state not in STOPPED_STATES for key in keys):
            return "STILL_RUNNING"
        del self.groups[name]
        for key in keys:
            del self.processes[key]
        return "REMOVED"

    def restart(self) -> None:
        self.restarts += 1

    def shutdown(self, reason: str) -> None:
        self.shutdowns.append(reason)

    # -- building and driving ----------------------------------------------------------

    def add(self, name: str, group: str | None = None, **options: Any) -> Process:
        """A STOPPED process of a program called name (startsecs 1 unless told; its
        command is /bin/sh unless told, a file that is there, as `start` checks)."""
        options.setdefault("startsecs", 1)
        command = options.pop("command", ["/bin/sh"])
        config = ProcessConfig(name, command, group=group, **options)
        process = Process(config, self)
        self.processes[f"{process.group}:{process.name}"] = process
        if process.group not in self.groups:
            self.groups[process.group] = GroupConfig(process.group, 999, [])
        self.groups[process.group].processes.append(config)
        return process

    def exit(self, key: str, code: int) -> None:
        """The process `group:name` (or `name:name`) exits with code."""
        self.processes[key if ":" in key else f"{key}:{key}"].exited(exited(code))


class Recorder:
    """A Reply that keeps every answer line as (kind, value), and the exit code."""

    def __init__(self, fail_on_out: bool = False) -> None:
        self.lines: list[tuple[str, Any]] = []
        self.code: int | None = None
        self.failed: list[tuple[str, str, BaseException]] = []
        self.forgets: list[Callable[[], None]] = []
        self.following = False
        self._fail_on_out = fail_on_out

    def out(self, text: str) -> None:
        if self._fail_on_out:
            raise RuntimeError("boom")
        self.lines.append(("out", text))

    def err(self, text: str) -> None:
        self.lines.append(("err", text))

    def data(self, text: str) -> None:
        self.lines.append(("data", text))

    def json(self, value: Any) -> None:
        self.lines.append(("json", value))

    def finish(self, code: int) -> None:
        assert self.code is None, "an answer is finished once"
        self.code = code

    def fail(self, event: str, what: str, exc: BaseException) -> None:
        self.failed.append((event, what, exc))

    def when_gone(self, forget: Callable[[], None]) -> None:
        self.forgets.append(forget)

    def stream(self, forget: Callable[[], None]) -> None:
        self.following = True
        self.forgets.append(forget)

    def gone(self) -> None:
        """The client hangs up: everything it waited on or followed is forgotten."""
        for forget in self.forgets:
            forget()

    def out_lines(self) -> list[str]:
        return [value for kind, value in self.lines if kind == "out"]
