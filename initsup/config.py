"""Configuration: a supervisord-style INI file plus INITSUP_* variables, checked into a Config.

The file is read the way supervisord reads it (`configparser` without interpolation, `;`
and `#` comments after whitespace, `%(name)s` expansion with Python %-formatting), so an
existing supervisord.conf loads unchanged.  Variables add programs or override any option,
key by key.  Every value is converted here, once: the model holds numbers, sets and
signal numbers, never text to parse later.

Nothing partial is ever returned.  Every problem is collected, each as one line naming the
file (or variable), section, key and value, and all of them are raised together; warnings
(unknown keys, sections initsup ignores) are returned next to the config.
"""

from __future__ import annotations

import configparser
import os

from initsup import limits, model
from initsup.model import ConfigError
from initsup.signals import UNCATCHABLE, parse_signal, signal_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, TypeVar

    T = TypeVar("T")
    Names = dict[str, object]  # %(name)s expansions: name -> value

__all__ = ["ConfigError", "find_config", "load"]

# Where initsup looks when neither -c nor INITSUP_CONFIG names a file: its own file first,
# then the places supervisord's own search ends at.
SEARCH_PATH = ("/etc/initsup.ini", "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf")

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_SIZE_SUFFIXES = {"kb": 1024, "mb": 1024 * 1024, "gb": 1024 * 1024 * 1024}
# In a container, supervisord users point a log at the container's own output; for
# initsup that output is its JSON stream, so these paths mean the stream, not a file.
_STREAM_PATHS = frozenset(
    {
        "/dev/stdout",
        "/dev/stderr",
        "/dev/fd/1",
        "/dev/fd/2",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
    }
)
_LOGLEVELS = {
    "critical": "critical",
    "error": "error",
    "warn": "warning",
    "warning": "warning",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
    "blather": "debug",
}
_LOG_FORMATS = ("json", "text", "raw")

# Sections supervisord (or supervisorctl) reads and initsup has no use for.
_UNUSED_KINDS = (
    "inet_http_server",
    "supervisorctl",
    "rpcinterface",
    "ctlplugin",
)
# [supervisord] keys about its own log file, pid file and daemonizing: initsup logs to
# stdout and never daemonizes, so they have no meaning here.
_SUPERVISORD_ONLY = (
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "pidfile",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "umask",
    "user",
    "directory",
    "nocleanup",
    "childlogdir",
    "strip_ansi",
)
_GLOBAL_KEYS = ("log_format", "loglevel", "identifier", "environment")
_GLOBAL_VARS = {"INITSUP_" + key.upper(): key for key in _GLOBAL_KEYS}
# Read by other parts of initsup (cli, the control client): not configuration, no warning.
_OTHER_VARS = ("INITSUP_CONFIG", "INITSUP_SOCKET", "INITSUP_KILL_PROCESS_GROUP")


# -- converters: text to value, or ValueError saying what form was expected --------------
#
# Messages are predicates ("must be ...") so that they read after a key and its value:
# `[program:web] startsecs = 'abc': must be ...` and `INITSUP_...='abc': startsecs must be ...`.


def _boolean(text: str) -> bool:
    """supervisord's boolean words, in any case: true/yes/on/1 and false/no/off/0."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("must be true or false (or yes/no, on/off, 1/0)")


def _integer(text: str) -> int:
    """A whole number, negative allowed (priorities)."""
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be a whole number, e.g. 999 or -1") from None


def _count(text: str) -> int:
    """A whole number from 0 up."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _numprocs(text: str) -> int:
    """A whole number from 1 up to limits.MAX_NUMPROCS."""
    return _bounded(text, limits.MAX_NUMPROCS)


def _buffer_size(text: str) -> int:
    """A whole number from 1 up to limits.MAX_BUFFER_SIZE."""
    return _bounded(text, limits.MAX_BUFFER_SIZE)


