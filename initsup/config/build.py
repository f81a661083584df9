"""Raw sections -> the model: [initsup] options, groups of programs and listener pools,
the main program given after `--`, and the warnings about sections initsup ignores.

`load` runs the steps in order: read the files (sources.py), merge INITSUP_* variables,
read the global options, then make every group, whose processes programs.py makes.
Nothing partial is returned: every problem is collected and all are raised together in
one ConfigError, next to the warnings.
"""

from __future__ import annotations

import os

from initsup import model
from initsup.config import convert, health
from initsup.config.programs import listener_config, processes
from initsup.config.servers import ctl_config, http_servers
from initsup.config.sources import (
    Raw,
    Report,
    convert_raw,
    grouped,
    one_line_each,
    read_environment,
    read_files,
)
from initsup.errors import ConfigError

_LIMIT = convert.positive_int(1 << 30)

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from initsup.config.sources import Names, Section
    from initsup.model_notify import NotifierConfig

# Sections supervisord (or supervisorctl) reads and initsup has no use for.
_UNUSED_KINDS = (
    "rpcinterface",
    "ctlplugin",
)
# [supervisord] keys initsup reads and ignores, each with the reason (written in the
# warning a migrating user gets).
IGNORED_OPTIONS = {
    "logfile": "initsup's own log is its stdout (readLog reads it from memory)",
    "logfile_maxbytes": "initsup's own log is its stdout (readLog reads it from memory)",
    "logfile_backups": "initsup's own log is its stdout (readLog reads it from memory)",
    "childlogdir": "AUTO child logs go to initsup's stdout, not to files",
    "nocleanup": "AUTO child logs go to initsup's stdout, not to files",
    "strip_ansi": "program output is passed on unchanged (JSON escapes control characters)",
}
# Read and checked, with no effect: initsup never daemonizes.
_ACCEPTED = {"nodaemon": convert.boolean}


