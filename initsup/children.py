"""One child's stdio and environment: what a program is spawned with, and where its
output goes while it runs.

The supervisor decides when a program starts; this module makes everything the child
needs (its environment, its user, its log files, its pipes or /dev/null), forks it, and
connects its output: to the JSON stream (rendered, with backpressure), to its log files
(never blocking: a full FIFO's bytes are retried from the loop), or nowhere.  Every
chunk also passes one tap that publishes PROCESS_LOG and PROCESS_COMMUNICATION events
when the program asks for them and records it for `ctl tail` (initsup.feeds).

Everything that can fail is made before the fork, so a failure is a failed start
(BACKOFF, then FATAL, with its reason in spawnerr), never an exception in PID 1.
"""

from __future__ import annotations

import os

from initsup import events, feeds, launch, logs
from initsup.logfile import LogFile
from initsup.loop import do_nothing
from initsup.model import TO_NOWHERE, TO_STREAM, LogTarget, ProcessConfig
from initsup.output import RENDERED_READ_SIZE, PipeRelay, line_handlers
from initsup.process import SpawnFailed
from initsup.spawn import ExecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.feeds import OutputFeeds
    from initsup.loop import EventLoop
    from initsup.model import HttpServerConfig
    from initsup.output import OutputWriter
    from initsup.process import Process
    from initsup.spawn import Spawner

    # attach(process, pid, stdin_fd, stdout_fd): a listener's pool takes its pipes.
    Attach = Callable[[Process, int, int, int], None]

LOG_RETRY = 0.1  # seconds between attempts to write what a full FIFO/pipe log held back