def _bounded(text: str, most: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise ValueError(f"must be a whole number from 1 to {most}")
    return value


def _seconds(text: str) -> float:
    """A non-negative, finite number of seconds; fractions allowed (supervisord: integers)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # NaN fails both comparisons
        raise ValueError("must be a non-negative number (seconds, e.g. 1 or 0.5)")
    return value


def _autorestart(text: str) -> str:
    """true, false or unexpected; boolean words normalised to true/false."""
    word = text.strip().lower()
    if word == "unexpected":
        return word
    try:
        return "true" if _boolean(word) else "false"
    except ValueError:
        raise ValueError("must be true, false or unexpected") from None


def _exitcodes(text: str) -> frozenset[int]:
    """A comma list of exit codes 0..255; empty means none is expected (as supervisord)."""
    if not text.strip():
        return frozenset()
    codes = set()
    for part in text.split(","):
        try:
            code = int(part)
        except ValueError:
            code = -1
        if not 0 <= code <= 255:
            raise ValueError("must be a comma-separated list of exit codes 0 to 255, e.g. 0,2")
        codes.add(code)
    return frozenset(codes)


def _signal(text: str) -> int:
    """One signal by name or number: TERM, SIGTERM, 15."""
    try:
        return parse_signal(text)
    except ValueError:
        raise ValueError("must be a signal of this system: TERM, SIGTERM, 15, ...") from None


def _signals(text: str) -> frozenset[int]:
    """Signals separated by commas (or spaces); empty means none."""
    result = set()
    for word in text.replace(",", " ").split():
        try:
            signum = parse_signal(word)
        except ValueError:
            raise ValueError(
                f"must be a comma-separated list of signals, e.g. HUP,USR1 ({word!r} is not one)"
            ) from None
        if signum in UNCATCHABLE:
            raise ValueError(
                f"cannot include {signal_name(signum)}: initsup cannot catch it to pass it on"
            )
        result.add(signum)
    return frozenset(result)


def _umask(text: str) -> int | None:
    """An octal mode such as 022; empty means unset."""
    if not text.strip():
        return None
    try:
        value = int(text, 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o777:
        raise ValueError("must be an octal mode from 000 to 777, e.g. 022")
    return value


def _byte_size(text: str) -> int:
    """supervisord's byte size: a whole number, optionally with a KB, MB or GB suffix."""
    value = text.strip().lower()
    multiplier = _SIZE_SUFFIXES.get(value[-2:], 1)
    if multiplier != 1:
        value = value[:-2]
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError("must be a size in bytes, optionally with KB, MB or GB: 0, 1024, 50MB")
    return number * multiplier


def _user(text: str) -> str | None:
    """A user name from the passwd database, or any numeric uid; empty means unset."""
    name = text.strip()
    if not name:
        return None
    if name.isascii() and name.isdigit():
        # A uid needs no passwd entry: containers often run as arbitrary uids.
        if int(name) >= 2**32 - 1:  # (uid_t)-1 means "no change" to setuid
            raise ValueError("must be a uid below 4294967295")
        return name
    if len(name) > limits.MAX_USER_CHARS:
        # Some NSS modules abort the whole process on a very long name.
        raise ValueError(f"must be a user name of at most {limits.MAX_USER_CHARS} characters")
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ValueError("must be a user in the passwd database, or a numeric uid") from None
    return name


def _directory(text: str) -> str | None:
    """A directory to start in; empty means unset (it is checked when the program starts)."""
    return text.strip() or None


def _environment(text: str) -> dict[str, str]:
    """KEY=val,KEY2="val 2" into a dict, as supervisord's dict_of_key_value_pairs."""
    import shlex

    # shlex in non-POSIX mode keeps quotes on tokens; supervisord then strips them.  Its
    # extra word characters let paths, URLs without `?=` and version strings go unquoted.
    lexer = shlex.shlex(text)
    lexer.wordchars += "/.+-():"
    # supervisord's shlex treats `#` as a comment and silently cuts `A=x#y` to `x`; here it
    # is a character that needs quotes.  (A `#` after whitespace is already the INI's.)
    lexer.commenters = ""
    expected = 'must be KEY=value pairs separated by commas, e.g. A=1,B="two words"'
    try:
        tokens = list(lexer)
    except ValueError as exc:
        raise ValueError(f"{expected} ({exc})") from None
    result = {}
    for i in range(0, len(tokens), 4):  # KEY = value ,
        pair = tokens[i : i + 3]
        # supervisord skips whatever stands where the comma should be, so `A=b c` silently
        # loses `c`: that is reported here instead.
        if len(pair) != 3 or pair[1] != "=" or tokens[i + 3 : i + 4] not in ([], [","]):
            raise ValueError(expected)
        result[pair[0]] = pair[2].strip("'\"")
    return result


def _command(text: str) -> list[str]:
    """A command line split into words like a POSIX shell would (shlex), as supervisord."""
    import shlex

    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words: {exc}") from None
    if not argv:
        raise ValueError("must not be empty")
    return argv


def _name(text: str) -> str:
    """A process or group name: no whitespace, `:` or `/` (they break namespecs and URLs)."""
    name = text.strip()
    if not name:
        raise ValueError("must not be empty")
    if len(name.split()) != 1 or ":" in name or "/" in name:
        raise ValueError("must not contain spaces, ':' or '/'")
    return name


def _logfile(text: str) -> str:
    """TO_STREAM (unset, AUTO, /dev/stdout and friends), TO_NOWHERE (NONE, OFF) or a path."""
    value = text.strip()
    # supervisord 4 reads `syslog` as its deprecated spelling of <stream>_syslog=true, not
    # as a file name; initsup has no syslog: the output goes where AUTO sends it (a warning
    # says so, in _processes).
    if not value or value.upper() in ("AUTO", "SYSLOG") or value in _STREAM_PATHS:
        return model.TO_STREAM
    if value.upper() in ("NONE", "OFF"):
        return model.TO_NOWHERE
    return os.path.expanduser(value)


def _loglevel(text: str) -> str:
    """supervisord's level names mapped onto initsup's five."""
    level = _LOGLEVELS.get(text.strip().lower())
    if level is None:
        raise ValueError("must be one of critical, error, warn, info, debug, trace, blather")
    return level


def _log_format(text: str) -> str:
    """json, text or raw."""
    value = text.strip().lower()
    if value not in _LOG_FORMATS:
        raise ValueError("must be json, text or raw")
    return value


def _events(text: str) -> frozenset[str]:
    """supervisord's events=: event type names separated by commas, in any case."""
    from initsup.events import EVENT_TYPES

    words = [word.strip() for word in text.split(",") if word.strip()]
    if not words:
        raise ValueError("must name at least one event type, e.g. PROCESS_STATE,TICK_60")
    unknown = [word for word in words if word.upper() not in EVENT_TYPES]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        message = f"unknown event type{plural} {', '.join(repr(word) for word in unknown)}"
        if any(word.upper() == "EVENT_BUFFER_OVERFLOW" for word in unknown):
            message += " (supervisord 3.0 removed EVENT_BUFFER_OVERFLOW)"
        raise ValueError(message)
    return frozenset(word.upper() for word in words)


def _text(text: str) -> str:
    """Any text, as given."""
    return text


def _expand(text: str, names: Mapping[str, object]) -> str:
    """supervisord's %(name)s expansion (Python %-formatting, so %% is a literal %)."""
    try:
        return limits.expand(text, names)
    except KeyError as exc:
        raise ValueError(_unknown_name(str(exc.args[0]), names)) from None


def _unknown_name(name: str, names: Iterable[str]) -> str:
    """Say which %(name)s is unknown and which names are known."""
    if not name.isprintable():  # a name split over lines: keep the problem on one line
        name = repr(name)[1:-1]
    if name.startswith("ENV_"):
        return f"refers to %({name})s, but there is no environment variable {name[4:]}"
    known = ", ".join(sorted(n for n in names if not n.startswith("ENV_")))
    return f"refers to unknown name %({name})s (known: {known}, ENV_<variable>)"


# Options converted once per process, straight into ProcessConfig's keyword arguments.
_PROCESS_OPTIONS: dict[str, Callable[[str], object]] = {
    "autostart": _boolean,
    "autorestart": _autorestart,
    "startsecs": _seconds,
    "startretries": _count,
    "exitcodes": _exitcodes,
    "stopsignal": _signal,
    "stopwaitsecs": _seconds,
    "stopasgroup": _boolean,
    "killasgroup": _boolean,
    "user": _user,
    "directory": _directory,
    "umask": _umask,
    "redirect_stderr": _boolean,
    "essential": _boolean,
    "forward_signals": _signals,
    "backoff_max": _seconds,
    "backoff_reset": _seconds,
}
# stdout_<option> / stderr_<option> -> (LogTarget field, converter)
_LOG_OPTIONS: dict[str, tuple[str, Callable[[str], object]]] = {
    "logfile": ("path", _logfile),
    "logfile_maxbytes": ("maxbytes", _byte_size),
    "logfile_backups": ("backups", _count),
    "capture_maxbytes": ("capture_maxbytes", _byte_size),
    "events_enabled": ("events_enabled", _boolean),
}
_IGNORED_WITH_WARNING = ("stdout_syslog", "stderr_syslog")
_LOGFILE_KEYS = ("stdout_logfile", "stderr_logfile")
_NOT_FILES = (None, model.TO_STREAM, model.TO_NOWHERE)
_PROGRAM_KEYS = frozenset(
    [
        *_PROCESS_OPTIONS,
        *(f"{stream}_{option}" for stream in ("stdout", "stderr") for option in _LOG_OPTIONS),
        *_IGNORED_WITH_WARNING,
        "command",
        "process_name",
        "numprocs",
        "numprocs_start",
        "priority",
        "environment",
        "serverurl",  # no XML-RPC server to point at yet: accepted silently
    ]
)
# [eventlistener:x] takes every program key plus these (result_handler: with a warning).
_LISTENER_KEYS = frozenset(["events", "buffer_size", "result_handler"])
_DEFAULT_RESULT_HANDLER = "supervisor.dispatchers:default_handler"


# -- where values come from -------------------------------------------------------------


class _Raw:
    """One option's text and where it was set: a section of a file, or a variable."""

    __slots__ = ("file", "key", "section", "text", "var")

    def __init__(
        self,
        text: str,
        key: str,
        file: str | None = None,
        section: str = "",
        var: str | None = None,
    ) -> None:
        self.text = text
        self.key = key
        self.file = file
        self.section = section
        self.var = var

    def where(self) -> str:
        """`FILE: [section] key = 'value'` or `VARIABLE='value'`."""
        if self.var is not None:
            return f"{self.var}={self.text!r}"
        return f"{self.file}: [{self.section}] {self.key} = {self.text!r}"

    def say(self, message: str) -> str:
        """A problem or warning line about this value; a variable's line names the option."""
        if self.var is not None:
            return f"{self.where()}: {self.key} {message}"
        return f"{self.where()}: {message}"


class _Section:
    """One section: from a file (perhaps with variables overriding keys), or from variables."""

    __slots__ = ("file", "here", "kind", "name", "options", "title", "vars")

    def __init__(self, title: str, file: str | None, here: str, options: dict[str, _Raw]) -> None:
        self.title = title
        kind, colon, name = title.partition(":")
        self.kind = kind.strip() if colon else ""  # program, group, rpcinterface, ...
        self.name = name.strip()
        self.file = file
        self.here = here  # %(here)s: the directory of the file it came from
        self.options = options
        self.vars: list[str] = []  # the INITSUP_* variables that set its keys

    def where(self) -> str:
        """`FILE: [title]`, or the first variable that defined it."""
        if self.file is not None:
            return f"{self.file}: [{self.title}]"
        return self.vars[0]


class _Report:
    """Problems and warnings, in the order found."""

    __slots__ = ("commands", "expanded", "problems", "processes", "read", "unread", "warnings")

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.unread = False  # a file could not be read: its programs are unknown
        self.expanded = 0  # characters of every expanded value so far (limits.MAX_TOTAL_CHARS)
        self.processes = 0  # processes made so far (limits.MAX_PROCESSES)
        self.read = 0  # characters of every file read so far (limits.MAX_TOTAL_BYTES)
        # checks.command per (program, PATH): numprocs=10000 would look it up 10,000 times
        self.commands: dict[tuple[str, str | None], str | None] = {}


def _convert(
    raw: _Raw, converter: Callable[[str], T], names: Mapping[str, object], report: _Report
) -> T | None:
    """Expand and convert one value; on failure record the problem and return None."""
    try:
        if report.expanded > limits.MAX_TOTAL_CHARS:
            return None  # said once, where it happened; the rest would only repeat it
        text = _expand(raw.text, names)
        report.expanded += len(text)
        if report.expanded > limits.MAX_TOTAL_CHARS:
            raise ValueError(
                f"is where the expanded values pass {limits.MAX_TOTAL_CHARS} characters in all"
            )
        if "\0" in text:  # no file name, argument or variable can hold one
            raise ValueError("must not contain a NUL byte")
        try:
            # What os.fsencode does to every argument, path and variable at spawn: only
            # surrogates that stand for undecodable bytes (from the environment) pass.
            text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise ValueError(f"holds {exc.object[exc.start]!r}, which is no character") from None
        return converter(text)
    except ValueError as exc:
        report.problems.append(raw.say(str(exc)))
        return None


def _grouped(places: Iterable[tuple[str, str]], sep: str = ": ") -> str:
    """`PLACE: a, b; PLACE2: c` from (place, item) pairs, keeping their order."""
    by_place: dict[str, list[str]] = {}
    for place, item in places:
        by_place.setdefault(place, []).append(item)
    return "; ".join(f"{place}{sep}{', '.join(items)}" for place, items in by_place.items())


# -- reading files ------------------------------------------------------------------------


def _parse_file(file: str, report: _Report) -> configparser.RawConfigParser | None:
    """Parse one file as supervisord's UnhosedConfigParser would; None if it is unusable."""
    if report.read > limits.MAX_TOTAL_BYTES:
        return None  # said once, at the first file past it
    try:
        text = limits.read_file(file)
        report.read += len(text)
        if report.read > limits.MAX_TOTAL_BYTES:
            raise ValueError(
                f"not read: the files read pass {limits.MAX_TOTAL_BYTES // (1024 * 1024)}"
                " MiB in all"
            )
    except ValueError as exc:
        report.problems.append(f"{file}: {exc}")
        report.unread = True
        return None
    # `;` and `#` start a comment at a line's start or after whitespace (configparser only
    # takes inline prefixes after whitespace, so `a;b` stays a value); a section or key
    # repeated in one file is merged, not an error (strict=False), as in supervisord.
    parser = configparser.RawConfigParser(
        inline_comment_prefixes=(";", "#"), strict=False, interpolation=None
    )
    from initsup import duplicates

    report.warnings.extend(duplicates.find(text, file))
    try:
        parser.read_string(text, source=file)
    except configparser.MissingSectionHeaderError as exc:
        line = exc.line.strip()
        report.problems.append(f"{file}: line {exc.lineno}: {line!r} comes before any [section]")
        report.unread = True
        return None
    except configparser.ParsingError as exc:
        # configparser reads the whole file before raising, so the rest is still checked.
        lines = text.splitlines()
        for lineno, _ in exc.errors:
            line = lines[lineno - 1].strip() if lineno <= len(lines) else ""
            report.problems.append(f"{file}: line {lineno}: {line!r} is not `key = value`")
    return parser


def _read_files(path: str, names: Names, report: _Report) -> tuple[dict[str, _Section], list[str]]:
    """Read path and, depth first, every file its [include] sections name."""
    sections: dict[str, _Section] = {}
    files: list[str] = []
    seen: set[str] = set()

    def read(file: str, depth: int) -> None:
        real = os.path.realpath(file)
        if real in seen:  # included twice, or an include cycle
            return
        if len(files) >= limits.MAX_FILES or depth > limits.MAX_INCLUDE_DEPTH:
            why = f"more than {limits.MAX_FILES} files in all"
            if depth > limits.MAX_INCLUDE_DEPTH:
                why = f"includes nested more than {limits.MAX_INCLUDE_DEPTH} deep"
            report.problems.append(f"{file}: not read: {why}")
            report.unread = True
            return
        seen.add(real)
        files.append(file)
        parser = _parse_file(file, report)
        if parser is None:
            return
        here = os.path.dirname(os.path.abspath(file))
        include = None
        for title in parser.sections():
            options = {k: _Raw(v, k, file, title) for k, v in parser.items(title)}
            section = _Section(title, file, here, options)
            if title == "include":  # every file may have its own
                include = section
            elif title in sections:
                report.problems.append(
                    f"{file}: [{title}]: already defined in {sections[title].file}"
                )
            else:
                sections[title] = section
        if include is not None:
            for included in _included(include, names, report):
                read(included, depth + 1)

    read(path, 0)
    return sections, files


def _included(section: _Section, names: Names, report: _Report) -> list[str]:
    """The files an [include] section names: globs relative to its file's directory."""
    for key, other in section.options.items():
        if key != "files":
            report.warnings.append(other.say("is not an option initsup knows, ignored"))
    raw = section.options.get("files")
    if raw is None:
        report.problems.append(f"{section.file}: [include] files: required")
        return []
    patterns = _convert(raw, str.split, {**names, "here": section.here}, report) or []
    import glob

    found: list[str] = []
    for pattern in patterns:
        # A pattern that matches nothing is fine, as in supervisord (conf.d/*.conf, empty).
        matches: list[str] = []
        for match in glob.iglob(os.path.join(section.here, pattern)):
            if len(matches) == limits.MAX_MATCHES:
                report.problems.append(
                    raw.say(f"pattern {pattern!r} matches more than {limits.MAX_MATCHES} files")
                )
                report.unread = True
                return []
            matches.append(match)
        found.extend(match for match in sorted(matches) if not os.path.isdir(match))
    return found


# -- the environment ----------------------------------------------------------------------


def _read_environment(
    environ: Mapping[str, str],
    sections: dict[str, _Section],
    here: str,
    report: _Report,
) -> tuple[dict[str, _Raw], list[str]]:
    """Merge INITSUP_* variables into sections; return the global options and variables used."""
    options: dict[str, _Raw] = {}
    used: list[str] = []
    for var in sorted(environ):
        if not var.startswith("INITSUP_") or var in _OTHER_VARS:
            continue
        value = environ[var]
        kind, _, spec = var[8:].partition("_")
        if kind in ("PROGRAM", "EVENTLISTENER", "GROUP"):
            name, sep, option = spec.partition("__")
            if kind != "GROUP" and not sep:
                option = "command"
            if not name or not option:
                report.problems.append(
                    f"{var}={value!r}: expected INITSUP_{kind}_<NAME>__<OPTION>=<value>"
                    + (f" or INITSUP_{kind}_<NAME>=<command>" if kind != "GROUP" else "")
                )
                continue
            title = f"{kind.lower()}:{name.lower()}"
            section = sections.get(title)
            if section is None:
                section = sections[title] = _Section(title, None, here, {})
            key = option.lower()
            existing = section.options.get(key)
            if sep and key == "command" and existing is not None and existing.var is not None:
                continue  # INITSUP_PROGRAM_X (sorted first) wins over INITSUP_PROGRAM_X__COMMAND
            section.options[key] = _Raw(value, key, var=var)
            section.vars.append(var)
            used.append(var)
        elif var in _GLOBAL_VARS:
            key = _GLOBAL_VARS[var]
            options[key] = _Raw(value, key, var=var)
            used.append(var)
        else:
            report.warnings.append(f"{var}: not a variable initsup knows, ignored")
    return options, used


# -- [initsup] / [supervisord] ------------------------------------------------------------


def _init_options(
    sections: dict[str, _Section],
    from_environment: dict[str, _Raw],
    names: Names,
    report: _Report,
) -> model.InitOptions:
    """The global options: [supervisord], then [initsup] key by key, then INITSUP_<OPTION>."""
    merged: dict[str, _Raw] = {}
    heres: dict[str, str] = {}
    for title in ("supervisord", "initsup"):
        section = sections.get(title)
        if section is not None:
            merged.update(section.options)
            heres[title] = section.here
    merged.update(from_environment)
    options = model.InitOptions()
    converters: dict[str, Callable[[str], object]] = {
        "log_format": _log_format,
        "loglevel": _loglevel,
        "identifier": _text,
        "environment": _environment,
    }
    ignored = []
    for key, raw in merged.items():
        converter = converters.get(key)
        if converter is not None:
            here = heres.get(raw.section, names["here"])
            value = _convert(raw, converter, {**names, "here": here}, report)
            if value is not None:
                setattr(options, key, value)
        elif key in _SUPERVISORD_ONLY:
            ignored.append((f"{raw.file}: [{raw.section}]", key))
        else:
            report.warnings.append(raw.say("is not an option initsup knows, ignored"))
    if ignored:
        report.warnings.append(
            f"{_grouped(ignored, ' ')}: supervisord options with no meaning in initsup"
            " (it logs to stdout and never daemonizes), ignored"
        )
    _control_socket(sections.get("unix_http_server"), options, names, report)
    return options


def _control_socket(
    section: _Section | None, options: model.InitOptions, names: Names, report: _Report
) -> None:
    """[unix_http_server] file= and chmod= place initsup's control socket."""
    if section is None:
        return
    names = {**names, "here": section.here}
    for key, raw in section.options.items():
        if key == "file":
            options.socket = _convert(raw, _text, names, report) or None
        elif key == "chmod":
            mode = _convert(raw, _umask, names, report)
            if mode is not None:
                options.socket_mode = int(mode)
        else:  # chown, username, password: initsup checks the peer's uid instead
            report.warnings.append(raw.say("is not used by initsup's control socket, ignored"))


# -- programs and groups ------------------------------------------------------------------


def _program_names(section: _Section, group: str, names: Names) -> Names:
    """The expansions every value of a program section may use."""
    return {
        **names,
        "here": section.here,
        "program_name": section.name,
        "group_name": group,
    }


def _processes(
    section: _Section,
    group: str,
    names: Names,
    environment: dict[str, str],
    report: _Report,
) -> tuple[int, list[model.ProcessConfig]]:
    """A program or listener section's priority and its numprocs processes (none if wrong)."""
    opts = section.options
    listener = section.kind == "eventlistener"
    names = _program_names(section, group, names)
    ignored = []
    protocol = []  # a listener's stdout_* options: its stdout is the protocol channel
    for key, raw in opts.items():
        if listener and key.startswith("stdout_") and key in _PROGRAM_KEYS:
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
        elif key not in _PROGRAM_KEYS and not (listener and key in _LISTENER_KEYS):
            report.warnings.append(raw.say("is not an option initsup knows, ignored"))
    if ignored:
        report.warnings.append(f"{section.where()} {', '.join(ignored)}: not supported, ignored")
    if protocol:
        report.warnings.append(
            f"{section.where()} {', '.join(protocol)}: ignored for an event listener"
            " (its stdout carries the listener protocol)"
        )
    if "command" not in opts:
        _missing_command(section, report)

    # Whole-program values, expanded without process_num as supervisord does.
    def program_value(key: str, converter: Callable[[str], int], default: int) -> int:
        raw = opts.get(key)
        value = None if raw is None else _convert(raw, converter, names, report)
        return default if value is None else value

    # Listeners start first and stop last, as in supervisord.
    priority = program_value("priority", _integer, -1 if listener else 999)
    numprocs = program_value("numprocs", _numprocs, 1)
    start = program_value("numprocs_start", _count, 0)
    name_raw = opts.get("process_name")
    if numprocs > 1 and (name_raw is None or "%(process_num)" not in name_raw.text):
        # Otherwise every process would get the same name.
        if name_raw is not None:
            report.problems.append(name_raw.say("must contain %(process_num) when numprocs > 1"))
        else:
            report.problems.append(
                opts["numprocs"].say(
                    "needs a process_name containing %(process_num), e.g."
                    " process_name=%(program_name)s_%(process_num)02d"
                )
            )
        return priority, []
    processes = []
    if not _count_processes(section, numprocs, report):
        return priority, []
    for number in range(start, start + numprocs):
        process = _process(section, group, number, numprocs, priority, names, environment, report)
        if process is None:
            break  # the next numbers would repeat the same problems
        processes.append(process)
    return priority, processes


def _count_processes(section: _Section, numprocs: int, report: _Report) -> bool:
    """Count a program's processes against limits.MAX_PROCESSES; False (said) past it."""
    if report.processes + numprocs > limits.MAX_PROCESSES:
        report.problems.append(
            f"{section.where()}: its {numprocs} process(es) would make more than"
            f" {limits.MAX_PROCESSES} processes in all"
        )
        return False
    report.processes += numprocs
    return True


def _missing_command(section: _Section, report: _Report) -> None:
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
    section: _Section,
    group: str,
    number: int,
    numprocs: int,
    priority: int,
    names: Names,
    global_environment: dict[str, str],
    report: _Report,
) -> model.ProcessConfig | None:
    """One process of a program, for one process_num; None if any of its values is wrong."""
    before = len(report.problems)
    opts = section.options
    listener = section.kind == "eventlistener"
    names = {**names, "process_num": number, "numprocs": numprocs}
    environment: dict[str, str] = {}
    raw = opts.get("environment")
    if raw is not None:
        environment = _convert(raw, _environment, names, report) or {}
    # As supervisord: the program's own environment is also ENV_X for its other values.
    names.update({"ENV_" + key: value for key, value in environment.items()})
    kwargs, logs = _process_values(opts, names, listener, report)
    _settle_process_values(opts, kwargs, logs, listener, report)
    command = None
    raw = opts.get("command")
    if raw is not None:
        command = _convert(raw, _command, names, report)
    name = section.name
    raw = opts.get("process_name")
    if raw is not None:
        name = _convert(raw, _name, names, report) or name
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
    opts: dict[str, _Raw],
    command: list[str],
    logs: dict[str, dict[str, Any]],
    redirected: bool,
    names: Names,
    report: _Report,
) -> None:
    """What starting this process would trip over: log files (errors), its command (warning).

    A command that does not resolve is only a warning: supervisord finds out at spawn, and
    a program may be installed or mounted after the file is read (autostart=false tools,
    a volume), so an existing supervisord.conf must not stop loading because of it.
    """
    from initsup import checks

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
    opts: dict[str, _Raw], names: Names, listener: bool, report: _Report
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The converted process options, and the stdout/stderr LogTarget fields."""
    kwargs: dict[str, Any] = {}
    logs: dict[str, dict[str, Any]] = {"stdout": {}, "stderr": {}}
    for key, raw in opts.items():
        converter = _PROCESS_OPTIONS.get(key)
        if converter is not None:
            kwargs[key] = _convert(raw, converter, names, report)
            continue
        stream, _, option = key.partition("_")
        if listener and stream == "stdout":
            continue  # the protocol channel: warned about once, in _processes
        if stream in logs and option in _LOG_OPTIONS:
            field, log_converter = _LOG_OPTIONS[option]
            logs[stream][field] = _convert(raw, log_converter, names, report)
    return kwargs, logs


def _settle_process_values(
    opts: dict[str, _Raw],
    kwargs: dict[str, Any],
    logs: dict[str, dict[str, Any]],
    listener: bool,
    report: _Report,
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


def _listener(
    section: _Section, group: str, names: Names, report: _Report
) -> model.ListenerConfig | None:
    """An [eventlistener:x] section's events= and buffer_size= (None if either is wrong)."""
    opts = section.options
    names = _program_names(section, group, names)
    events = None
    raw = opts.get("events")
    if raw is not None:
        events = _convert(raw, _events, names, report)
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
        buffer_size = _convert(raw, _buffer_size, names, report)
    if events is None or buffer_size is None:
        return None
    return model.ListenerConfig(events, buffer_size)


