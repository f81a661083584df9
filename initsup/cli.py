"""Command line: `initsup [OPTIONS] [--] COMMAND [ARG...]`, `initsup -c FILE`, `initsup check`.

Which mode runs: single-command mode (tini's job) when a COMMAND is given and nothing
configures programs; otherwise supervisor mode, with the programs of `-c FILE` (or
INITSUP_CONFIG, or the first of /etc/initsup.ini, /etc/supervisord.conf and
/etc/supervisor/supervisord.conf), of INITSUP_PROGRAM_* variables, and COMMAND as the
essential main program when one is given.

Options end at `--` or at the first word that is not an option, so a command's own flags
never reach initsup (tini needs `--` for that).  Short options cluster (`-gw`) and take
their value attached or as the next word (`-e143`, `-e 143`), as with getopt.

The parser is hand-written because argparse and getopt import gettext and friends, and
initsup's import time is every container's start-up time.
"""

from __future__ import annotations

import os
import sys

from initsup import __version__
from initsup.errors import ConfigError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.config.reader import Loader
    from initsup.model import Config
    from initsup.single import Options

SINGLE_ONLY = ("g", "p", "w")

# supervisord's options with a value: option -> its [supervisord] key.  Given on the
# command line, each beats the file and the environment, as in supervisord.
SUPERVISORD_VALUES = {
    "u": "user",
    "m": "umask",
    "d": "directory",
    "j": "pidfile",
    "i": "identifier",
    "a": "minfds",
    "minprocs": "minprocs",
    "loglevel": "loglevel",
    "l": "logfile",
    "y": "logfile_maxbytes",
    "z": "logfile_backups",
    "q": "childlogdir",
}
SUPERVISORD_FLAGS = {"k": "nocleanup", "t": "strip_ansi", "silent": "silent"}
# supervisord's level names: `-e LEVEL` is its loglevel, `-e CODE` tini's remapped exit.
_LEVELS = ("critical", "error", "warn", "info", "debug", "trace", "blather")

# option -> (name of its value, or None for a flag)
_SHORT = {
    "g": None,
    "e": "CODE or LEVEL",
    "p": "SIG",
    "w": None,
    "s": None,
    "v": None,
    "h": None,
    "c": "FILE",
    "n": None,
    "k": None,
    "t": None,
    "u": "USER",
    "m": "UMASK",
    "d": "DIR",
    "j": "FILE",
    "i": "ID",
    "a": "N",
    "l": "FILE",
    "y": "BYTES",
    "z": "N",
    "q": "DIR",
}
_LONG = {
    "kill-process-group": "g",
    "remap-exit": "e",
    "pdeath-signal": "p",
    "warn-on-reap": "w",
    "subreaper": "s",
    "verbose": "v",
    "help": "h",
    "config": "c",
    "configuration": "c",
    "log-format": "log-format",
    "version": "version",
    "json": "json",
    "nodaemon": "n",
    "user": "u",
    "umask": "m",
    "directory": "d",
    "pidfile": "j",
    "identifier": "i",
    "minfds": "a",
    "minprocs": "minprocs",
    "loglevel": "loglevel",
    "logfile": "l",
    "logfile_maxbytes": "y",
    "logfile_backups": "z",
    "childlogdir": "q",
    "nocleanup": "k",
    "strip_ansi": "t",
    "silent": "silent",
}
_LONG_VALUES = {"e", "p", "c", "log-format", *SUPERVISORD_VALUES}


