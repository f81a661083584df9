"""Supervisor mode: run every program of a configuration, supervisord-style, as PID 1.

The Supervisor is the host each Process asks to spawn, signal and publish, and the
registry of groups and processes.  Its own decisions are few and all here: start in
(priority, name) order; reap, including orphans, handing each exit to whoever started
that child; act on signals (TERM/INT/QUIT shut down, HUP reloads, USR2 reopens log files,
others go to the programs that asked for them); end everything when an essential program
ends for good, and exit with its code; and shut down in reverse group priority, every
group of one priority at once.

The rest has rooms of its own: one child's stdio and environment (initsup.children),
reload's diff and swap (initsup.reload), waiting for processes to settle
(initsup.waits), recent output for `ctl tail` (initsup.feeds), listener pools
(initsup.pools, imported only with the first listener group).
"""

from __future__ import annotations

import os
import time

from initsup import daemon, events, exits, logs, reaper
from initsup.children import Children
from initsup.feeds import OutputFeeds, own_records
from initsup.loop import EventLoop, Timer
from initsup.model import Config, GroupConfig
from initsup.output import OutputWriter
from initsup.process import Process
from initsup.reload import Reloads
from initsup.signals import send, signal, signal_name, take_over
from initsup.spawn import Spawner
from initsup.states import STOPPED_STATES
from initsup.stopping import Stopping
from initsup.waits import Waits

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.alerts.hub import Alerts
    from initsup.control.api import DiffAnswer
    from initsup.health.monitor import Health
    from initsup.pools import Pools
    from initsup.reload import Answer, Reloader

SHUTDOWN_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})


def run(
    config: Config,
    reloader: Reloader | None = None,
    warnings: list[str] | None = None,
    parent_mask: frozenset[int] | None = None,
) -> int:
    """Supervise config's programs until shutdown; return initsup's exit code.

    parent_mask: the parent's signal mask, when signals.hold() has been called.
    """
    receiver, spawner_args = take_over(parent_mask)
    loop = EventLoop(receiver, on_error=_early_error)
    log_format = config.options.log_format
    stdout = OutputWriter(loop, 1)
    stderr = OutputWriter(loop, 2) if log_format == "raw" else stdout
    supervisor = Supervisor(config, loop, stdout, stderr, Spawner(*spawner_args), reloader)
    for warning in warnings or []:
        supervisor.logger.warning(warning)
    try:
        try:
            daemon.apply(config.options, supervisor.logger)
        except daemon.Refused as exc:  # supervisord's usage error: nothing has started
            supervisor.logger.error(f"initsup cannot start: {exc}")
            return 2
        return _serve(supervisor, config)
    finally:
        supervisor.close()
        stdout.close()
        if stderr is not stdout:
            stderr.close()
        loop.close()
        receiver.close()


def _serve(supervisor: Supervisor, config: Config) -> int:
    """Open the ways in (control socket, its symlink, TCP) and the pid file, and supervise."""
    from initsup.control.serving import Endpoints

    endpoints = Endpoints(supervisor, config.options)
    if endpoints.control is not None:
        supervisor.children.serve_at(endpoints.path, config.options.http_servers)
    pidfile = daemon.PidFile(config.options.pidfile, supervisor.logger)
    try:
        # Orphans are re-parented to initsup (when it is not PID 1) only from here: a
        # test process driving a Supervisor of its own stays an ordinary parent.
        reaper.become_reaper(supervisor.logger.warning)
        return supervisor.run()
    finally:
        pidfile.close()
        endpoints.close()


def _early_error(where: str, exc: BaseException) -> None:
    # The loop exists a moment before the Supervisor that replaces this hook; nothing
    # runs in it before then, but should anything, PID 1 still says so and lives on.
    os.write(2, f"initsup: internal error in {where}: {exc!r}\n".encode())


