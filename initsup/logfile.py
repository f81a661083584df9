"""Program output appended to a file and rotated by size, as supervisord's `stdout_logfile` is.

The rotation follows supervisord's RotatingFileHandler (supervisor/loggers.py):

- A chunk of output is always written whole, and the size is checked *after* the write: once
  the file holds maxbytes or more, path.(N-1) -> path.N ... path -> path.1 (the old path.N is
  replaced, so at most `backups` files are kept) and an empty path is started.  A file therefore
  ends up at maxbytes plus less than one chunk, and a chunk larger than maxbytes is never split.
- backups=0 truncates the file in place (supervisord reopens it with mode 'wb'): no copy is kept.
- maxbytes=0 never rotates (supervisord then uses a plain FileHandler).

Nothing is buffered in memory for a regular file: every chunk goes to the fd with os.write
before `write` returns, so all output a child produced is on disk when initsup exits, however
that happens.

A log file may also be a FIFO or another pipe, and PID 1 must never block on one: the path is
opened non-blocking (a FIFO nobody reads fails with ENXIO instead of waiting for a reader),
and what a full pipe does not take is kept, up to MAX_PENDING bytes, for the next write; the
rest is dropped, counted and reported through `report`.
"""

from __future__ import annotations

import errno
import os
import stat

from initsup.loop import do_nothing
from initsup.output import write_all

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
_MODE = 0o644
MAX_PENDING = 1 << 20  # bytes a full FIFO/pipe log may hold back before output is dropped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Report = Callable[[str, str], None]  # (level, message)