def entry() -> None:
    """The `initsup` command: main(), then out without the interpreter's teardown.

    Freeing every loaded module at exit costs milliseconds, which every container stop and
    every `initsup -- CMD` waits for, and saves nothing: initsup writes its files and
    output with os.write, and what Python buffers in sys.stdout and sys.stderr is flushed
    here.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue  # started with that fd closed: Python made no stream for it
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a reader gone or a stream closed: nothing left to deliver to
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `initsup` command; returns its exit code."""
    _ensure_standard_fds()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["ctl"]:
        from initsup import ctl

        return ctl.main(args[1:])
    try:
        checking = args[:1] == ["check"]
        parsed = parse(args[1:] if checking else args, os.environ)
        if "h" in parsed.flags:
            from initsup.usage import HELP

            sys.stdout.write(HELP)
            return 0
        if "version" in parsed.flags:
            sys.stdout.write(f"initsup {__version__}\n")
            return 0
        if checking:
            return _missing_modules() or _check(parsed)
        if not parsed.supervises():
            if not parsed.command:
                raise UsageError(
                    "nothing to run: give a COMMAND, a configuration file (-c FILE, "
                    "INITSUP_CONFIG) or INITSUP_PROGRAM_<NAME> variables"
                )
            options = parsed.single_options()
        else:
            return _missing_modules() or _supervise(parsed)
    except UsageError as exc:
        from initsup.usage import USAGE

        sys.stderr.write(f"initsup: {exc}\n{USAGE}\nTry 'initsup --help' for more information.\n")
        return 2
    from initsup import signals

    held = signals.hold()  # from here on a signal waits for its handler
    from initsup import single

    return single.run(options, held)


