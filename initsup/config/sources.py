"""Where values come from: INI files with their [include]s, and INITSUP_* variables.

The result is raw text that knows where it was set (a Raw names its file, section and
key, or its variable), gathered into Sections, so that every later problem can name the
place a user must edit.  A Report collects the problems and warnings of one load, in the
order found.  Nothing here knows what a key means: build.py and programs.py convert.

Files are read as supervisord reads them (configparser without interpolation, `;` and `#`
comments after whitespace, a repeated section merged) and within the bounds of limits.py.
"""

from __future__ import annotations

import configparser
import os

from initsup.config import limits
from initsup.config.convert import expand

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import TypeVar

    T = TypeVar("T")
    Names = dict[str, object]  # %(name)s expansions: name -> value

_GLOBAL_KEYS = (
    "log_format",
    "loglevel",
    "identifier",
    "environment",
    "user",
    "umask",
    "directory",
    "pidfile",
    "minfds",
    "minprocs",
    "silent",
    "drain",
)
_GLOBAL_VARS = {"INITSUP_" + key.upper(): key for key in _GLOBAL_KEYS}
# Read by other parts of initsup (cli, the control client): not configuration, no warning.
_OTHER_VARS = ("INITSUP_CONFIG", "INITSUP_SOCKET", "INITSUP_KILL_PROCESS_GROUP")


class Raw:
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


class Section:
    """One section: from a file (perhaps with variables overriding keys), or from variables."""

    __slots__ = ("file", "here", "kind", "name", "options", "title", "vars")

    def __init__(self, title: str, file: str | None, here: str, options: dict[str, Raw]) -> None:
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


class Report:
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


def convert_raw(
    raw: Raw, converter: Callable[[str], T], names: Mapping[str, object], report: Report
) -> T | None:
    """Expand and convert one value; on failure record the problem and return None."""
    try:
        if report.expanded > limits.MAX_TOTAL_CHARS:
            return None  # said once, where it happened; the rest would only repeat it
        text = expand(raw.text, names)
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


def grouped(places: Iterable[tuple[str, str]], sep: str = ": ") -> str:
    """`PLACE: a, b; PLACE2: c` from (place, item) pairs, keeping their order."""
    by_place: dict[str, list[str]] = {}
    for place, item in places:
        by_place.setdefault(place, []).append(item)
    return "; ".join(f"{place}{sep}{', '.join(items)}" for place, items in by_place.items())


# -- files --------------------------------------------------------------------------------


def parse_file(file: str, report: Report) -> configparser.RawConfigParser | None:
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
    from initsup.config import duplicates

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


def read_files(path: str, names: Names, report: Report) -> tuple[dict[str, Section], list[str]]:
    """Read path and, depth first, every file its [include] sections name."""
    sections: dict[str, Section] = {}
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
        parser = parse_file(file, report)
        if parser is None:
            return
        here = os.path.dirname(os.path.abspath(file))
        include = None
        for title in parser.sections():
            options = {k: Raw(v, k, file, title) for k, v in parser.items(title)}
            section = Section(title, file, here, options)
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


def _included(section: Section, names: Names, report: Report) -> list[str]:
    """The files an [include] section names: globs relative to its file's directory."""
    for key, other in section.options.items():
        if key != "files":
            report.warnings.append(other.say("is not an option initsup knows, ignored"))
    raw = section.options.get("files")
    if raw is None:
        report.problems.append(f"{section.file}: [include] files: required")
        return []
    patterns = convert_raw(raw, str.split, {**names, "here": section.here}, report) or []
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


# -- INITSUP_* variables ------------------------------------------------------------------


def read_environment(
    environ: Mapping[str, str],
    sections: dict[str, Section],
    here: str,
    report: Report,
) -> tuple[dict[str, Raw], list[str]]:
    """Merge INITSUP_* variables into sections; return the global options and variables used."""
    options: dict[str, Raw] = {}
    used: list[str] = []
    for var in sorted(environ):
        if not var.startswith("INITSUP_") or var in _OTHER_VARS:
            continue
        value = environ[var]
        kind = var[8:].partition("_")[0]
        if kind in ("PROGRAM", "EVENTLISTENER", "GROUP", "NOTIFY"):
            if _section_variable(var, value, sections, here, report):
                used.append(var)
        elif var in _GLOBAL_VARS:
            key = _GLOBAL_VARS[var]
            options[key] = Raw(value, key, var=var)
            used.append(var)
        else:
            report.warnings.append(f"{var}: not a variable initsup knows, ignored")
    return options, used


def _section_variable(
    var: str, value: str, sections: dict[str, Section], here: str, report: Report
) -> bool:
    """Set the key INITSUP_<KIND>_<NAME>[__<OPTION>] names; False if the variable is unused."""
    kind, _, spec = var[8:].partition("_")
    name, sep, option = spec.partition("__")
    # What the bare INITSUP_<KIND>_<NAME> sets: a program's command, a notifier's type.
    bare = {"GROUP": "", "NOTIFY": "type"}.get(kind, "command")
    if not sep:
        option = bare
    if not name or not option:
        report.problems.append(
            f"{var}={value!r}: expected INITSUP_{kind}_<NAME>__<OPTION>=<value>"
            + (f" or INITSUP_{kind}_<NAME>=<{bare}>" if bare else "")
        )
        return False
    title = f"{kind.lower()}:{name.lower()}"
    section = sections.get(title)
    if section is None:
        section = sections[title] = Section(title, None, here, {})
    key = option.lower()
    existing = section.options.get(key)
    if sep and key == bare and existing is not None and existing.var is not None:
        return False  # INITSUP_PROGRAM_X (sorted first) wins over INITSUP_PROGRAM_X__COMMAND
    section.options[key] = Raw(value, key, var=var)
    section.vars.append(var)
    return True


def one_line_each(lines: list[str]) -> list[str]:
    """lines without repeats, each on one line.

    Values are shown quoted, but file names (a glob may match `a<newline>b.conf`) and
    variable names (`env` takes any bytes but `=`) are shown as they are.
    """
    result = dict.fromkeys(lines)
    return [line.replace("\r", "\\r").replace("\n", "\\n") for line in result]
