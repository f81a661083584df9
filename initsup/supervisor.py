"""Supervisor mode: run every program of a configuration, supervisord-style, as PID 1.

The Supervisor owns the loop, the output, the processes and the pid table, and is the
host each Process asks to spawn, signal and publish.  Its own decisions are few and all
here: start in (priority, name) order; route each child's output; reap, including
orphans; act on signals (TERM/INT/QUIT shut down, HUP reloads, others go to the programs
that asked for them); end everything when an essential program ends for good; and shut
down in reverse priority, every program of one priority at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from initsup import events, launch, logs, reaper
from initsup.logfile import LogFile
from initsup.loop import EventLoop, Timer
from initsup.model import TO_NOWHERE, TO_STREAM, Config, GroupConfig, LogTarget, ProcessConfig
from initsup.output import RENDERED_READ_SIZE, OutputWriter, PipeRelay, line_handlers
from initsup.process import Process, SpawnFailed
from initsup.reloads import Reloads
from initsup.signals import signal, signal_name, take_over
from initsup.spawn import ExecError, Spawner
from initsup.states import STOPPED_STATES, ProcessState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from initsup.loader import Loader
    from initsup.pools import Pools
    from initsup.reloads import Answer

# Starts a child reading the configuration (raises loader.LoadFailed when it cannot).
Reloader = Callable[[], "Loader"]
SHUTDOWN_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})
RECENT_OUTPUT = 65536  # bytes of each process's stdout and stderr kept for `ctl tail`
LOG_RETRY = 0.1  # seconds between attempts to write what a full FIFO/pipe log held back


def run(
    config: Config,
    reloader: Reloader | None = None,
    warnings: list[str] | None = None,
    held: frozenset[int] | None = None,
) -> int:
    """Supervise config's programs until shutdown; return initsup's exit code.

    held: the parent's signal mask, when signals.hold() has been called.
    """
    from initsup.control import ControlServer, default_socket_path

    receiver, spawner_args = take_over(held)
    loop = EventLoop(receiver, on_error=_early_error)
    log_format = config.options.log_format
    stdout = OutputWriter(loop, 1)
    stderr = OutputWriter(loop, 2) if log_format == "raw" else stdout
    supervisor = Supervisor(config, loop, stdout, stderr, Spawner(*spawner_args), reloader)
    for warning in warnings or []:
        supervisor.logger.warning(warning)
    path = config.options.socket or default_socket_path(os.environ)
    control = None
    try:
        control = ControlServer(supervisor, path, config.options.socket_mode)
        supervisor.child_environment["INITSUP_SOCKET"] = path
        supervisor.server_url = f"unix://{path}"
    except OSError as exc:  # a read-only /run, another initsup: run on without control
        supervisor.logger.warning(f"no control socket at {path} ({exc}): initsup ctl won't work")
    try:
        # Orphans are re-parented to initsup (when it is not PID 1) only from here: a
        # test process driving a Supervisor of its own stays an ordinary parent.
        reaper.become_reaper(supervisor.logger.warning)
        return supervisor.run()
    finally:
        if control is not None:
            control.close()
        supervisor.close()
        stdout.close()
        if stderr is not stdout:
            stderr.close()
        loop.close()
        receiver.close()


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
        self.config = config
        self.loop = loop
        loop.on_error = self._internal_error
        loop.on_signal = self._on_signal
        loop.reap = self._reap
        self.bus = events.EventBus()
        self._spawner = spawner
        self._reloader = reloader
        self._reloads = Reloads(self, reloader)
        self._format = config.options.log_format
        self.stdout = stdout
        self.stderr = stderr  # the same writer as stdout unless the format is raw
        render = logs.render_json if self._format == "json" else logs.text_record
        messages = self.stderr if self._format == "raw" else self.stdout
        self.logger = logs.Logger(lambda r: messages.write(render(r)), config.options.loglevel)
        self.bus.subscribe(self._event_to_stream)
        self.processes: dict[str, Process] = {}  # by "group:name"
        self.groups: dict[str, GroupConfig] = {}
        self._by_pid: dict[int, Process] = {}
        self._relays: dict[int, list[PipeRelay]] = {}  # by the pid that writes to them
        self._lingering: list[PipeRelay] = []  # pipes a dead program's children still hold
        self._logfiles: dict[tuple[str, str], LogFile] = {}
        self._flushing: set[LogFile] = set()  # FIFO/pipe logs holding output back
        self._waits: list[tuple[list[Process], Callable[[], None]]] = []
        self._check_pending = False
        self._shutting_down = False
        self.exit_code: int | None = None  # set when an essential program ended
        # For the control server: who wants to hear of state changes and of output, and
        # the recent output of every process (`initsup ctl tail`).
        self.watchers: list[Callable[[Process], None]] = []
        self.output_watchers: dict[tuple[str, str], list[Callable[[bytes], None]]] = {}
        self.recent_output: dict[tuple[str, str], bytearray] = {}
        self.child_environment: dict[str, str] = {}  # initsup's own additions
        # Given to listeners as SUPERVISOR_SERVER_URL: superlance and childutils listeners
        # refuse to start without it.  (No XML-RPC is served there, so programs, which
        # might try to call it, are not given it.)
        self.server_url: str | None = None
        # Made with the first listener group: without one, listeners.py and pools.py
        # (a quarter of a MiB) are never imported.
        self.pools: Pools | None = None

    # -- running ---------------------------------------------------------------------

    def run(self) -> int:
        """Start every autostart program, serve until shutdown, return the exit code."""
        for group in self.config.groups:
            self._add_group(group)
        self.bus.publish(events.supervisor_state(running=True))
        for group in self.config.groups:
            self._start_group(group)
        self.loop.run()
        for relay in [r for rs in self._relays.values() for r in rs] + self._lingering:
            relay.drain()
        return self._final_exit_code()

    def close(self) -> None:
        """Close the programs' log files (the loop and the writers are the caller's)."""
        for logfile in self._logfiles.values():
            logfile.close()

    def _final_exit_code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return 137 if any(p.killed for p in self.processes.values()) else 0

    def _pools(self) -> Pools:
        if self.pools is None:
            from initsup.pools import Pools

            self.pools = Pools(self)
        return self.pools

    def _add_group(self, group: GroupConfig) -> None:
        self.groups[group.name] = group
        if group.listener is not None:
            self._pools().add(group)  # a pool hears only what comes after its creation
        for config in group.processes:
            self.processes[f"{group.name}:{config.name}"] = Process(config, self)
        self.bus.publish(events.group_change(group.name, added=True))

    def _start_group(self, group: GroupConfig) -> None:
        if self._shutting_down:
            return  # an essential program may already have ended everything
        for config in group.processes:
            if config.autostart:
                try:  # at start-up this runs outside the loop's guard: keep PID 1 up
                    self.processes[f"{group.name}:{config.name}"].start()
                except Exception as exc:
                    self._internal_error(f"starting {group.name}:{config.name}", exc)

    def _remove_group(self, name: str) -> None:
        group = self.groups.pop(name)
        if self.pools is not None:
            self.pools.remove(name)
        for config in group.processes:
            del self.processes[f"{name}:{config.name}"]
        self.bus.publish(events.group_change(name, added=False))

    # -- the host of each Process ----------------------------------------------------

    def now(self) -> float:
        return self.loop.clock()

    def wall(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.loop.call_later(delay, callback)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

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
            if to_group:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)
        except ProcessLookupError:
            pass  # it has exited and waits to be reaped: the exit will be seen
        except OSError as exc:
            self.logger.error(f"could not send {signal_name(signum)} to {pid}: {exc}", pid=pid)

    def changed(self, process: Process) -> None:
        for watcher in list(self.watchers):
            watcher(process)
        if process.config.essential and process.ended_for_good and not self._shutting_down:
            self.exit_code = process.exit_code if process.exit_code is not None else 1
            self.shutdown(f"essential program {process.name} ended ({process.state.name})")
        if self._waits:
            self.changed_any()  # after this transition has finished, not in its middle

    def spawn(self, process: Process) -> int:
        config = process.config
        listener = self.pools is not None and self.pools.is_listener(process)
        stdout = LogTarget(path=TO_STREAM) if listener else config.stdout  # the protocol
        stderr = None if config.redirect_stderr else config.stderr
        # Everything the child needs is made before the fork: any failure here is a
        # failed start (BACKOFF, FATAL) with its reason, never an exception in PID 1.
        try:
            env = self._child_env(config, listener)
            user = launch.user_ids(config.user)
            self._open_logfiles(config.name, stdout, stderr)
            fds = launch.ChildFds(stdout, stderr, listener)
        except SpawnFailed:
            raise
        except Exception as exc:
            raise SpawnFailed(f"couldn't spawn {config.name}: {exc}", 126) from None
        try:
            pid = self._spawner.spawn(
                config.command,
                env,
                stdin=fds.stdin,
                stdout=fds.stdout_w,
                stderr=fds.stderr_w if fds.stderr_w is not None else fds.stdout_w,
                directory=config.directory,
                umask=config.umask,
                user=user,
            )
        except ExecError as exc:
            fds.close_all()
            raise SpawnFailed(exc.spawnerr, exc.exit_code) from None
        except Exception as exc:  # EMFILE, EAGAIN from fork, a NUL byte in an argument...
            fds.close_all()
            raise SpawnFailed(f"couldn't spawn {config.name}: {exc}", 126) from None
        fds.close_child_ends()
        self._by_pid[pid] = process
        try:
            self._connect(process, pid, fds, listener)
        except Exception as exc:  # the child runs: keep it, say what of its output is lost
            self.logger.exception(f"{config.name}: its output could not be connected", exc)
        return pid

    def _child_env(self, config: ProcessConfig, listener: bool) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.child_environment)
        env.update(self.config.options.environment)
        env.update(
            SUPERVISOR_ENABLED="1",
            SUPERVISOR_PROCESS_NAME=config.name,
            SUPERVISOR_GROUP_NAME=config.group,
            INITSUP_PROCESS_NAME=config.name,
            INITSUP_GROUP_NAME=config.group,
        )
        env.update(config.environment)
        if listener and self.server_url:
            env.setdefault("SUPERVISOR_SERVER_URL", self.server_url)
        return env

    def _open_logfiles(self, name: str, stdout: LogTarget, stderr: LogTarget | None) -> None:
        for stream, target in (("stdout", stdout), ("stderr", stderr)):
            if target is None or target.path in (TO_STREAM, TO_NOWHERE):
                continue
            try:
                self._logfile(name, stream, target)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                message = f"couldn't open {stream} log file {target.path}: {reason}"
                raise SpawnFailed(message, 126) from None

    def _connect(self, process: Process, pid: int, fds: launch.ChildFds, listener: bool) -> None:
        config = process.config
        if listener:
            assert fds.stdin_w is not None and fds.stdout_r is not None
            self._pools().attach(process, pid, fds.stdin_w, fds.stdout_r)
        elif fds.stdout_r is not None:
            self._relay(fds.stdout_r, process, "stdout", config.stdout, pid)
        if fds.stderr_r is not None:
            self._relay(fds.stderr_r, process, "stderr", config.stderr, pid)

    # -- output ------------------------------------------------------------------------

    def _relay(self, fd: int, process: Process, stream: str, target: LogTarget, pid: int) -> None:
        name, group = process.name, process.group
        relays = self._relays.setdefault(pid, [])
        if target.path != TO_STREAM:
            if target.path == TO_NOWHERE:
                keep = self._keeper(process, stream, pid, _discard)
            else:
                write = self._log_writer(self._logfile(name, stream, target))
                keep = self._keeper(process, stream, pid, write)
            # Output to a file needs no backpressure, unless it makes events, whose
            # consequences (listeners' overflow messages) end up on stdout.
            makes_events = target.events_enabled or target.capture_maxbytes > 0
            pace = self.stdout if makes_events else None
            relays.append(PipeRelay(self.loop, fd, pace, keep, _nothing))
            return
        writer = self.stderr if stream == "stderr" else self.stdout
        render = logs.line_renderer(self._format, name, group, pid, stream)
        on_data, on_eof = line_handlers(render, writer)
        keep = self._keeper(process, stream, pid, on_data)
        relays.append(PipeRelay(self.loop, fd, writer, keep, on_eof, RENDERED_READ_SIZE))

    def _keeper(
        self,
        process: Process,
        stream: str,
        pid: int,
        on_data: Callable[[bytes], None],
    ) -> Callable[[bytes], None]:
        """on_data that also keeps the recent output, tells its watchers, and publishes
        PROCESS_LOG events when the program's *_events_enabled asks for them."""
        key = (f"{process.group}:{process.name}", stream)
        recent = self.recent_output.setdefault(key, bytearray())
        target = process.config.stdout if stream == "stdout" else process.config.stderr
        name, group = process.name, process.group
        log_events = target.events_enabled
        capture = None
        if target.capture_maxbytes > 0:
            from initsup.listeners import CommCapture

            capture = CommCapture(target.capture_maxbytes)

        def keep(data: bytes) -> None:
            on_data(data)
            if log_events:
                text = data.decode("utf-8", "backslashreplace")
                self.bus.publish(events.process_log(name, group, pid, stream, text))
            for captured in capture.feed(data) if capture else ():
                text = captured.decode("utf-8", "backslashreplace")
                self.bus.publish(events.process_communication(name, group, pid, stream, text))
            recent.extend(data)
            if len(recent) > RECENT_OUTPUT:
                del recent[: len(recent) - RECENT_OUTPUT]
            watchers = self.output_watchers.get(key)
            if watchers:  # a copy only when someone follows: a send may drop its client
                for watcher in list(watchers):
                    watcher(data)

        return keep

    def _logfile(self, name: str, stream: str, target: LogTarget) -> LogFile:
        key = (name, stream)
        logfile = self._logfiles.get(key)
        if logfile is None:
            logfile = LogFile(target.path, target.maxbytes, target.backups, self._logfile_report)
            self._logfiles[key] = logfile
        return logfile

    def _log_writer(self, logfile: LogFile) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            logfile.write(data)
            if logfile.pending and logfile not in self._flushing:
                self._flushing.add(logfile)
                self.loop.call_later(LOG_RETRY, lambda: self._flush_later(logfile))

        return write

    def _flush_later(self, logfile: LogFile) -> None:
        # A FIFO's reader that catches up gets what was held back even if the program
        # writes nothing more; retried while something is held, never blocking.
        if logfile.flush():
            self._flushing.discard(logfile)
        else:
            self.loop.call_later(LOG_RETRY, lambda: self._flush_later(logfile))

    def _logfile_report(self, level: str, message: str) -> None:
        self.logger.log(level, message)

    def _event_to_stream(self, event: events.Event) -> None:
        if event.to_stream:
            self.logger.log(event.level, event.name, **event.fields)

    def _internal_error(self, where: str, exc: BaseException) -> None:
        self.logger.exception(f"internal error in {where}; initsup carries on", exc)

    # -- reaping and signals -----------------------------------------------------------

    def _reap(self) -> None:
        for pid, status in reaper.reap_all():
            process = self._by_pid.pop(pid, None)
            if process is None:
                if self._reloads.reaped(pid, status):
                    continue  # the configuration's reader, not a program
                self.logger.info(f"reaped unknown pid {pid} ({reaper.describe(status)})", pid=pid)
                continue
            if self.pools is not None:
                self.pools.exited(pid)
            # A program's last words come before the news of its end.
            relays = [r for r in self._relays.pop(pid, []) if not r.closed]
            for relay in relays:
                relay.drain()
            self._lingering = [r for r in self._lingering + relays if not r.closed]
            process.exited(status)

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
            for logfile in self._logfiles.values():
                logfile.reopen()
            self.logger.info("received SIGUSR2: log files reopened")
        else:
            self.logger.debug(f"received {name}, which no program asked for")

    # -- shutdown ----------------------------------------------------------------------

    def shutdown(self, reason: str) -> None:
        """Stop every program, highest priority first, those of one priority together."""
        if self._shutting_down:
            self._kill_all(reason)
            return
        self._shutting_down = True
        self.logger.info(f"shutting down: {reason}")
        self.bus.publish(events.supervisor_state(running=False))
        for process in self.processes.values():
            if process.state == ProcessState.EXITED:
                process.stop()  # calls off a pending restart
        self._stop_next_tier()

    def _stop_next_tier(self) -> None:
        remaining = [p for p in self.processes.values() if p.state not in STOPPED_STATES]
        if not remaining:
            self.loop.stop()
            return
        # As supervisord: groups in reverse order of their priority (a [group:x]'s own,
        # else its program's); within a group, its programs' priorities only order the
        # requests, all sent at once.  Groups of one priority are stopped together.
        top = max(self._group_priority(p) for p in remaining)
        tier = [p for p in remaining if self._group_priority(p) == top]
        tier.sort(key=lambda p: (p.config.priority, p.name), reverse=True)
        self._waits.append((tier, self._stop_next_tier))
        for process in tier:
            process.stop_for_shutdown()
        self.changed_any()

    def _group_priority(self, process: Process) -> int:
        group = self.groups.get(process.group)
        return group.priority if group is not None else process.config.priority

    def _kill_all(self, reason: str) -> None:
        self.logger.warning(f"{reason} while shutting down: killing every program now")
        for process in self.processes.values():
            process.kill_now()
        self.changed_any()
        if not self._waits:
            self.loop.stop()

    def changed_any(self) -> None:
        """Re-check the waits soon (after a batch of requests that may have finished some)."""
        if not self._check_pending:
            self._check_pending = True
            self.loop.call_later(0, self._check_waits)

    def _check_waits(self) -> None:
        self._check_pending = False
        waits, self._waits = self._waits, []
        for processes, callback in waits:
            if all(p.state in STOPPED_STATES for p in processes):
                callback()
            else:
                self._waits.append((processes, callback))

    # -- reload ------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: re-read the configuration; restart only the groups whose configuration
        changed.  Queued behind a reload in progress; SIGHUPs already queued coalesce."""
        if self._shutting_down:
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

    def apply(self, diff: Diff, done: Callable[[list[str]], None] | None = None) -> None:
        """Carry out a Diff; done(lines) gets supervisorctl's `update` lines at the end."""
        self.logger.info(
            "configuration reloaded: "
            f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed",
            added=diff.added,
            changed=diff.changed,
            removed=diff.removed,
        )
        self.config = diff.new
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
                self._add_group(new_groups[name])
                self._start_group(new_groups[name])
                lines.append(f"{name}: added process group")
            if done is not None:
                done(lines)

        for name in diff.removed + diff.changed:
            self._replace_group(name, new_groups.get(name), replaced)
        if not pending:
            finish()

    def _replace_group(
        self, name: str, new: GroupConfig | None, done: Callable[[str], None]
    ) -> None:
        old = [p for key, p in self.processes.items() if key.startswith(name + ":")]

        def swap() -> None:
            self._remove_group(name)
            if new is not None:
                self._add_group(new)
                self._start_group(new)
            done(name)

        self._waits.append((old, swap))
        for process in old:
            process.stop()
        self.changed_any()


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


def _nothing() -> None:
    pass


def _discard(data: bytes) -> None:
    pass