def _ensure_standard_fds() -> None:
    """Open /dev/null on any of fds 0-2 that initsup was started without.

    Otherwise the next file initsup opens (its wakeup pipe, its selector) would take that
    number, and writing "stdout" would write into initsup's own machinery.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: fd itself
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _load(parsed: Parsed) -> tuple[Config, list[str]]:
    """The configuration for supervisor mode; raises ConfigError listing problems."""
    from initsup import config
    from initsup.words import LOG_FORMATS

    loaded, warnings = config.load(
        parsed.config_path(), parsed.env, parsed.command or None, parsed.supervisord_options()
    )
    log_format = parsed.value("log-format")
    if log_format is not None:
        if log_format not in LOG_FORMATS:
            choices = ", ".join(LOG_FORMATS)
            raise UsageError(f"--log-format must be one of {choices} with programs to supervise")
        loaded.options.log_format = log_format
    if parsed.verbosity:
        loaded.options.loglevel = "debug"
    return loaded, warnings


def _load_apart(parsed: Parsed, meanwhile: Callable[[], object] = int) -> tuple[Config, list[str]]:
    """_load in a forked child (initsup.config.reader.read), meanwhile() in this process."""
    from initsup.config import reader

    return reader.read(lambda: _load(parsed), meanwhile)


def _start_loading(parsed: Parsed) -> Loader:
    """A forked child running _load (raises reader.LoadFailed if it cannot be started)."""
    from initsup.config import reader

    return reader.start(lambda: _load(parsed))


def _load_or_report(
    parsed: Parsed, meanwhile: Callable[[], object] = int
) -> tuple[Config, list[str]] | None:
    """_load_apart, or None after printing every problem on stderr."""
    try:
        return _load_apart(parsed, meanwhile)
    except ConfigError as exc:
        for warning in exc.warnings:  # first: they often explain the errors
            sys.stderr.write(f"initsup: warning: {warning}\n")
        for problem in exc.problems:
            sys.stderr.write(f"initsup: configuration error: {problem}\n")
        return None


def _supervise(parsed: Parsed) -> int:
    for option in SINGLE_ONLY:
        if option in parsed.flags or parsed.value(option) is not None:
            raise UsageError(f"-{option} applies to single-command mode only")
    for option, value in parsed.values:
        if option == "e" and value.strip().lower() not in _LEVELS:
            raise UsageError(
                f"-e {value} applies to single-command mode only (tini's exit code);"
                " with programs to supervise, -e takes supervisord's log level"
            )
    path = parsed.config_path()
    if path is not None:  # found now, absolute: a reload after directory= reads it too
        parsed.values.append(("c", path))
    from initsup import signals

    held = signals.hold()  # from here on a signal waits for its handler
    try:
        # The supervisor's imports (enum, the loop, the relays: about a third of the time
        # to the first program) overlap the child's configparser and re.
        loaded = _load_or_report(parsed, _import_supervisor)
    except BaseException:
        signals.release(held)
        raise
    if loaded is None:
        signals.release(held)
        return 2
    from initsup import supervisor

    return supervisor.run(loaded[0], lambda: _start_loading(parsed), loaded[1], held)


def _missing_modules() -> int:
    """0, or after saying which modules supervisor mode lacks, its distinct exit code."""
    from initsup import requires

    return requires.check()


def _import_supervisor() -> None:
    import initsup.supervisor  # noqa: F401


def _check(parsed: Parsed) -> int:
    loaded = _load_or_report(parsed)
    if loaded is None:
        return 2
    config, warnings = loaded
    for warning in warnings:
        sys.stderr.write(f"initsup: warning: {warning}\n")
    if "json" in parsed.flags:
        import json

        sys.stdout.write(json.dumps(config.as_dict(), indent=2) + "\n")
        return 0
    import shlex

    processes = config.processes()
    sys.stdout.write(
        f"configuration OK: {len(processes)} process(es) in {len(config.groups)} group(s)\n"
    )
    for group in config.groups:
        sys.stdout.write(f"[{group.name}] priority {group.priority}\n")
        for process in group.processes:
            flags = " essential" if process.essential else ""
            command = shlex.join(process.command)
            sys.stdout.write(f"  {process.name} (priority {process.priority}{flags}): {command}\n")
    for n in config.notifiers:  # where alerts go, never the URL itself (it may be a secret)
        sys.stdout.write(f"[notify:{n.name}] {n.kind}: {','.join(sorted(n.events))}\n")
    return 0


class Parsed:
    """Options as given: flags seen, values in order, and the command after them."""

    def __init__(self, env: dict[str, str] | os._Environ[str]) -> None:
        self.env = env
        self.flags: set[str] = set()
        self.values: list[tuple[str, str]] = []
        self.verbosity = 0
        self.command: list[str] = []

    def value(self, option: str) -> str | None:
        """The last value given for option, or None."""
        values = [v for o, v in self.values if o == option]
        return values[-1] if values else None

    def config_path(self) -> str | None:
        """-c FILE, else INITSUP_CONFIG or the first default file that exists."""
        path = self.value("c")
        if path is None:
            from initsup import config

            path = config.find_config(self.env)
        return None if path is None else os.path.abspath(path)

    def supervises(self) -> bool:
        """Whether this is supervisor mode rather than single-command mode."""
        if self.value("c") is not None or self.env.get("INITSUP_CONFIG"):
            return True
        if any(_is_program_variable(name) for name in self.env):
            return True
        if self.command:
            return False
        from initsup import config

        return config.find_config(self.env) is not None

    def supervisord_options(self) -> dict[str, str]:
        """[supervisord] keys given on the command line, as text: they beat the file."""
        given = {key: "true" for flag, key in SUPERVISORD_FLAGS.items() if flag in self.flags}
        for option, value in self.values:
            if option in SUPERVISORD_VALUES:
                given[SUPERVISORD_VALUES[option]] = value
            elif option == "e" and value.strip().lower() in _LEVELS:
                given["loglevel"] = value
        return given

    def single_options(self) -> Options:
        """The options of single-command mode, checked and converted."""
        from initsup.single import Options

        for option in [*SUPERVISORD_FLAGS, *SUPERVISORD_VALUES]:
            if option in self.flags or self.value(option) is not None:
                shown = f"-{option}" if len(option) == 1 else f"--{option}"
                raise UsageError(
                    f"{shown} is supervisord's, for supervisor mode only (-c FILE or"
                    " INITSUP_PROGRAM_<NAME> variables)"
                )
        remap: set[int] = set()
        pdeath: int | None = None
        log_format = self.env.get("INITSUP_LOG_FORMAT", "inherit") or "inherit"
        for option, value in self.values:
            if option == "e" and value.strip().lower() in _LEVELS:
                raise UsageError(
                    f"-e {value} is supervisord's log level, for supervisor mode only;"
                    " in single-command mode -e takes an exit code (tini's)"
                )
            if option == "e":
                remap.add(_exit_code(value))
            elif option == "p":
                pdeath = _signal(value)
            elif option == "log-format":
                log_format = value
        _single_log_format(log_format)
        return Options(
            command=self.command,
            kill_group="g" in self.flags
            or _env_flag(self.env, "INITSUP_KILL_PROCESS_GROUP")
            or "TINI_KILL_PROCESS_GROUP" in self.env,  # tini counts it as set whatever its value
            remap_exit=frozenset(remap),
            parent_death_signal=pdeath,
            warn_on_reap="w" in self.flags,
            verbosity=self.verbosity,
            log_format=log_format,
        )


def parse(args: list[str], env: dict[str, str] | os._Environ[str]) -> Parsed:
    """Split args into options and the command; raise UsageError for a bad option."""
    parsed = Parsed(env)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if arg.startswith("--"):
            i = _parse_long(arg[2:], args, i, parsed)
        elif arg.startswith("-") and arg != "-":
            i = _parse_short(arg[1:], args, i, parsed)
        else:
            i -= 1
            break
    parsed.command = args[i:]
    return parsed


def _parse_long(body: str, args: list[str], i: int, parsed: Parsed) -> int:
    name, has_value, value = body.partition("=")
    key = _LONG.get(name)
    if key is None:
        raise UsageError(f"unknown option --{name}")
    if key in _LONG_VALUES:
        if not has_value:
            if i >= len(args):
                raise UsageError(f"option --{name} needs a value")
            value, i = args[i], i + 1
        parsed.values.append((key, value))
    elif has_value:
        raise UsageError(f"option --{name} takes no value")
    else:
        _flag(key, parsed)
    return i


def _parse_short(cluster: str, args: list[str], i: int, parsed: Parsed) -> int:
    for position, letter in enumerate(cluster):
        if letter not in _SHORT:
            raise UsageError(f"unknown option -{letter}")
        if _SHORT[letter] is None:
            _flag(letter, parsed)
            continue
        value = cluster[position + 1 :]
        if not value:
            if i >= len(args):
                raise UsageError(f"option -{letter} needs a value ({_SHORT[letter]})")
            value, i = args[i], i + 1
        parsed.values.append((letter, value))
        break
    return i


def _is_program_variable(name: str) -> bool:
    """INITSUP_PROGRAM_<NAME>=command defines a program (option variables have a `__`)."""
    return name.startswith("INITSUP_PROGRAM_") and "__" not in name[len("INITSUP_PROGRAM_") :]


def _flag(key: str, parsed: Parsed) -> None:
    if key == "v":
        parsed.verbosity += 1
    parsed.flags.add(key)


def _exit_code(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 255:
        raise UsageError(f"-e needs an exit code from 0 to 255, not {text!r}")
    return int(text)


def _signal(text: str) -> int:
    from initsup.signals import parse_signal

    try:
        return parse_signal(text)
    except ValueError as exc:
        raise UsageError(f"-p: {exc}") from None


def _single_log_format(log_format: str) -> None:
    """Refuse a log format single-command mode does not know: it adds `inherit` (the
    default, checked without importing initsup.words) to the supervisor's formats."""
    if log_format == "inherit":
        return
    from initsup.words import LOG_FORMATS

    if log_format not in LOG_FORMATS:
        choices = ", ".join(("inherit", *LOG_FORMATS))
        raise UsageError(f"--log-format must be one of {choices}, not {log_format!r}")


def _env_flag(env: dict[str, str] | os._Environ[str], name: str) -> bool:
    value = env.get(name)
    if value is None:
        return False
    from initsup.words import FALSE_WORDS, TRUE_WORDS

    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS or not word:  # set but empty: off
        return False
    raise UsageError(f"{name}={value!r}: expected one of {', '.join(TRUE_WORDS + FALSE_WORDS)}")