class Children:
    """The stdio, environment and output routing of every program one supervisor runs."""

    def __init__(
        self,
        loop: EventLoop,
        stdout: OutputWriter,
        stderr: OutputWriter,
        log_format: str,
        logger: logs.Logger,
        publish: Callable[[events.Event], None],
        output: OutputFeeds,
        spawner: Spawner,
    ) -> None:
        self._loop = loop
        self._stdout = stdout
        self._stderr = stderr
        self._format = log_format
        self._logger = logger
        self._publish = publish
        self._output = output
        self._spawner = spawner
        self._relays: dict[int, list[PipeRelay]] = {}  # by the pid that writes to them
        self._lingering: list[PipeRelay] = []  # pipes a dead program's children still hold
        self._logfiles: dict[tuple[str, str], LogFile] = {}
        self._flushing: set[LogFile] = set()  # FIFO/pipe logs holding output back
        # initsup's own additions (INITSUP_SOCKET, SUPERVISOR_SERVER_URL and the server's
        # credentials): under the SUPERVISOR_* names and the program's environment=,
        # which win, as supervisord sets its server URL before a program's environment.
        self.child_environment: dict[str, str] = {}
        self.notify_path: str | None = None  # NOTIFY_SOCKET, for notify=true programs

    def serve_at(self, path: str, servers: list[HttpServerConfig]) -> None:
        """Tell every child where the control socket is: INITSUP_SOCKET, and what
        supervisor.childutils.getRPCInterface(os.environ) reads, SUPERVISOR_SERVER_URL
        and [unix_http_server]'s username and password (a {SHA} one can't be sent back
        to the server, so it is not given)."""
        env = self.child_environment
        env["INITSUP_SOCKET"] = path
        env["SUPERVISOR_SERVER_URL"] = f"unix://{path}"
        for server in servers:
            if server.kind == "unix" and server.username is not None:
                env["SUPERVISOR_USERNAME"] = server.username
                password = server.password or ""
                if not password.startswith("{SHA}"):
                    env["SUPERVISOR_PASSWORD"] = password

    # -- spawning ----------------------------------------------------------------------

    def spawn(self, process: Process, attach: Attach | None) -> int:
        """Fork and exec process's program; attach: its pool's, for a listener.  Raises
        SpawnFailed (with supervisord's spawnerr) for whatever stops the start."""
        config = process.config
        listener = attach is not None
        stdout = LogTarget(path=TO_STREAM) if listener else config.stdout  # the protocol
        stderr = None if config.redirect_stderr else config.stderr
        # Everything the child needs is made before the fork: any failure here is a
        # failed start (BACKOFF, FATAL) with its reason, never an exception in PID 1.
        try:
            env = self._child_env(config)
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
        try:
            self._connect(process, pid, fds, attach)
        except Exception as exc:  # the child runs: keep it, say what of its output is lost
            self._logger.exception(f"{config.name}: its output could not be connected", exc)
        return pid

    def check_starter(self, config: ProcessConfig) -> Callable[[list[str], int], int]:
        """start(argv, out_fd) -> pid: a health check's command, run as the program is
        (its environment, user, directory and umask, as Docker runs a HEALTHCHECK in the
        container), stdin /dev/null, stdout and stderr out_fd, in a process group of its
        own.  Raises ExecError or OSError when it cannot be started."""
        # Made once, not at each run: checks come every interval, the environment stays.
        env = self._child_env(config)

        def start(argv: list[str], out_fd: int) -> int:
            try:
                user = launch.user_ids(config.user)
            except KeyError:  # checked at load; gone from /etc/passwd since
                raise OSError(f"no user {config.user!r} on this system") from None
            stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            try:
                return self._spawner.spawn(
                    argv,
                    env,
                    stdin=stdin,
                    stdout=out_fd,
                    stderr=out_fd,
                    directory=config.directory,
                    umask=config.umask,
                    user=user,
                )
            finally:
                os.close(stdin)

        return start

    def start_helper(self, argv: list[str], stdin: int, stdout: int) -> int:
        """Start one of initsup's own helpers (an alert's courier) with initsup's
        environment, stdin and stdout (stderr too) on the given fds, in a process group
        of its own; its pid.  Raises ExecError or OSError when it cannot start."""
        return self._spawner.spawn(argv, os.environ, stdin=stdin, stdout=stdout, stderr=stdout)

    def _child_env(self, config: ProcessConfig) -> dict[str, str]:
        # [initsup] environment= is already in config.environment (the configuration
        # merges it into every program's): it is not applied a second time here.
        env = dict(os.environ)
        env.update(self.child_environment)
        env.update(
            SUPERVISOR_ENABLED="1",
            SUPERVISOR_PROCESS_NAME=config.name,
            SUPERVISOR_GROUP_NAME=config.group,
            INITSUP_PROCESS_NAME=config.name,
            INITSUP_GROUP_NAME=config.group,
        )
        if config.serverurl is not None:  # its own serverurl=, under its environment=
            env["SUPERVISOR_SERVER_URL"] = config.serverurl
        if config.notify and self.notify_path is not None:
            env["NOTIFY_SOCKET"] = self.notify_path
        env.update(config.environment)
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

    def _connect(
        self, process: Process, pid: int, fds: launch.ChildFds, attach: Attach | None
    ) -> None:
        config = process.config
        if attach is not None:
            assert fds.stdin_w is not None and fds.stdout_r is not None
            attach(process, pid, fds.stdin_w, fds.stdout_r)
        elif fds.stdout_r is not None:
            self._relay(fds.stdout_r, process, "stdout", config.stdout, pid)
        if fds.stderr_r is not None:
            self._relay(fds.stderr_r, process, "stderr", config.stderr, pid)

    # -- a program's end -----------------------------------------------------------------

    def drain(self, pid: int) -> None:
        """pid has exited: relay what its pipes still hold (its last words come before
        the news of its end); pipes its own children keep open are read on."""
        relays = [r for r in self._relays.pop(pid, []) if not r.closed]
        for relay in relays:
            relay.drain()
        self._lingering = [r for r in self._lingering + relays if not r.closed]

    def drain_all(self) -> None:
        """At the end of a run: relay whatever every pipe still holds."""
        for relay in [r for rs in self._relays.values() for r in rs] + self._lingering:
            relay.drain()

    def reopen_logs(self) -> None:
        """Reopen every log file (SIGUSR2, after logrotate moved them)."""
        for logfile in self._logfiles.values():
            logfile.reopen()

    def close(self) -> None:
        """Close the pipes still open and every log file.

        A pipe still open here is held by some program's own child that outlived it;
        closing it ends its stream, so a last line without a newline is written too.
        """
        for relay in [r for rs in self._relays.values() for r in rs] + self._lingering:
            relay.close()
        self._relays.clear()
        self._lingering.clear()
        for logfile in self._logfiles.values():
            logfile.close()

    # -- output ------------------------------------------------------------------------

    def _relay(self, fd: int, process: Process, stream: str, target: LogTarget, pid: int) -> None:
        name, group = process.name, process.group
        relays = self._relays.setdefault(pid, [])
        if target.path != TO_STREAM:
            if target.path == TO_NOWHERE:
                tap = self._output_tap(process, stream, pid, do_nothing)
            else:
                write = self._log_writer(self._logfile(name, stream, target))
                tap = self._output_tap(process, stream, pid, write)
            # Output to a file needs no backpressure, unless it makes events, whose
            # consequences (listeners' overflow messages) end up on stdout.
            makes_events = target.events_enabled or target.capture_maxbytes > 0
            pace = self._stdout if makes_events else None
            relays.append(PipeRelay(self._loop, fd, pace, tap, do_nothing))
            return
        writer = self._stderr if stream == "stderr" else self._stdout
        render = logs.line_renderer(self._format, name, group, pid, stream)
        on_data, on_eof = line_handlers(render, writer)
        tap = self._output_tap(process, stream, pid, on_data)
        relays.append(PipeRelay(self._loop, fd, writer, tap, on_eof, RENDERED_READ_SIZE))

    def _output_tap(
        self,
        process: Process,
        stream: str,
        pid: int,
        on_data: Callable[[bytes], None],
    ) -> Callable[[bytes], None]:
        """on_data, fanned out: each chunk also goes to the recent output and its
        followers, and to PROCESS_LOG / PROCESS_COMMUNICATION events when the program's
        *_events_enabled / *_capture_maxbytes ask for them."""
        key = feeds.key(process.group, process.name, stream)
        target = process.config.stdout if stream == "stdout" else process.config.stderr
        name, group = process.name, process.group
        log_events = target.events_enabled
        capture = None
        if target.capture_maxbytes > 0:
            from initsup.listeners import CommCapture

            capture = CommCapture(target.capture_maxbytes)
        publish, record = self._publish, self._output.record

        def tap(data: bytes) -> None:
            on_data(data)
            if log_events:
                text = data.decode("utf-8", "backslashreplace")
                publish(events.process_log(name, group, pid, stream, text))
            for captured in capture.feed(data) if capture else ():
                text = captured.decode("utf-8", "backslashreplace")
                publish(events.process_communication(name, group, pid, stream, text))
            record(key, data)

        return tap

    def _logfile(self, name: str, stream: str, target: LogTarget) -> LogFile:
        key = (name, stream)
        logfile = self._logfiles.get(key)
        if logfile is None:
            logfile = LogFile(
                target.path, target.maxbytes, target.backups, self._logger.log, self._output.lost
            )
            self._logfiles[key] = logfile
        return logfile

    def _log_writer(self, logfile: LogFile) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            logfile.write(data)
            if logfile.pending and logfile not in self._flushing:
                self._flushing.add(logfile)
                self._loop.call_later(LOG_RETRY, lambda: self._flush_later(logfile))

        return write

    def _flush_later(self, logfile: LogFile) -> None:
        # A FIFO's reader that catches up gets what was held back even if the program
        # writes nothing more; retried while something is held, never blocking.
        if logfile.flush():
            self._flushing.discard(logfile)
        else:
            self._loop.call_later(LOG_RETRY, lambda: self._flush_later(logfile))
