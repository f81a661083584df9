"""Program output appended to a file and rotated by size, as supervisord's `stdout_logfile` is.

The rotation follows supervisord's RotatingFileHandler (supervisor/loggers.py):

- A chunk of output is always written whole, and the size is checked *after* the write: once
  the file holds maxbytes or more, path.(N-1) -> path.N ... path -> path.1 (the old path.N is
  replaced, so at most `backups` files are kept) and an empty path is started.  A file therefore
  ends up at maxbytes plus less than one chunk, and a chunk larger than maxbytes is never split.
- backups=0 truncates the file in place (supervisord reopens it with mode 'wb'): no copy is kept.
- maxbytes=0 never rotates (supervisord then uses a plain FileHandler).

Nothing is buffered in memory: every chunk goes to the fd with os.write before `write` returns,
so all output a child produced is on disk when initsup exits, however that happens.
"""

from __future__ import annotations

import errno
import os
import stat

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_MODE = 0o644


class LogFile:
    """Appends a program's output to a file, rotating it the way supervisord does."""

    def __init__(self, path: str, maxbytes: int, backups: int) -> None:
        self._path = path
        self._maxbytes = maxbytes
        self._backups = backups
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
    def path(self) -> str:
        """The path this log is written to."""
        return self._path

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
                self._error = exc
                return
        try:
            self._write_all(fd, data)
        except OSError as exc:
            # A full disk (ENOSPC, EDQUOT) or an I/O error: what did not fit is dropped, since
            # holding it would make memory grow for as long as the disk stays full.
            self._error = exc
            return
        self._error = None
        if self._maxbytes > 0 and self._rotatable and self._size >= self._maxbytes:
            self._rotate()

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

    def _write_all(self, fd: int, data: bytes) -> None:
        with memoryview(data) as view:
            offset = 0
            while offset < len(view):
                written = os.write(fd, view[offset:])
                if written == 0:  # never expected for a regular file; avoids looping forever
                    raise OSError(errno.EIO, os.strerror(errno.EIO), self._path)
                offset += written
                # Counted per call, so a write cut short by a full disk still counts what landed.
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
                for index in range(self._backups - 1, 0, -1):
                    _move(f"{self._path}.{index}", f"{self._path}.{index + 1}")
                _move(self._path, f"{self._path}.1")
            # Truncating matters with backups=0, where the full file is still at path; with
            # backups it was just moved away and a new file is created.
            self._open(truncate=True)
        except OSError as exc:
            # The fd is closed (or the fstat failed); the next write reopens path in append mode
            # and retries the rotation, so nothing at path is lost when a rename failed.
            self._error = exc


def _move(source: str, target: str) -> None:
    """Rename source over target, doing nothing when source does not exist."""
    try:
        # rename replaces target atomically on POSIX, so it needs no separate remove.
        os.rename(source, target)
    except FileNotFoundError:
        # A backup that was never made yet, or a log removed by a cleanup script: supervisord
        # skips those too.
        pass
