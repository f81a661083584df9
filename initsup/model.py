"""The configuration model: what initsup supervises, as plain values checked once.

These classes are what `config.load` produces from an INI file and the environment, and
what the supervisor reads.  They hold converted values only (numbers, sets, signal
numbers), never raw strings to be parsed later.  Equality compares every field, so a
reload can tell which programs changed.

Plain classes with __slots__ rather than dataclasses: `dataclasses` imports `inspect`,
several milliseconds of every container's start-up.
"""

from __future__ import annotations

from initsup.model_notify import NotifierConfig
from initsup.signals import signal
from initsup.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# A dependency's condition (depends_on=, and dependent_startup_wait_for=x:running):
# ready now, or done (ended as expected, with no restart coming).
READY = "READY"

# Where a program's output goes: initsup's stdout stream (as JSON, text or raw lines),
# nowhere, or a file of its own.
TO_STREAM = "stream"
TO_NOWHERE = "none"


class LogTarget(Value):
    """Where one output stream of a program goes, and supervisord's file options for it."""

    __slots__ = ("backups", "capture_maxbytes", "events_enabled", "maxbytes", "path")

    def __init__(
        self,
        path: str = TO_STREAM,
        maxbytes: int = 50 * 1024 * 1024,
        backups: int = 10,
        capture_maxbytes: int = 0,
        events_enabled: bool = False,
    ) -> None:
        self.path = path  # TO_STREAM, TO_NOWHERE, or a file path
        self.maxbytes = maxbytes  # rotate past this size; 0: never rotate
        self.backups = backups  # rotated files kept (path.1 ... path.N)
        self.capture_maxbytes = capture_maxbytes  # PROCESS_COMMUNICATION capture (listeners)
        self.events_enabled = events_enabled  # PROCESS_LOG_* events (listeners)


class HealthCheck(Value):
    """A program's health check (healthcheck=, healthcheck_url= or healthcheck_tcp=) and
    its timing, as Docker names them."""

    __slots__ = (
        "command",
        "host",
        "interval",
        "kind",
        "path",
        "port",
        "retries",
        "start_period",
        "timeout",
    )

    def __init__(
        self,
        kind: str,
        *,
        command: str = "",
        host: str = "",
        port: int = 0,
        path: str = "/",
        interval: float = 30.0,
        timeout: float = 30.0,
        retries: int = 3,
        start_period: float = 0.0,
    ) -> None:
        self.kind = kind  # "command", "http" or "tcp"
        self.command = command  # command: run by /bin/sh -c, as Docker's string form
        self.host = host  # http, tcp: where to connect
        self.port = port
        self.path = path  # http: the path (and query) of the GET
        self.interval = interval  # seconds between checks once it has passed
        self.timeout = timeout  # a check taking longer has failed
        self.retries = retries  # consecutive failures that make the program unhealthy
        self.start_period = start_period  # failures this soon after a start do not count

    def target(self) -> str:
        """What is checked, as a user wrote it: for messages and `ctl status`."""
        if self.kind == "http":
            return f"http://{self.host}:{self.port}{self.path}"
        if self.kind == "tcp":
            return f"{self.host}:{self.port}"
        return self.command


