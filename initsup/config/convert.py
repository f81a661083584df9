"""supervisord's converters: the text of one value to the value the model holds.

Each converter takes the text after %(name)s expansion and returns a number, a set, a
signal number, a path..., or raises ValueError with a predicate saying what form was
expected, so that it reads after a key and its value: `[program:web] startsecs = 'abc':
must be ...` and `INITSUP_...='abc': startsecs must be ...`.  Converters are named after
the form they read (an octal mode, a positive whole number), not after one key, because
several keys share a form.  They know nothing about files or sections: that is
sources.py's job; which key takes which converter is programs.py's and build.py's.
"""

from __future__ import annotations

import os

from initsup.config import limits
from initsup.model import TO_NOWHERE, TO_STREAM
from initsup.signals import UNCATCHABLE, parse_signal, signal_name
from initsup.words import FALSE_WORDS, LOG_FORMATS, TRUE_WORDS

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

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


def boolean(text: str) -> bool:
    """supervisord's boolean words, in any case: true/yes/on/1 and false/no/off/0."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("must be true or false (or yes/no, on/off, 1/0)")


def integer(text: str) -> int:
    """A whole number, negative allowed (priorities)."""
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be a whole number, e.g. 999 or -1") from None


def count(text: str) -> int:
    """A whole number from 0 up."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def positive_int(most: int) -> Callable[[str], int]:
    """A converter of whole numbers from 1 up to most (numprocs, buffer_size)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= most:
            raise ValueError(f"must be a whole number from 1 to {most}")
        return value

    return convert


def seconds(text: str) -> float:
    """A non-negative, finite number of seconds; fractions allowed (supervisord: integers)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # NaN fails both comparisons
        raise ValueError("must be a non-negative number (seconds, e.g. 1 or 0.5)")
    return value


def autorestart(text: str) -> str:
    """true, false or unexpected; boolean words normalised to true/false."""
    word = text.strip().lower()
    if word == "unexpected":
        return word
    try:
        return "true" if boolean(word) else "false"
    except ValueError:
        raise ValueError("must be true, false or unexpected") from None


def exit_codes(text: str) -> frozenset[int]:
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


def signal_number(text: str) -> int:
    """One signal by name or number: TERM, SIGTERM, 15."""
    try:
        return parse_signal(text)
    except ValueError:
        raise ValueError("must be a signal of this system: TERM, SIGTERM, 15, ...") from None


def signal_set(text: str) -> frozenset[int]:
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


def octal_mode(text: str) -> int | None:
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


def byte_size(text: str) -> int:
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


def user(text: str) -> str | None:
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


def directory(text: str) -> str | None:
    """A directory to start in; empty means unset (it is checked when the program starts)."""
    return text.strip() or None


def existing_directory(text: str) -> str:
    """supervisord's existing_directory: a directory that exists (~ expanded, absolute)."""
    path = normpath(text)
    if not os.path.isdir(path):
        raise ValueError("must be a directory that exists")
    return path


def existing_dirpath(text: str) -> str:
    """supervisord's existing_dirpath: a file whose directory exists (~ expanded, absolute)."""
    path = normpath(text)
    if not os.path.isdir(os.path.dirname(path)):
        raise ValueError(f"must be in a directory that exists ({os.path.dirname(path)} does not)")
    return path


def key_value_pairs(text: str) -> dict[str, str]:
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


def command(text: str) -> list[str]:
    """A command line split into words like a POSIX shell would (shlex), as supervisord."""
    import shlex

    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words: {exc}") from None
    if not argv:
        raise ValueError("must not be empty")
    return argv


def name(text: str) -> str:
    """A process or group name: no whitespace, `:` or `/` (they break namespecs and URLs)."""
    name = text.strip()
    if not name:
        raise ValueError("must not be empty")
    if len(name.split()) != 1 or ":" in name or "/" in name:
        raise ValueError("must not contain spaces, ':' or '/'")
    return name