class LogFile:
    """Appends a program's output to a file, rotating it the way supervisord does."""

    def __init__(
        self,
        path: str,
        maxbytes: int,
        backups: int,
        report: Report = do_nothing,
        lost_lines: Callable[[int], None] | None = None,
    ) -> None:
        """report(level, message) tells of failures and drops; lost_lines(n) counts the
        lines each drop cost (initsup's /metrics)."""
        self._path = path
        self._lost_lines = lost_lines
        self._maxbytes = maxbytes
        self._backups = backups
        self._report = report
        self._pending = bytearray()  # what a full pipe did not take yet
        self.dropped = 0  # bytes lost since the last report of a drop
        self._fd: int | None = None
        self._size = 0
        self._rotatable = False
        self._closed = False
        self._error: OSError | None = None
        # The first open raises: a log file that cannot be opened at start-up is a config error
        # the caller reports, while later failures (full disk, vanished directory) are not.
        self._open(truncate=False)

    @property
    def error(self) -> OSError | None:
        """The error the last `write` or `reopen` met, or None when it went through."""
        return self._error

    @property
    def pending(self) -> int:
        """Bytes a full FIFO or pipe has not taken yet (see `flush`)."""
        return len(self._pending)

    def write(self, data: bytes) -> None:
        """Append data, then rotate if the file reached maxbytes; errors go to `error`."""
        if self._closed:
            raise ValueError(f"write to closed log file {self._path!r}")
        if not data:
            return
        fd = self._fd
        if fd is None:
            # An earlier open or rotation failed: try again, so logging resumes by itself once
            # the directory is back or the disk has room.
            try:
                fd = self._open(truncate=False)
            except OSError as exc:
                self._failed(exc, data)
                return
        try:
            if self._pending:
                self._pending = self._write_all(fd, bytes(self._pending))
            self._keep(self._write_all(fd, data) if not self._pending else data)
        except OSError as exc:
            # A full disk (ENOSPC, EDQUOT), an I/O error, a FIFO whose reader left: what did
            # not fit is dropped, since holding it would make memory grow for as long as the
            # problem lasts.
            if exc.errno == errno.EPIPE:
                self._close_fd()  # the next write opens the FIFO again (a new reader)
            self._failed(exc, bytes(self._pending) + data)
            self._pending = bytearray()
            return
        self._recovered()
        if self._maxbytes > 0 and self._rotatable and self._size >= self._maxbytes:
            self._rotate()

    def flush(self) -> bool:
        """Try once more to write what a full pipe held back; True when nothing is left."""
        if self._pending and self._fd is not None:
            try:
                self._pending = self._write_all(self._fd, bytes(self._pending))
            except OSError as exc:
                self._failed(exc, self._pending)
                self._pending = bytearray()
                return True
            if not self._pending:
                self._recovered()
        return not self._pending

    def _keep(self, rest: bytes | bytearray) -> None:
        room = MAX_PENDING - len(self._pending)
        self._pending += rest[:room]
        if len(rest) > room:
            self._dropped(rest[room:], "its reader does not keep up")

    def _failed(self, exc: OSError, lost: bytes | bytearray) -> None:
        if self._error is None:
            self._report("error", f"log file {self._path}: {exc.strerror or exc}")
        self._error = exc
        self._lose(lost)

    def _dropped(self, lost: bytes | bytearray, why: str) -> None:
        if not self.dropped:
            self._report("warning", f"log file {self._path}: {why}; dropping output")
        self._lose(lost)

    def _lose(self, lost: bytes | bytearray) -> None:
        self.dropped += len(lost)
        if lost and self._lost_lines is not None:
            # A piece of a line counts as a line: any loss shows in the count.
            self._lost_lines(max(1, lost.count(b"\n")))

    def _recovered(self) -> None:
        if self._error is not None or (self.dropped and not self._pending):
            self._report(
                "info", f"log file {self._path} is written again ({self.dropped} bytes dropped)"
            )
            self.dropped = 0
        self._error = None

    def reopen(self) -> None:
        """Close the file and open its path again, as after an outside tool moved it away."""
        self._closed = False
        self._close_fd()
        try:
            self._open(truncate=False)
        except OSError as exc:
            # Like a failed rotation: the next write tries again.
            self._error = exc
        else:
            self._error = None

    def close(self) -> None:
        """Close the file; later writes raise ValueError until `reopen`."""
        self._closed = True
        if not self.flush():  # one last chance for what a full pipe held back; never waits
            self._dropped(self._pending, "closed with output its reader never took")
            self._pending = bytearray()
        self._close_fd()

    def _open(self, truncate: bool) -> int:
        flags = (_FLAGS | os.O_TRUNC) if truncate else _FLAGS
        fd = os.open(self._path, flags, _MODE)
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        self._size = st.st_size
        # Only regular files are rotated: renaming /dev/stdout or a FIFO to path.1 would break
        # the node itself (supervisord fails there too and wants maxbytes=0 for those).
        self._rotatable = stat.S_ISREG(st.st_mode)
        return fd

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass  # the data is already written (no buffer), and the fd is gone either way

    def _write_all(self, fd: int, data: bytes) -> bytearray:
        """Write data; return what a full pipe did not take (empty for a regular file)."""
        # Counted per write, so a write cut short by a full disk still counts what landed.
        return write_all(fd, data, self._count)

    def _count(self, written: int) -> None:
        self._size += written

    def _rotate(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            # The counted size is wrong when something else also appends to the file or
            # truncates it (logrotate's copytruncate): check the real one before moving files.
            self._size = os.fstat(fd).st_size
            if self._size < self._maxbytes:
                return
            self._close_fd()
            if self._backups > 0:
                # Only the backups that exist are moved: a rotation costs what is on disk,
                # not the configured number (backups=1000000 would be a million renames).
                for index in _existing_backups(self._path, self._backups):
                    _move(f"{self._path}.{index}", f"{self._path}.{index + 1}")
                _move(self._path, f"{self._path}.1")
            # Truncating matters with backups=0, where the full file is still at path; with
            # backups it was just moved away and a new file is created.
            self._open(truncate=True)
        except OSError as exc:
            # The fd is closed (or the fstat failed); the next write reopens path in append mode
            # and retries the rotation, so nothing at path is lost when a rename failed.
            self._failed(exc, b"")


def _existing_backups(path: str, backups: int) -> list[int]:
    """The N of each existing path.N with 1 <= N < backups, highest first."""
    directory, base = os.path.split(path)
    prefix = base + "."
    found = []
    with os.scandir(directory or ".") as entries:
        for entry in entries:
            suffix = entry.name[len(prefix) :]
            if entry.name.startswith(prefix) and suffix.isascii() and suffix.isdigit():
                index = int(suffix)
                if 0 < index < backups and str(index) == suffix:
                    found.append(index)
    return sorted(found, reverse=True)


def _move(source: str, target: str) -> None:
    """Rename source over target, doing nothing when source does not exist."""
    try:
        # rename replaces target atomically on POSIX, so it needs no separate remove.
        os.rename(source, target)
    except FileNotFoundError:
        # A backup that was never made yet, or a log removed by a cleanup script: supervisord
        # skips those too.
        pass