def _list(text: str) -> list[str]:
    """A comma list of names; empty items are dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _group_sections(
    sections: dict[str, _Section],
    programs: dict[str, _Section],
    listeners: Iterable[str],
    names: Names,
    report: _Report,
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
        priority = None if raw is None else _convert(raw, _integer, group_names, report)
        raw = section.options.get("programs")
        listed = None if raw is None else _convert(raw, _list, group_names, report)
        if raw is None or listed == []:
            report.warnings.append(f"{section.where()}: names no programs (programs=a,b), ignored")
            continue
        members = []
        for program in listed or []:
            if program in owner:
                report.problems.append(
                    raw.say(f"names program {program!r}, which [group:{owner[program]}] names too")
                )
            elif program in programs:
                owner[program] = section.name
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
        groups[section.name] = (999 if priority is None else priority, members)
    return groups, owner


def _valid_name(section: _Section, report: _Report) -> bool:
    """Whether a program or group section's name can be used; if not, say why."""
    try:
        _name(section.name)
    except ValueError as exc:
        report.problems.append(f"{section.where()}: the name {section.name!r} {exc}")
        return False
    return True


def _groups(
    sections: dict[str, _Section],
    names: Names,
    environment: dict[str, str],
    main_command: list[str] | None,
    report: _Report,
) -> list[model.GroupConfig]:
    """Every group with its processes, in (priority, name) order, both levels."""
    programs = {
        s.name: s for s in sections.values() if s.kind == "program" and _valid_name(s, report)
    }
    listeners = {
        s.name: s for s in sections.values() if s.kind == "eventlistener" and _valid_name(s, report)
    }
    every_listener = {s.name for s in sections.values() if s.kind == "eventlistener"}
    members, owner = _group_sections(sections, programs, every_listener, names, report)
    result: dict[str, model.GroupConfig] = {}
    for name, (priority, listed) in members.items():
        processes = []
        for program in listed:
            processes.extend(_processes(programs[program], name, names, environment, report)[1])
        result[name] = model.GroupConfig(name, priority, processes)
    for name, section in programs.items():
        if name in owner:
            continue
        # A program in no [group:x] is a group of its own, with the program's priority.
        priority, processes = _processes(section, name, names, environment, report)
        if name in members:
            report.problems.append(
                f"{section.where()}: is in no [group:x], so it forms group {name!r},"
                f" but [group:{name}] is a group of that name too"
            )
        else:
            result[name] = model.GroupConfig(name, priority, processes)
    for name, section in listeners.items():
        # A listener pool is always a group of its own, named after the section.
        priority, processes = _processes(section, name, names, environment, report)
        listener = _listener(section, name, names, report)
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
            result[name] = model.GroupConfig(name, priority, processes, listener)
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