class ProcessConfig(Value):
    """One process to run: a program section expanded for one `process_num`."""

    __slots__ = (
        "autorestart",
        "autostart",
        "backoff_max",
        "backoff_reset",
        "command",
        "depends_on",
        "directory",
        "environment",
        "essential",
        "exitcodes",
        "forward_signals",
        "group",
        "health",
        "killasgroup",
        "max_tries",
        "max_tries_if_coredumped",
        "max_tries_window",
        "name",
        "notify",
        "on_unhealthy",
        "priority",
        "program",
        "redirect_stderr",
        "serverurl",
        "startretries",
        "startsecs",
        "stderr",
        "stdout",
        "stopasgroup",
        "stopsignal",
        "stopwaitsecs",
        "umask",
        "user",
    )

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        program: str | None = None,
        group: str | None = None,
        priority: int = 999,
        autostart: bool = True,
        autorestart: str = "unexpected",
        startsecs: float = 1.0,
        startretries: int = 3,
        exitcodes: frozenset[int] = frozenset({0}),
        stopsignal: int = signal.SIGTERM,
        stopwaitsecs: float = 10.0,
        stopasgroup: bool = False,
        killasgroup: bool = False,
        user: str | None = None,
        directory: str | None = None,
        umask: int | None = None,
        environment: dict[str, str] | None = None,
        redirect_stderr: bool = False,
        stdout: LogTarget | None = None,
        stderr: LogTarget | None = None,
        essential: bool = False,
        forward_signals: frozenset[int] = frozenset(),
        backoff_max: float = 60.0,
        backoff_reset: float = 60.0,
        serverurl: str | None = None,
        health: HealthCheck | None = None,
        notify: bool = False,
        depends_on: dict[str, frozenset[str]] | None = None,
        on_unhealthy: str = "none",
        max_tries: int = 0,
        max_tries_window: float = 60.0,
        max_tries_if_coredumped: int = 0,
    ) -> None:
        self.name = name  # process name (process_name expanded)
        self.command = command  # argv, split like supervisord (shlex) and expanded
        self.program = program or name  # the [program:x] section it came from
        self.group = group or self.program
        self.priority = priority
        self.autostart = autostart
        self.autorestart = autorestart  # "true", "false" or "unexpected"
        self.startsecs = startsecs
        self.startretries = startretries
        self.exitcodes = exitcodes
        self.stopsignal = stopsignal
        self.stopwaitsecs = stopwaitsecs
        self.stopasgroup = stopasgroup
        self.killasgroup = killasgroup
        self.user = user
        self.directory = directory
        self.umask = umask
        # [initsup] environment= with the program's own environment= over it, already merged
        # by config; at spawn it goes over initsup's own environment and SUPERVISOR_*.
        self.environment = environment or {}
        self.redirect_stderr = redirect_stderr
        self.stdout = stdout or LogTarget()
        self.stderr = stderr or LogTarget()
        self.serverurl = serverurl  # its SUPERVISOR_SERVER_URL; None (AUTO): initsup's
        # initsup's own options:
        self.essential = essential  # its end for good ends initsup with its code
        self.forward_signals = forward_signals  # signals initsup passes on to it
        self.backoff_max = backoff_max  # cap of the restart delay after RUNNING crashes
        self.backoff_reset = backoff_reset  # RUNNING this long resets that delay
        self.health = health  # its check, None: none
        self.notify = notify  # ready when it sends READY=1 to NOTIFY_SOCKET (sd_notify)
        # program name -> what starting this one waits for: {"READY"} (ready, or done),
        # or states it must have reached (dependent_startup_wait_for=a:exited)
        self.depends_on = depends_on or {}
        self.on_unhealthy = on_unhealthy  # none, restart or stop: liveness's action
        # meetbill/supervise's give-up policy: at most this many automatic restarts (of
        # any exit; of exits that dumped core) within max_tries_window seconds, then
        # FATAL; 0: no limit (startretries still applies to starts that fail)
        self.max_tries = max_tries
        self.max_tries_window = max_tries_window
        self.max_tries_if_coredumped = max_tries_if_coredumped


class ListenerConfig(Value):
    """What makes a group an event listener pool: the events it subscribes to, its buffer."""

    __slots__ = ("buffer_size", "events")

    def __init__(self, events: frozenset[str], buffer_size: int = 10) -> None:
        self.events = events  # event type names (keys of events.EVENT_TYPES), subtypes included
        self.buffer_size = buffer_size  # events held for the pool; past it the oldest is dropped


class GroupConfig(Value):
    """A process group: a program's processes, a [group:x] of several, or a listener pool."""

    __slots__ = ("listener", "name", "priority", "processes")

    def __init__(
        self,
        name: str,
        priority: int,
        processes: list[ProcessConfig],
        listener: ListenerConfig | None = None,
    ) -> None:
        self.name = name
        self.priority = priority
        self.processes = processes  # in (priority, name) order
        self.listener = listener  # set for an [eventlistener:x] pool, None otherwise


