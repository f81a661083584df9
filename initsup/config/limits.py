"""Bounds on what a configuration may be and expand to, and the bounded readers behind them.

A configuration is input like any other: a glob, a `%(name)9999999999s` or a
`numprocs=1000000000` must not make the loader (or, on reload, the supervisor that waits
for it) run out of memory or time.  Every bound here is far above what a real
configuration needs and low enough that reaching it costs a fraction of a second; each
one, when crossed, is a configuration error that names it.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_FILE_BYTES = 16 * 1024 * 1024  # one configuration file
# Every file together (configparser reads about a MiB a second on a busy machine; real
# configurations are kilobytes).
MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_INCLUDE_DEPTH = 100  # files including files including files ...
MAX_FILES = 1000  # files read in all, the main one included
MAX_MATCHES = 1000  # files one [include] pattern may match
MAX_NUMPROCS = 10_000  # processes of one program
MAX_PROCESSES = 10_000  # processes of every program together
# Events one listener pool may hold: a bound on a pool's memory (a few hundred bytes an
# event) far above any real need; a pool sized to hold a whole run's events stays legal.
MAX_BUFFER_SIZE = 1_000_000
# One value after expansion.  Linux takes at most 128 KiB per argument (MAX_ARG_STRLEN),
# so no usable command or environment needs more; shlex splits this much in ~0.1 s.
MAX_VALUE_CHARS = 256 * 1024
# Every expanded value together: what ten thousand processes of ordinary options need,
# and about as much as shlex splits in a few seconds.
MAX_TOTAL_CHARS = 8 * 1024 * 1024
MAX_WIDTH = 4096  # a %-format's width or precision: %(process_num)02d needs 2
MAX_USER_CHARS = 256  # LOGIN_NAME_MAX; longer names crash some NSS modules

_FLAGS = "-+ #0"
_LENGTH_MODIFIERS = "hlL"
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def read_file(path: str) -> str:
    """The UTF-8 text of a regular file of at most MAX_FILE_BYTES; ValueError otherwise.

    Opened without blocking and checked before reading, so a FIFO, /dev/stdin or a
    terminal cannot stall the reader and /dev/zero cannot fill its memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise ValueError(f"cannot read: {kind}, not a regular file")
        chunks = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, 65536)  # not the cap: os.read allocates what it is asked
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"cannot read: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("cannot read: not UTF-8 text") from None


def expand(text: str, names: Mapping[str, object]) -> str:
    """supervisord's %(name)s expansion, one format at a time, bounded in size.

    Python's `text % names` would build `%(x)300000000000s` before anyone could object;
    here each format's width is checked first and the result is cut off, as an error,
    past MAX_VALUE_CHARS.  Raises ValueError (KeyError for an unknown name).
    """
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"is longer than {MAX_VALUE_CHARS} characters")
    if "%" not in text:
        return text
    pieces = []
    size = 0
    start = 0
    while True:
        percent = text.find("%", start)
        if percent < 0:
            pieces.append(text[start:])
            break
        pieces.append(text[start:percent])
        end, key = _format_end(text, percent)
        if key is None:
            pieces.append("%")  # %%
        else:
            value = names[key]  # KeyError: the caller names the unknown name
            try:
                pieces.append(text[percent:end] % {key: value})
            except (ValueError, TypeError, OverflowError) as exc:  # %d of a word, %y, ...
                raise ValueError(f"cannot be expanded: {exc} (write %% for a literal %)") from None
        size += len(pieces[-1]) + percent - start
        if size > MAX_VALUE_CHARS:
            raise ValueError(f"expands to more than {MAX_VALUE_CHARS} characters")
        start = end
    result = "".join(pieces)
    if len(result) > MAX_VALUE_CHARS:
        raise ValueError(f"expands to more than {MAX_VALUE_CHARS} characters")
    return result


def _format_end(text: str, percent: int) -> tuple[int, str | None]:
    """Where the format at text[percent] ends, and its key (None for `%%`).

    Read the way Python reads it: `%`, `(key)` with nested parentheses, flags, width,
    precision, a length modifier and the conversion character.
    """
    n = len(text)
    i = percent + 1
    if i < n and text[i] == "%":
        return i + 1, None
    if i >= n or text[i] != "(":
        raise ValueError("has a % that is not %(name)s (write %% for a literal %)")
    depth = 1
    i += 1
    while depth:
        if i >= n:
            raise ValueError("has a %( without its closing parenthesis")
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    key = text[percent + 2 : i - 1]
    while i < n and text[i] in _FLAGS:
        i += 1
    i = _bounded_number(text, i, "width")
    if i < n and text[i] == ".":
        i = _bounded_number(text, i + 1, "precision")
    if i < n and text[i] in _LENGTH_MODIFIERS:
        i += 1
    if i >= n:
        raise ValueError("ends in the middle of a %(name)s format")
    return i + 1, key


def _bounded_number(text: str, i: int, what: str) -> int:
    """Skip the digits at text[i:], refusing a number above MAX_WIDTH; return the end."""
    end = i
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    # Compared as digits first: int() of a 10,000-digit width would itself be slow.
    digits = text[i:end].lstrip("0")
    if len(digits) > len(str(MAX_WIDTH)) or (digits and int(digits) > MAX_WIDTH):
        raise ValueError(f"has a format {what} over {MAX_WIDTH}: {text[i:end][:20]}")
    return end
