"""A [program:x] or [eventlistener:x] section -> its processes, each a ProcessConfig.

Which key takes which converter, the defaults that depend on other keys (killasgroup
follows stopasgroup; an essential program is not restarted), the rules between keys
(supervisord's), numprocs expansion with %(process_num)s, and what starting a process
would trip over (log files it cannot write: errors; a command that does not resolve: a
warning).  Sections come from sources.py; build.py puts the processes into groups.
"""

from __future__ import annotations

from initsup import model
from initsup.config import convert, health, limits
from initsup.config.sources import convert_raw

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.config.sources import Names, Raw, Report, Section

_NUMPROCS = convert.positive_int(limits.MAX_NUMPROCS)
_BUFFER_SIZE = convert.positive_int(limits.MAX_BUFFER_SIZE)

# Options converted once per process, straight into ProcessConfig's keyword arguments.
_PROCESS_OPTIONS: dict[str, Callable[[str], object]] = {
    "autostart": convert.boolean,
    "autorestart": convert.autorestart,
    "startsecs": convert.seconds,
    "startretries": convert.count,
    "exitcodes": convert.exit_codes,
    "stopsignal": convert.signal_number,
    "stopwaitsecs": convert.seconds,
    "stopasgroup": convert.boolean,
    "killasgroup": convert.boolean,
    "user": convert.user,
    "directory": convert.directory,
    "umask": convert.octal_mode,
    "redirect_stderr": convert.boolean,
    "essential": convert.boolean,
    "forward_signals": convert.signal_set,
    "backoff_max": convert.seconds,
    "backoff_reset": convert.seconds,
    "serverurl": convert.serverurl,
    # meetbill/supervise's give-up policy; listeners take them too, since they are
    # restarted like programs.  A window of 0 would count nothing: above 0 only.
    "max_tries": convert.count,
    "max_tries_if_coredumped": convert.count,
    "max_tries_window": health.positive_seconds,
}
# stdout_<option> / stderr_<option> -> (LogTarget field, converter)
_LOG_OPTIONS: dict[str, tuple[str, Callable[[str], object]]] = {
    "logfile": ("path", convert.logfile),
    "logfile_maxbytes": ("maxbytes", convert.byte_size),
    "logfile_backups": ("backups", convert.count),
    "capture_maxbytes": ("capture_maxbytes", convert.byte_size),
    "events_enabled": ("events_enabled", convert.boolean),
}
_IGNORED_WITH_WARNING = ("stdout_syslog", "stderr_syslog")
_LOGFILE_KEYS = ("stdout_logfile", "stderr_logfile")
_NOT_FILES = (None, model.TO_STREAM, model.TO_NOWHERE)
PROGRAM_KEYS = frozenset(
    [
        *_PROCESS_OPTIONS,
        *(f"{stream}_{option}" for stream in ("stdout", "stderr") for option in _LOG_OPTIONS),
        *_IGNORED_WITH_WARNING,
        *health.KEYS,
        "command",
        "process_name",
        "numprocs",
        "numprocs_start",
        "priority",
        "environment",
    ]
)
# [eventlistener:x] takes every program key plus these (result_handler: with a warning).
LISTENER_KEYS = frozenset(["events", "buffer_size", "result_handler"])
_DEFAULT_RESULT_HANDLER = "supervisor.dispatchers:default_handler"


def _program_names(section: Section, group: str, names: Names) -> Names:
    """The expansions every value of a program section may use."""
    return {
        **names,
        "here": section.here,
        "program_name": section.name,
        "group_name": group,
    }


def processes(
    section: Section,
    group: str,
    names: Names,
    environment: dict[str, str],
    report: Report,
) -> tuple[int, list[model.ProcessConfig]]:
    """A program or listener section's priority and its numprocs processes (none if wrong)."""
    opts = section.options
    listener = section.kind == "eventlistener"
    names = _program_names(section, group, names)
    _warn_about_keys(section, report)
    if "command" not in opts:
        _missing_command(section, report)
    # Whole-program values, expanded without process_num as supervisord does.  Listeners
    # start first and stop last, as in supervisord.
    default = -1 if listener else 999
    priority = _program_value(section, "priority", convert.integer, default, names, report)
    numprocs = _program_value(section, "numprocs", _NUMPROCS, 1, names, report)
    start = _program_value(section, "numprocs_start", convert.count, 0, names, report)
    if not _process_names_differ(section, numprocs, report):
        return priority, []
    made = []
    if not _count_processes(section, numprocs, report):
        return priority, []
    for number in range(start, start + numprocs):
        process = _process(section, group, number, numprocs, priority, names, environment, report)
        if process is None:
            break  # the next numbers would repeat the same problems
        made.append(process)
    return priority, made