class Supervisor:
    """Runs a Config's programs until shutdown; `run()` returns initsup's exit code."""

    def __init__(
        self,
        config: Config,
        loop: EventLoop,
        stdout: OutputWriter,
        stderr: OutputWriter,
        spawner: Spawner,
        reloader: Reloader | None = None,
    ) -> None:
        self._config = config
        self.loop = loop
        loop.on_error = self._internal_error
        loop.on_signal = self._on_signal
        self.bus = events.EventBus()
        self._reloader = reloader
        # Subscribed first, as ever: at shutdown, a refused reload is logged before the
        # STOPPING record.
        self._reloads = Reloads(self, reloader)
        self.stdout = stdout
        self.stderr = stderr  # the same writer as stdout unless the format is raw
        log_format = config.options.log_format
        self.output = OutputFeeds()
        self.logger = logs.Logger(
            own_records(
                logs.message_renderer(log_format), stderr, self.output, config.options.silent
            ),
            config.options.loglevel,
        )
        self.bus.subscribe(self._event_to_stream)
        self.owners = reaper.Owners(self._reaped_unknown)
        loop.reap = self.owners.reap
        self.waits = Waits(lambda callback: loop.call_later(0, callback))
        self.children = Children(
            loop, stdout, stderr, log_format, self.logger, self.bus.publish, self.output, spawner
        )
        self.processes: dict[str, Process] = {}  # by "group:name", in start order
        self.groups: dict[str, GroupConfig] = {}
        self.configured = list(config.groups)  # the configuration last read
        self._shutting_down = False
        self._restarting = False  # from restart() until the new configuration starts
        self.exit_code: int | None = None  # set when an essential program ended
        # Made with the first listener group: without one, listeners.py and pools.py
        # (a quarter of a MiB) are never imported.
        self.pools: Pools | None = None
        # Made with the first program that has a check, notify= or dependencies: without
        # one, initsup.health is never imported and makes no wake-up.
        self.health: Health | None = None
        self.stopping = Stopping(self)
        # Made with a [notify:x] only: without one, initsup.alerts is never imported.
        self.alerts = self._alerts(config) if config.notifiers else None

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        """A reload's or restart's configuration: its notifiers replace the running ones."""
        self._config = config
        if self.alerts is not None:
            self.alerts.configure(config.notifiers)
        elif config.notifiers:
            self.alerts = self._alerts(config)

    # -- running ---------------------------------------------------------------------

    def run(self) -> int:
        """Start every autostart program, serve until shutdown, return the exit code."""
        for group in self.config.groups:
            self.add_group(group)
        self.bus.publish(events.supervisor_state(running=True))
        for group in self.config.groups:
            self.start_group(group)
        self.loop.run()
        self.children.drain_all()
        return self._final_exit_code()

    def close(self) -> None:
        """Close the programs' log files and health's sockets (the loop and the writers
        are the caller's)."""
        if self.health is not None:
            self.health.close()
        if self.alerts is not None:
            self.alerts.close()
        self.children.close()

    def _final_exit_code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return 137 if any(p.killed for p in self.processes.values()) else 0

    def _event_to_stream(self, event: events.Event) -> None:
        if event.to_stream:
            self.logger.log(event.level, event.name, **event.fields)

    def _internal_error(self, where: str, exc: BaseException) -> None:
        self.logger.internal_error(where, exc)

    # -- the registry of groups --------------------------------------------------------

    def add_group(self, group: GroupConfig) -> None:
        """Make group's processes (not started) and announce it."""
        self.groups[group.name] = group
        if group.listener is not None:
            self._pools().add(group)  # a pool hears only what comes after its creation
        made = [Process(config, self) for config in group.processes]
        for process in made:
            self.processes[f"{group.name}:{process.name}"] = process
        if self.health is not None:
            for process in made:
                self.health.add(process)
        elif any(c.health or c.notify or c.depends_on for c in group.processes):
            self._health()
        self.bus.publish(events.group_change(group.name, added=True))

    def start_group(self, group: GroupConfig) -> None:
        """Start group's autostart programs, in order; those with dependencies once what
        they depend on is ready (initsup.health.order), the others at once."""
        if self.shutting_down:
            return  # an essential program may already have ended everything, or a
            # restart stops everything (a reload's swap finishing then starts nothing)
        for config in group.processes:
            if config.autostart:
                process = self.processes[f"{group.name}:{config.name}"]
                try:  # at start-up this runs outside the loop's guard: keep PID 1 up
                    if config.depends_on and self.health is not None:
                        self.health.order.request(process)
                    else:
                        process.start()
                except Exception as exc:
                    self._internal_error(f"starting {group.name}:{config.name}", exc)

    def remove_group(self, name: str) -> None:
        """Forget a group whose processes have all stopped, and announce it."""
        group = self.groups.pop(name)
        if self.pools is not None:
            self.pools.remove(name)
        for config in group.processes:
            process = self.processes.pop(f"{name}:{config.name}")
            if self.health is not None:
                self.health.forget(process)
        self.bus.publish(events.group_change(name, added=False))

    def _health(self) -> Health:
        if self.health is None:
            from initsup.health.monitor import Health

            self.health = Health(self)
            for process in self.processes.values():
                self.health.add(process)
        return self.health

    def _alerts(self, config: Config) -> Alerts:
        from initsup.alerts.hub import Alerts

        return Alerts(self, config.notifiers, os.environ)

    def _pools(self) -> Pools:
        if self.pools is None:
            from initsup.pools import Pools

            self.pools = Pools(
                self.loop, self.bus, self.waits, self.logger, lambda: self.config.options.identifier
            )
        return self.pools

    # -- the host of each Process ----------------------------------------------------

    def now(self) -> float:
        return self.loop.clock()

    def wall(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.loop.call_later(delay, callback)

    @property
    def shutting_down(self) -> bool:
        """Shutting down, or stopping everything for a restart: no program restarts then,
        and no control request that changes anything is taken."""
        return self._shutting_down or self._restarting

    @property
    def restarting(self) -> bool:
        return self._restarting and not self._shutting_down

    def publish(self, event: events.Event) -> None:
        self.bus.publish(event)

    def log(self, level: str, message: str, **fields: Any) -> None:
        self.logger.log(level, message, **fields)

    def send(self, pid: int, signum: int, to_group: bool) -> None:
        if pid <= 0:
            # kill(0) and kill(-1) reach initsup's own process group or every process:
            # a program with no pid is a bug to report, never a reason to signal those.
            self.logger.error(f"refused to send {signal_name(signum)} to pid {pid}", pid=pid)
            return
        try:
            send(pid, signum, to_group)  # one gone already is reaped soon: its exit is seen
        except OSError as exc:
            self.logger.error(f"could not send {signal_name(signum)} to {pid}: {exc}", pid=pid)

    def changed(self, process: Process) -> None:
        self.waits.changed(process)
        if process.config.essential and process.ended_for_good and not self.shutting_down:
            self.exit_code = process.exit_code if process.exit_code is not None else 1
            state = process.state.name
            self.bus.publish(
                events.essential_exit(process.name, process.group, state, self.exit_code)
            )
            self.shutdown(f"essential program {process.name} ended ({state})")

    def spawn(self, process: Process) -> int:
        pools = self.pools
        attach = pools.attach if pools is not None and pools.is_listener(process) else None
        pid = self.children.spawn(process, attach)
        self.owners.add(pid, _Program(self, process))
        return pid

    def depths(self) -> dict[str, int]:
        return self.health.order.depths() if self.health is not None else {}

    # -- reaping and signals -----------------------------------------------------------

    def _reaped_unknown(self, pid: int, status: int) -> None:
        self.logger.info(f"reaped unknown pid {pid} ({exits.decode(status).words})", pid=pid)

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return
        name = signal_name(signum)
        if signum in SHUTDOWN_SIGNALS:
            self.shutdown(f"received {name}")
            return
        if signum == signal.SIGHUP:
            self.reload()
            return
        targets = [p for p in self.processes.values() if signum in p.config.forward_signals]
        for process in targets:
            process.signal(signum)
        if targets:
            self.logger.debug(f"forwarded {name} to {', '.join(p.name for p in targets)}")
        elif signum == signal.SIGUSR2:
            self.children.reopen_logs()
            self.logger.info("received SIGUSR2: log files reopened")
        else:
            self.logger.debug(f"received {name}, which no program asked for")

    # -- shutdown ----------------------------------------------------------------------

    def shutdown(self, reason: str) -> None:
        """Drain ([initsup] drain=), then stop every program: highest priority first,
        those of one priority together, a program before what it depends on."""
        if self._shutting_down:
            self.stopping.again(reason, self.loop.stop)
            return
        self._shutting_down = True  # readiness fails from here: /readyz says 503
        self.logger.info(f"shutting down: {reason}")
        if self._restarting:  # STOPPING was said at the restart's start, as supervisord
            self._reloads.stop_reading("initsup is shutting down")
            self.stopping.stop_all(self.loop.stop)
            return
        self.bus.publish(events.supervisor_state(running=False))
        alerts = self.alerts
        stopped = self.loop.stop if alerts is None else lambda: alerts.flush(self.loop.stop)
        self.stopping.drain_then_stop(self.config.options.drain, stopped)

    def stop_all(self, done: Callable[[], None]) -> None:
        """Stop every program in shutdown tiers, then done()."""
        self.stopping.stop_all(done)

    # -- reload ------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: re-read the configuration; restart only the groups whose configuration
        changed.  Queued behind a reload in progress; SIGHUPs already queued coalesce."""
        if self._shutting_down:
            return
        if self._restarting:
            self.logger.info("received SIGHUP while restarting: the restart reads the file")
            return
        if self._reloader is None:
            self.logger.warning("received SIGHUP, but there is no configuration to reload")
            return
        self._reloads.ask(None, apply=True)

    def reread(self, answer: Answer, apply: bool = False) -> None:
        """Read the configuration again and compare it, group by group, with what runs;
        with apply, carry the difference out (`ctl update`).

        The configuration is read by a child, through the loop, one reload at a time:
        answer(lines, problems) comes later, with supervisorctl's `reread` (or `update`)
        lines, or with every reason the configuration was refused.
        """
        if self._reloader is None:
            answer([], ["initsup runs without a configuration to reload"])
            return
        self._reloads.ask(answer, apply)

    def reread_diff(self, answer: DiffAnswer) -> None:
        """Read the configuration again, keep it as the one configured, apply nothing:
        answer((added, changed, removed), []) later, or (None, problems)."""
        if self._reloader is None:
            answer(None, ["initsup runs without a configuration to reread"])
            return
        self._reloads.ask_diff(answer)

    def add_configured_group(self, name: str) -> str:
        """Add a group of the configuration last read and start its autostart programs:
        ADDED, ALREADY_ADDED (it runs), BAD_NAME (not in that configuration)."""
        for group in self.configured:
            if group.name == name:
                if name in self.groups:
                    return "ALREADY_ADDED"
                self.add_group(group)
                self.start_group(group)
                return "ADDED"
        return "BAD_NAME"

    def remove_stopped_group(self, name: str) -> str:
        """Remove a group whose processes are all stopped: REMOVED, BAD_NAME (no such
        group runs) or STILL_RUNNING (one is not STOPPED, EXITED or FATAL)."""
        group = self.groups.get(name)
        if group is None:
            return "BAD_NAME"
        processes = [self.processes[f"{name}:{config.name}"] for config in group.processes]
        if any(p.state not in STOPPED_STATES for p in processes):
            return "STILL_RUNNING"
        for process in processes:
            process.stop()  # an EXITED one's pending restart would start it untracked
        self.remove_group(name)
        return "REMOVED"

    def restart(self) -> None:
        """supervisord's restart: stop every program in shutdown tiers, read the
        configuration again, then add and start everything anew.  initsup itself, its
        control socket and its log stay.  A refused configuration is logged and the
        previous one starts again; a second restart meanwhile is the same restart."""
        if self._shutting_down:
            return
        if self._restarting:
            self.logger.info("restart asked while restarting: one restart is under way")
            return
        self._restarting = True
        self.logger.info("restarting: stopping every program, then reading the configuration")
        self.bus.publish(events.supervisor_state(running=False))
        self.stop_all(self._reloads.restart_read)

    def restarted(self, config: Config | None) -> None:
        """The restart's read is done: start config (None: the previous one) anew."""
        if self._shutting_down or not self._restarting:
            return
        if config is None:
            config = self.config
            if self._reloader is not None:
                self.logger.warning("restart: starting the previous configuration again")
        for name in list(self.groups):
            self.remove_group(name)
        self.config = config
        self.configured = list(config.groups)
        self.logger.set_level(config.options.loglevel)
        self._restarting = False
        for group in config.groups:
            self.add_group(group)
        self.logger.info("restarted", groups=[g.name for g in config.groups])
        self.bus.publish(events.supervisor_state(running=True))
        for group in config.groups:
            self.start_group(group)


class _Program:
    """A program's pid among the reaper's owners: at its exit, its listener pool (if
    any) and its output are settled first, then its Process hears of it."""

    __slots__ = ("_process", "_supervisor")

    def __init__(self, supervisor: Supervisor, process: Process) -> None:
        self._supervisor = supervisor
        self._process = process

    def exited(self, pid: int, status: int) -> None:
        supervisor = self._supervisor
        if supervisor.pools is not None:
            supervisor.pools.exited(pid)  # an event it was busy with goes back to its pool
        supervisor.children.drain(pid)  # its last words come before the news of its end
        self._process.exited(status)