class HttpServerConfig(Value):
    """[unix_http_server] or [inet_http_server]: where supervisord's XML-RPC is served."""

    __slots__ = ("address", "group", "kind", "mode", "owner", "password", "port", "username")

    def __init__(
        self,
        kind: str,
        address: str | None = None,
        port: int = 0,
        mode: int | None = None,
        owner: str | None = None,
        group: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.kind = kind  # unix or inet
        # unix: the socket's path (None: initsup's default); inet: the host ('' is any)
        self.address = address
        self.port = port  # inet only; 0 for unix
        self.mode = mode  # unix only: chmod, 0o700 unless given (as supervisord)
        self.owner = owner  # unix only: chown's user (name or uid), None: unchanged
        self.group = group  # unix only: chown's group (name or gid), None: unchanged
        self.username = username  # both or neither, as supervisord
        self.password = password  # plain, or {SHA} and 40 hex digits, kept as written

    def as_dict(self) -> dict[str, Any]:
        """Every field, the password hidden: `initsup check --json` output lands in logs."""
        shown = super().as_dict()
        if self.password is not None:
            shown["password"] = "(set)"
        return shown


class CtlConfig(Value):
    """[supervisorctl]: what `initsup ctl -c FILE` connects to and how it prompts."""

    __slots__ = ("history_file", "password", "prompt", "serverurl", "username")

    def __init__(
        self,
        serverurl: str | None = None,
        username: str | None = None,
        password: str | None = None,
        prompt: str = "supervisor",
        history_file: str | None = None,
    ) -> None:
        self.serverurl = serverurl  # unix:///path or http://host:port; None: not given
        self.username = username
        self.password = password
        self.prompt = prompt  # supervisorctl's default
        self.history_file = history_file  # an absolute path, or None: no history

    def as_dict(self) -> dict[str, Any]:
        """Every field, the password hidden, as HttpServerConfig's."""
        shown = super().as_dict()
        if self.password is not None:
            shown["password"] = "(set)"
        return shown


class InitOptions(Value):
    """The [initsup] (alias [supervisord]) section: options of initsup itself."""

    __slots__ = (
        "ctl",
        "directory",
        "drain",
        "environment",
        "http_servers",
        "identifier",
        "log_format",
        "loglevel",
        "minfds",
        "minprocs",
        "pidfile",
        "silent",
        "socket",
        "socket_mode",
        "umask",
        "user",
    )

    def __init__(
        self,
        log_format: str = "json",
        loglevel: str = "info",
        identifier: str = "supervisor",
        environment: dict[str, str] | None = None,
        socket: str | None = None,
        socket_mode: int = 0o600,
        http_servers: list[HttpServerConfig] | None = None,
        ctl: CtlConfig | None = None,
        user: str | None = None,
        umask: int = 0o022,
        directory: str | None = None,
        pidfile: str | None = None,
        minfds: int | None = None,
        minprocs: int | None = None,
        silent: bool = False,
        drain: float = 0.0,
    ) -> None:
        self.log_format = log_format  # json, text or raw
        self.loglevel = loglevel  # initsup's own messages: debug, info, warning, error
        self.identifier = identifier  # `server:` in listener headers
        self.environment = environment or {}  # given to every program
        self.socket = socket  # the control socket ([unix_http_server] file); None: default
        self.socket_mode = socket_mode  # its permissions ([unix_http_server] chmod)
        # [unix_http_server] then [inet_http_server], those present; served next session
        self.http_servers = http_servers or []
        self.ctl = ctl  # [supervisorctl], None if absent
        self.user = user  # every program's and listener's without a user= of its own
        self.umask = umask  # initsup's, inherited by programs without umask= (022)
        self.directory = directory  # initsup's working directory, None: unchanged
        self.pidfile = pidfile  # where initsup writes its pid, None: nowhere
        # Soft RLIMIT_NOFILE / RLIMIT_NPROC raised to at least this; None: supervisord's
        # default (1024 / 200), raised as far as the hard limit lets it, never refused.
        self.minfds = minfds
        self.minprocs = minprocs
        self.silent = silent  # initsup's own records are kept for readLog, not written
        # seconds between the first shutdown signal (readiness fails from then) and the
        # first stop, so load balancers stop sending first
        self.drain = drain


class Config(Value):
    """Everything a run of initsup supervises."""

    __slots__ = ("groups", "notifiers", "options", "sources")

    def __init__(
        self,
        options: InitOptions | None = None,
        groups: list[GroupConfig] | None = None,
        sources: list[str] | None = None,
        notifiers: list[NotifierConfig] | None = None,
    ) -> None:
        self.options = options or InitOptions()
        self.groups = groups or []  # in (priority, name) order
        self.sources = sources or []  # files and variables read, for messages
        self.notifiers = notifiers or []  # [notify:x] sections, by name

    def processes(self) -> list[ProcessConfig]:
        """Every process of every group, in start order."""
        return [p for g in self.groups for p in g.processes]