def _warn_about_keys(section: Section, report: Report) -> None:
    """Warn about the keys of a program or listener section that initsup does not use."""
    listener = section.kind == "eventlistener"
    ignored = []
    protocol = []  # a listener's stdout_* options: its stdout is the protocol channel
    for key, raw in section.options.items():
        if listener and key.startswith("stdout_") and key in PROGRAM_KEYS:
            protocol.append(key)
        elif key in _IGNORED_WITH_WARNING:
            ignored.append(key)
        elif key in _LOGFILE_KEYS and raw.text.strip().lower() == "syslog":
            report.warnings.append(
                raw.say(
                    "is supervisord's deprecated spelling of"
                    f" {key.replace('logfile', 'syslog')}=true; initsup has no syslog:"
                    " this output goes to initsup's stdout stream, as with AUTO"
                )
            )
        elif listener and key == "result_handler":
            if raw.text.strip() != _DEFAULT_RESULT_HANDLER:
                report.warnings.append(
                    raw.say("is ignored: initsup always uses supervisord's default handler")
                )
        elif key not in PROGRAM_KEYS and not (listener and key in LISTENER_KEYS):
            report.warnings.append(raw.say("is not an option initsup knows, ignored"))
    if ignored:
        report.warnings.append(f"{section.where()} {', '.join(ignored)}: not supported, ignored")
    if protocol:
        report.warnings.append(
            f"{section.where()} {', '.join(protocol)}: ignored for an event listener"
            " (its stdout carries the listener protocol)"
        )


def _program_value(
    section: Section,
    key: str,
    converter: Callable[[str], int],
    default: int,
    names: Names,
    report: Report,
) -> int:
    """A whole-program number (priority, numprocs, numprocs_start), or its default."""
    raw = section.options.get(key)
    value = None if raw is None else convert_raw(raw, converter, names, report)
    return default if value is None else value


def _process_names_differ(section: Section, numprocs: int, report: Report) -> bool:
    """Whether numprocs > 1 comes with a process_name that tells its processes apart."""
    name_raw = section.options.get("process_name")
    if numprocs <= 1 or (name_raw is not None and "%(process_num)" in name_raw.text):
        return True
    if name_raw is not None:
        report.problems.append(name_raw.say("must contain %(process_num) when numprocs > 1"))
    else:
        report.problems.append(
            section.options["numprocs"].say(
                "needs a process_name containing %(process_num), e.g."
                " process_name=%(program_name)s_%(process_num)02d"
            )
        )
    return False


def _count_processes(section: Section, numprocs: int, report: Report) -> bool:
    """Count a program's processes against limits.MAX_PROCESSES; False (said) past it."""
    if report.processes + numprocs > limits.MAX_PROCESSES:
        report.problems.append(
            f"{section.where()}: its {numprocs} process(es) would make more than"
            f" {limits.MAX_PROCESSES} processes in all"
        )
        return False
    report.processes += numprocs
    return True


def _missing_command(section: Section, report: Report) -> None:
    """Report a program or listener without a command, where it was (partly) defined."""
    if section.file is not None:
        report.problems.append(f"{section.file}: [{section.title}] command: required")
        return
    what = "event listener" if section.kind == "eventlistener" else "program"
    for raw in section.options.values():
        if raw.var is not None:
            prefix = raw.var.partition("__")[0]
            report.problems.append(
                f"{raw.where()}: sets an option of {what} {section.name!r}, which has no"
                f" command: set {prefix}=<command> or add [{section.kind}:{section.name}] command="
            )


def _process(
    section: Section,
    group: str,
    number: int,
    numprocs: int,
    priority: int,
    names: Names,
    global_environment: dict[str, str],
    report: Report,
) -> model.ProcessConfig | None:
    """One process of a program, for one process_num; None if any of its values is wrong."""
    before = len(report.problems)
    opts = section.options
    listener = section.kind == "eventlistener"
    names = {**names, "process_num": number, "numprocs": numprocs}
    environment: dict[str, str] = {}
    raw = opts.get("environment")
    if raw is not None:
        environment = convert_raw(raw, convert.key_value_pairs, names, report) or {}
    # As supervisord: the program's own environment is also ENV_X for its other values.
    names.update({"ENV_" + key: value for key, value in environment.items()})
    kwargs, logs = _process_values(opts, names, listener, report)
    kwargs.update(health.process_values(opts, names, report))
    _settle_process_values(opts, kwargs, logs, listener, report)
    command = None
    raw = opts.get("command")
    if raw is not None:
        command = convert_raw(raw, convert.command, names, report)
    name = section.name
    raw = opts.get("process_name")
    if raw is not None:
        name = convert_raw(raw, convert.name, names, report) or name
    if command is None or len(report.problems) > before:
        return None
    _check_process(opts, command, logs, bool(kwargs.get("redirect_stderr")), names, report)
    if len(report.problems) > before:
        return None
    return model.ProcessConfig(
        name,
        command,
        program=section.name,
        group=group,
        priority=priority,
        environment={**global_environment, **environment},
        stdout=model.LogTarget(**logs["stdout"]),
        stderr=model.LogTarget(**logs["stderr"]),
        **kwargs,
    )