def _add_main(
    result: dict[str, model.GroupConfig],
    programs: dict[str, _Section],
    listeners: dict[str, _Section],
    sections: dict[str, _Section],
    main_command: list[str],
    environment: dict[str, str],
    report: _Report,
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


def _check_unique(group: model.GroupConfig, owners: dict[str, _Section], report: _Report) -> None:
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


def _check_sections(sections: dict[str, _Section], report: _Report) -> None:
    """Warn about sections initsup ignores: one warning per kind, one per unknown section."""
    unused = []
    for section in sections.values():
        if section.title in ("initsup", "supervisord", "unix_http_server"):
            continue
        if section.kind in ("program", "eventlistener", "group"):
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
        report.warnings.append(f"{_grouped(unused)}: sections initsup does not use, ignored")


def find_config(environ: Mapping[str, str]) -> str | None:
    """INITSUP_CONFIG if set; else the first existing file of SEARCH_PATH; else None."""
    path = environ.get("INITSUP_CONFIG")
    if path:
        return path
    for candidate in SEARCH_PATH:
        if os.path.exists(candidate):
            return candidate
    return None


def load(
    path: str | None,
    environ: Mapping[str, str],
    main_command: list[str] | None = None,
) -> tuple[model.Config, list[str]]:
    """Read path (None: variables only) and environ; return (config, warnings) or raise."""
    report = _Report()
    here = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    names: Names = {"ENV_" + key: value for key, value in environ.items()}
    # uname's nodename is what platform.node() and socket.gethostname() return, unimported.
    names["host_node_name"] = os.uname().nodename
    names["here"] = here
    sections: dict[str, _Section] = {}
    files: list[str] = []
    if path:
        sections, files = _read_files(path, names, report)
    from_environment, used = _read_environment(environ, sections, here, report)
    _check_sections(sections, report)
    options = _init_options(sections, from_environment, names, report)
    # As supervisord 4: [supervisord] environment= is ENV_X for every program's values too.
    names.update({"ENV_" + key: value for key, value in options.environment.items()})
    groups = _groups(sections, names, options.environment, main_command, report)
    warnings = _one_line_each(report.warnings)
    if report.problems:
        raise ConfigError(_one_line_each(report.problems), warnings)
    return model.Config(options, groups, files + used), warnings


def _one_line_each(lines: list[str]) -> list[str]:
    """lines without repeats, each on one line.

    Values are shown quoted, but file names (a glob may match `a<newline>b.conf`) and
    variable names (`env` takes any bytes but `=`) are shown as they are.
    """
    result = dict.fromkeys(lines)
    return [line.replace("\r", "\\r").replace("\n", "\\n") for line in result]
