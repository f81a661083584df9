"""Command line: `initsup [OPTIONS] [--] COMMAND [ARG...]`.

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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from initsup.single import Options

USAGE = "usage: initsup [OPTIONS] [--] COMMAND [ARG...]"

HELP = f"""{USAGE}

Run COMMAND as a container init: reap every zombie, pass every signal on to COMMAND,
and exit with COMMAND's exit code (128+N when signal N killed it).

options:
  -g, --kill-process-group   send forwarded signals to COMMAND's whole process group
                             (env INITSUP_KILL_PROCESS_GROUP=1)
  -e, --remap-exit CODE      exit 0 when COMMAND exits with CODE (0-255; repeatable)
  -p, --pdeath-signal SIG    have SIG sent to initsup (and so passed on) when its
                             parent dies
  -w, --warn-on-reap         log each orphaned process initsup reaps
  -s, --subreaper            accepted for tini compatibility: initsup always registers
                             as a child subreaper when it is not PID 1
  --log-format FORMAT        inherit (default: COMMAND writes to initsup's stdout and
                             stderr directly), json (each output line as a JSON record
                             on stdout), text (`name | line`), raw (relayed unchanged)
                             (env INITSUP_LOG_FORMAT)
  -v, --verbose              log debug messages (forwarded signals, exits)
  -h, --help                 show this help and exit
  --version                  print the version and exit

exit codes: COMMAND's own; 127 when COMMAND is not found, 126 when it cannot be run;
2 for a usage error.
"""

LOG_FORMATS = ("inherit", "json", "text", "raw")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")

# option -> (name of its value, or None for a flag)
_SHORT = {"g": None, "e": "CODE", "p": "SIG", "w": None, "s": None, "v": None, "h": None}
_LONG = {
    "kill-process-group": "g",
    "remap-exit": "e",
    "pdeath-signal": "p",
    "warn-on-reap": "w",
    "subreaper": "s",
    "verbose": "v",
    "help": "h",
    "log-format": "log-format",
    "version": "version",
}
_LONG_VALUES = {"e", "p", "log-format"}


class UsageError(Exception):
    """The command line or an INITSUP_* variable cannot be understood."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `initsup` command; returns its exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        parsed = parse(args, os.environ)
        if "h" in parsed.flags:
            sys.stdout.write(HELP)
            return 0
        if "version" in parsed.flags:
            sys.stdout.write(f"initsup {__version__}\n")
            return 0
        if not parsed.command:
            raise UsageError("no command given")
        options = parsed.single_options()
    except UsageError as exc:
        sys.stderr.write(f"initsup: {exc}\n{USAGE}\nTry 'initsup --help' for more information.\n")
        return 2
    from initsup import single

    return single.run(options)


class Parsed:
    """Options as given: flags seen, values in order, and the command after them."""

    def __init__(self, env: dict[str, str] | os._Environ[str]) -> None:
        self.env = env
        self.flags: set[str] = set()
        self.values: list[tuple[str, str]] = []
        self.verbosity = 0
        self.command: list[str] = []

    def single_options(self) -> Options:
        """The options of single-command mode, checked and converted."""
        from initsup.single import Options

        remap: set[int] = set()
        pdeath: int | None = None
        log_format = self.env.get("INITSUP_LOG_FORMAT", "inherit") or "inherit"
        for option, value in self.values:
            if option == "e":
                remap.add(_exit_code(value))
            elif option == "p":
                pdeath = _signal(value)
            elif option == "log-format":
                log_format = value
        if log_format not in LOG_FORMATS:
            choices = ", ".join(LOG_FORMATS)
            raise UsageError(f"--log-format must be one of {choices}, not {log_format!r}")
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


def _env_flag(env: dict[str, str] | os._Environ[str], name: str) -> bool:
    value = env.get(name)
    if value is None:
        return False
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UsageError(
        f"{name}={value!r}: expected one of {', '.join(TRUE_WORDS + FALSE_WORDS[:-1])}"
    )