def logfile(text: str) -> str:
    """TO_STREAM (unset, AUTO, /dev/stdout and friends), TO_NOWHERE (NONE, OFF) or a path."""
    value = text.strip()
    # supervisord 4 reads `syslog` as its deprecated spelling of <stream>_syslog=true, not
    # as a file name; initsup has no syslog: the output goes where AUTO sends it (a warning
    # says so, in programs._warn_about_keys).
    if not value or value.upper() in ("AUTO", "SYSLOG") or value in _STREAM_PATHS:
        return TO_STREAM
    if value.upper() in ("NONE", "OFF"):
        return TO_NOWHERE
    return os.path.expanduser(value)


def loglevel(text: str) -> str:
    """supervisord's level names mapped onto initsup's five."""
    level = _LOGLEVELS.get(text.strip().lower())
    if level is None:
        raise ValueError("must be one of critical, error, warn, info, debug, trace, blather")
    return level


def log_format(text: str) -> str:
    """json, text or raw."""
    value = text.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError("must be json, text or raw")
    return value


def event_types(text: str) -> frozenset[str]:
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


def text(text: str) -> str:
    """Any text, as given."""
    return text


def expand(text: str, names: Mapping[str, object]) -> str:
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


def comma_list(text: str) -> list[str]:
    """A comma list of names; empty items are dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def inet_address(text: str) -> tuple[str, int]:
    """supervisord's port=: `host:port`, `:port`, `*:port` or `port`; host '' means any.

    A bare port is loopback's, where supervisord listens on every address: an XML-RPC
    server that can start and stop programs is exposed only when the file says so.
    """
    host, colon, port = text.strip().rpartition(":")
    if colon and not port:
        raise ValueError("names no port number: expected host:port, :port or port")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError("must be a port from 1 to 65535, as host:port, :port or port")
    host = host.lower() if colon else "127.0.0.1"
    return ("" if host == "*" else host), int(port)


def owner(text: str) -> tuple[str, str | None]:
    """supervisord's chown=: `user` or `user:group`, each a name on this system or a number."""
    name, colon, group = text.strip().partition(":")
    found = user(name)
    if found is None:
        raise ValueError("must be user or user:group")
    if not colon:
        return found, None
    if group.isascii() and group.isdigit() and int(group) < 2**32 - 1:
        return found, group
    if not group or len(group) > limits.MAX_USER_CHARS:
        raise ValueError("must be user:group with a group name or a numeric gid")
    import grp

    try:
        grp.getgrnam(group)
    except KeyError:
        raise ValueError("names a group not in the group database, nor a numeric gid") from None
    return found, group


def password(text: str) -> str:
    """A password as supervisord takes it: plain, or {SHA} and 40 hex digits, kept as given."""
    if text.startswith("{SHA}"):
        digest = text[5:]
        if len(digest) != 40 or not all(c in "0123456789abcdefABCDEF" for c in digest):
            raise ValueError("must be {SHA} followed by 40 hex digits (a SHA-1), or plain text")
    return text


def serverurl(text: str) -> str | None:
    """A program's serverurl=: given to it as SUPERVISOR_SERVER_URL as written (as
    supervisord, which checks nothing); AUTO or empty: None, initsup's own server."""
    value = text.strip()
    return None if not value or value.upper() == "AUTO" else value


def server_url(text: str) -> str:
    """supervisorctl's serverurl=: unix:///absolute/path or http://host[:port]."""
    url = text.strip()
    if url.startswith("unix://"):
        path = url[7:]
        if not path.startswith(("/", "~")):
            raise ValueError("must be unix:// followed by an absolute path: unix:///run/x.sock")
        return "unix://" + normpath(path)
    if url.startswith("http://") and len(url) > 7 and "/" not in url[7:].rstrip("/"):
        _, colon, port = url[7:].rstrip("/").rpartition(":")
        if not colon or (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            return url.rstrip("/")
    raise ValueError("must be unix:///path/to/socket or http://host:port")


def normpath(text: str) -> str:
    """A path as supervisord's normalize_path makes it: ~ expanded, absolute, normalised."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(text.strip())))