def _check_process(
    opts: dict[str, Raw],
    command: list[str],
    logs: dict[str, dict[str, Any]],
    redirected: bool,
    names: Names,
    report: Report,
) -> None:
    """What starting this process would trip over: log files (errors), its command (warning).

    A command that does not resolve is only a warning: supervisord finds out at spawn, and
    a program may be installed or mounted after the file is read (autostart=false tools,
    a volume), so an existing supervisord.conf must not stop loading because of it.
    """
    from initsup.config import checks

    for stream in ("stdout", "stderr"):
        path = logs[stream].get("path")
        if path not in _NOT_FILES and not (stream == "stderr" and redirected):
            problem = checks.logfile(path)
            if problem is not None:
                report.problems.append(opts[f"{stream}_logfile"].say(problem))
    path_env = names.get("ENV_PATH")  # the child's PATH: environ, then environment= keys
    key = (command[0], None if path_env is None else str(path_env))
    if key not in report.commands:
        report.commands[key] = checks.command(command, key[1])
    warning = report.commands[key]
    if warning is not None:
        report.warnings.append(opts["command"].say(warning))


def _process_values(
    opts: dict[str, Raw], names: Names, listener: bool, report: Report
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The converted process options, and the stdout/stderr LogTarget fields."""
    kwargs: dict[str, Any] = {}
    logs: dict[str, dict[str, Any]] = {"stdout": {}, "stderr": {}}
    for key, raw in opts.items():
        converter = _PROCESS_OPTIONS.get(key)
        if converter is not None:
            kwargs[key] = convert_raw(raw, converter, names, report)
            continue
        stream, _, option = key.partition("_")
        if listener and stream == "stdout":
            continue  # the protocol channel: warned about once, in _warn_about_keys
        if stream in logs and option in _LOG_OPTIONS:
            field, log_converter = _LOG_OPTIONS[option]
            logs[stream][field] = convert_raw(raw, log_converter, names, report)
    return kwargs, logs


def _settle_process_values(
    opts: dict[str, Raw],
    kwargs: dict[str, Any],
    logs: dict[str, dict[str, Any]],
    listener: bool,
    report: Report,
) -> None:
    """Defaults that depend on other options, and the rules between options."""
    if kwargs.get("essential") and "autorestart" not in kwargs:
        # An essential program's end ends the container, so by default it is not
        # restarted first (set autorestart to restart it until it goes FATAL).
        kwargs["autorestart"] = "false"
    if "killasgroup" not in kwargs:
        kwargs["killasgroup"] = kwargs.get("stopasgroup", False)
    elif kwargs.get("stopasgroup") and kwargs["killasgroup"] is False:
        report.problems.append(
            opts["killasgroup"].say("must not be false when stopasgroup is true (as supervisord)")
        )
    if listener and kwargs.get("redirect_stderr"):
        report.problems.append(
            opts["redirect_stderr"].say(
                "must be false for an event listener: its stdout carries the listener"
                " protocol (as supervisord)"
            )
        )
    elif kwargs.get("redirect_stderr") and logs["stderr"].get("path") not in _NOT_FILES:
        report.warnings.append(
            opts["stderr_logfile"].say("is ignored: redirect_stderr=true sends stderr to stdout")
        )


def listener_config(
    section: Section, group: str, names: Names, report: Report
) -> model.ListenerConfig | None:
    """An [eventlistener:x] section's events= and buffer_size= (None if either is wrong)."""
    opts = section.options
    names = _program_names(section, group, names)
    events = None
    raw = opts.get("events")
    if raw is not None:
        events = convert_raw(raw, convert.event_types, names, report)
    elif section.file is not None:
        report.problems.append(f"{section.file}: [{section.title}] events: required")
    else:
        prefix = section.vars[0].partition("__")[0]
        report.problems.append(
            f"{section.where()}: event listener {section.name!r} has no events: set"
            f" {prefix}__EVENTS=<event types> or add [eventlistener:{section.name}] events="
        )
    buffer_size: int | None = 10
    raw = opts.get("buffer_size")
    if raw is not None:
        buffer_size = convert_raw(raw, _BUFFER_SIZE, names, report)
    if events is None or buffer_size is None:
        return None
    return model.ListenerConfig(events, buffer_size)