def load(
    path: str | None,
    environ: Mapping[str, str],
    main_command: list[str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> tuple[model.Config, list[str]]:
    """Read path (None: variables only) and environ; return (config, warnings) or raise.

    overrides: [supervisord] keys given on the command line (`--user`), which beat both.
    """
    report = Report()
    here = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    names: Names = {"ENV_" + key: value for key, value in environ.items()}
    # uname's nodename is what platform.node() and socket.gethostname() return, unimported.
    names["host_node_name"] = os.uname().nodename
    names["here"] = here
    sections: dict[str, Section] = {}
    files: list[str] = []
    if path:
        sections, files = read_files(path, names, report)
    from_environment, used = read_environment(environ, sections, here, report)
    for key, text in (overrides or {}).items():  # the command line beats the rest
        from_environment[key] = Raw(text, key, var=f"--{key}")
    _check_sections(sections, report)
    options = _init_options(sections, from_environment, names, report)
    # As supervisord 4: [supervisord] environment= is ENV_X for every program's values too.
    names.update({"ENV_" + key: value for key, value in options.environment.items()})
    groups = _groups(sections, names, options.environment, main_command, report)
    groups = health.drop_plugin_listener(groups, sections, report)
    health.check_graph(groups, sections, report)
    default_user(groups, options.user)
    notifiers = _notifiers(sections, names, environ, groups, report)
    warnings = one_line_each(report.warnings)
    if report.problems:
        raise ConfigError(one_line_each(report.problems), warnings)
    return model.Config(options, groups, files + used, notifiers), warnings


def _notifiers(
    sections: dict[str, Section],
    names: Names,
    environ: Mapping[str, str],
    groups: list[model.GroupConfig],
    report: Report,
) -> list[NotifierConfig]:
    """[notify:x] sections; config.alerts is imported only when there is one."""
    if not any(s.kind == "notify" for s in sections.values()):
        return []
    from initsup.config.alerts import notifiers

    known = {g.name for g in groups}
    known.update(n for g in groups for p in g.processes for n in (p.name, p.program))
    return notifiers(sections, names, environ, known, report)


def default_user(groups: Iterable[model.GroupConfig], user: str | None) -> None:
    """[supervisord] user=: every program and listener without a user= of its own runs
    as that user (initsup itself stays root, to reap and signal them)."""
    if user is None:
        return
    for group in groups:
        for process in group.processes:
            if process.user is None:
                process.user = user


def _init_options(
    sections: dict[str, Section],
    from_environment: dict[str, Raw],
    names: Names,
    report: Report,
) -> model.InitOptions:
    """The global options: [supervisord], then [initsup] key by key, then INITSUP_<OPTION>."""
    merged: dict[str, Raw] = {}
    heres: dict[str, str] = {}
    for title in ("supervisord", "initsup"):
        section = sections.get(title)
        if section is not None:
            merged.update(section.options)
            heres[title] = section.here
    merged.update(from_environment)
    options = model.InitOptions()
    converters: dict[str, Callable[[str], object]] = {
        "log_format": convert.log_format,
        "loglevel": convert.loglevel,
        "identifier": convert.text,
        "environment": convert.key_value_pairs,
        "user": convert.user,
        "umask": convert.octal_mode,
        "directory": convert.existing_directory,
        "pidfile": convert.existing_dirpath,
        "minfds": _LIMIT,
        "minprocs": _LIMIT,
        "silent": convert.boolean,
        "drain": convert.seconds,
    }
    ignored: dict[str, list[tuple[str, str]]] = {}
    for key, raw in merged.items():
        converter = converters.get(key) or _ACCEPTED.get(key)
        if converter is not None:
            here = heres.get(raw.section, names["here"])
            value = convert_raw(raw, converter, {**names, "here": here}, report)
            if value is not None and key not in _ACCEPTED:
                setattr(options, key, value)
        elif key in IGNORED_OPTIONS:
            where = (f"{raw.file}: [{raw.section}]", key) if raw.var is None else ("", raw.var)
            ignored.setdefault(IGNORED_OPTIONS[key], []).append(where)
        else:
            report.warnings.append(raw.say("is not an option initsup knows, ignored"))
    for reason, places in ignored.items():
        report.warnings.append(f"{grouped(places, ' ').strip()}: ignored: {reason}")
    options.http_servers = http_servers(sections, names, report)
    options.ctl = ctl_config(sections, names, report)
    _control_socket(sections.get("unix_http_server"), options)
    return options


def _control_socket(section: Section | None, options: model.InitOptions) -> None:
    """[unix_http_server] file= and chmod= place initsup's control socket.

    Without chmod= it keeps its own 0600, not supervisord's 0700: no group can reach it.
    """
    for server in options.http_servers:
        if server.kind == "unix" and section is not None:
            options.socket = server.address
            chmod = section.options.get("chmod")
            if chmod is not None and chmod.text.strip() and server.mode is not None:
                options.socket_mode = server.mode


def _group_sections(
    sections: dict[str, Section],
    programs: dict[str, Section],
    listeners: Iterable[str],
    names: Names,
    report: Report,
) -> tuple[dict[str, tuple[int, list[str]]], dict[str, str]]:
    """Each [group:x]'s priority and programs, and the group of each program in one."""
    groups: dict[str, tuple[int, list[str]]] = {}
    owner: dict[str, str] = {}
    for section in sections.values():
        if section.kind != "group" or not _valid_name(section, report):
            continue
        group_names = {**names, "here": section.here, "group_name": section.name}
        for key, other in section.options.items():
            if key not in ("programs", "priority"):
                report.warnings.append(other.say("is not an option initsup knows, ignored"))
        raw = section.options.get("priority")
        priority = None if raw is None else convert_raw(raw, convert.integer, group_names, report)
        raw = section.options.get("programs")
        listed = None if raw is None else convert_raw(raw, convert.comma_list, group_names, report)
        if raw is None or listed == []:
            report.warnings.append(f"{section.where()}: names no programs (programs=a,b), ignored")
            continue
        members = _members(
            raw, listed or [], section.name, (programs, listeners, sections), owner, report
        )
        for program in members:
            owner[program] = section.name
        groups[section.name] = (999 if priority is None else priority, members)
    return groups, owner


def _members(
    raw: Raw,
    listed: list[str],
    group: str,
    known: tuple[dict[str, Section], Iterable[str], dict[str, Section]],
    owner: dict[str, str],
    report: Report,
) -> list[str]:
    """The programs group's programs= names that can be its members (the rest are said).

    known: the programs, the event listeners and every section, by name.
    """
    programs, listeners, sections = known
    members: list[str] = []
    for program in listed:
        if program in owner or program in members:
            first = owner.get(program, group)
            report.problems.append(
                raw.say(f"names program {program!r}, which [group:{first}] names too")
            )
        elif program in programs:
            members.append(program)
        elif program in listeners:
            report.problems.append(
                raw.say(
                    f"names event listener {program!r}, which cannot be in a [group:x]"
                    " (its pool is a group of its own)"
                )
            )
        elif f"fcgi-program:{program}" not in sections:  # those are ignored with a warning
            report.problems.append(raw.say(f"names unknown program {program!r}"))
    return members


def _valid_name(section: Section, report: Report) -> bool:
    """Whether a program or group section's name can be used; if not, say why."""
    try:
        convert.name(section.name)
    except ValueError as exc:
        report.problems.append(f"{section.where()}: the name {section.name!r} {exc}")
        return False
    return True


def _groups(
    sections: dict[str, Section],
    names: Names,
    environment: dict[str, str],
    main_command: list[str] | None,
    report: Report,
) -> list[model.GroupConfig]:
    """Every group with its processes, in (priority, name) order, both levels."""
    programs = _named(sections, "program", report)
    listeners = _named(sections, "eventlistener", report)
    every_listener = {s.name for s in sections.values() if s.kind == "eventlistener"}
    members, owner = _group_sections(sections, programs, every_listener, names, report)
    result: dict[str, model.GroupConfig] = {}
    for name, (priority, listed) in members.items():
        made = []
        for program in listed:
            made.extend(processes(programs[program], name, names, environment, report)[1])
        result[name] = model.GroupConfig(name, priority, made)
    _own_groups(result, programs, owner, members, names, environment, report)
    _listener_pools(result, programs, listeners, members, names, environment, report)
    if main_command is not None:
        _add_main(result, programs, listeners, sections, main_command, environment, report)
    elif not report.unread and not any(
        s.kind in ("program", "eventlistener") for s in sections.values()
    ):
        report.problems.append(
            "no programs to supervise: add a [program:NAME] section,"
            " set INITSUP_PROGRAM_<NAME>=<command>, or give a command after --"
        )
    for group in result.values():
        _check_unique(group, listeners if group.listener is not None else programs, report)
        group.processes.sort(key=lambda p: (p.priority, p.name))
    return sorted(result.values(), key=lambda g: (g.priority, g.name))


def _named(sections: dict[str, Section], kind: str, report: Report) -> dict[str, Section]:
    """The sections of one kind whose names can be used, by name (the others are said)."""
    return {s.name: s for s in sections.values() if s.kind == kind and _valid_name(s, report)}


def _own_groups(
    result: dict[str, model.GroupConfig],
    programs: dict[str, Section],
    owner: dict[str, str],
    members: dict[str, tuple[int, list[str]]],
    names: Names,
    environment: dict[str, str],
    report: Report,
) -> None:
    """A program in no [group:x] is a group of its own, with the program's priority."""
    for name, section in programs.items():
        if name in owner:
            continue
        priority, made = processes(section, name, names, environment, report)
        if name in members:
            report.problems.append(
                f"{section.where()}: is in no [group:x], so it forms group {name!r},"
                f" but [group:{name}] is a group of that name too"
            )
        else:
            result[name] = model.GroupConfig(name, priority, made)


def _listener_pools(
    result: dict[str, model.GroupConfig],
    programs: dict[str, Section],
    listeners: dict[str, Section],
    members: dict[str, tuple[int, list[str]]],
    names: Names,
    environment: dict[str, str],
    report: Report,
) -> None:
    """A listener pool is always a group of its own, named after the section."""
    for name, section in listeners.items():
        priority, made = processes(section, name, names, environment, report)
        listener = listener_config(section, name, names, report)
        if name in programs:
            report.problems.append(
                f"{section.where()}: the name {name!r} is taken by [program:{name}]:"
                " one name cannot mean both a program and an event listener pool"
            )
        elif name in members:
            report.problems.append(
                f"{section.where()}: forms event listener pool {name!r},"
                f" but [group:{name}] is a group of that name too"
            )
        elif listener is not None:
            result[name] = model.GroupConfig(name, priority, made, listener)


def _add_main(
    result: dict[str, model.GroupConfig],
    programs: dict[str, Section],
    listeners: dict[str, Section],
    sections: dict[str, Section],
    main_command: list[str],
    environment: dict[str, str],
    report: Report,
) -> None:
    """The command given after `--`: process and group `main`, essential, never restarted."""
    clash = programs.get("main") or listeners.get("main") or sections.get("group:main")
    if clash is not None:
        report.problems.append(
            f"{clash.where()}: the name 'main' is taken by the command given after --"
        )
    elif not main_command:
        report.problems.append("the command given after -- is empty")
    else:
        main = model.ProcessConfig(
            "main",
            list(main_command),
            program="main",
            group="main",
            essential=True,
            autorestart="false",
            startsecs=0,
            environment=dict(environment),
        )
        result["main"] = model.GroupConfig("main", 999, [main])


def _check_unique(group: model.GroupConfig, owners: dict[str, Section], report: Report) -> None:
    """Two processes of one group must not share a name; owners: the group's sections by name."""
    seen: dict[str, str] = {}
    for process in group.processes:
        other = seen.get(process.name)
        if other is not None:
            report.problems.append(
                f"{owners[process.program].where()}: process name {process.name!r}"
                f" is already used in group {group.name!r} by [{owners[other].title}]"
            )
        seen[process.name] = process.program


# The rpcinterface every supervisord.conf names: the XML-RPC interface initsup serves.
_STANDARD_RPC = "supervisor.rpcinterface:make_main_rpcinterface"


def _standard_rpc(section: Section) -> bool:
    """[rpcinterface:supervisor] asking for supervisord's own interface: served, no warning."""
    factory = section.options.get("supervisor.rpcinterface_factory")
    return (
        section.kind == "rpcinterface"
        and factory is not None
        and (factory.text.strip() == _STANDARD_RPC and set(section.options) == {factory.key})
    )


def _check_sections(sections: dict[str, Section], report: Report) -> None:
    """Warn about sections initsup ignores: one warning per kind, one per unknown section."""
    unused = []
    for section in sections.values():
        if section.title in (
            "initsup",
            "supervisord",
            "unix_http_server",
            "inet_http_server",
            "supervisorctl",
        ):
            continue
        if section.kind in ("program", "eventlistener", "group", "notify"):
            continue
        if _standard_rpc(section):
            continue
        place = (str(section.file), f"[{section.title}]")
        if section.kind == "fcgi-program":
            report.warnings.append(
                f"{section.where()}: initsup does not run FastCGI programs:"
                " the processes of this section will NOT run"
            )
        elif (section.kind or section.title) in _UNUSED_KINDS:
            unused.append(place)
        else:
            report.warnings.append(f"{section.where()}: not a section initsup knows, ignored")
    if unused:
        report.warnings.append(f"{grouped(unused)}: sections initsup does not use, ignored")
