"""What a supervised program's start needs before the fork: its user and its stdio fds.

Everything a start opens is opened here, before anything is forked, so that whatever fails
(no fd left, a NUL byte, an unknown user) is an ordinary failed start and never a child
left behind without its pipes.  Every fd opened is closed again on every failure path.
"""

from __future__ import annotations

import os

from initsup.model import TO_NOWHERE, LogTarget

# The gid of a numeric `user=` that has no passwd entry: what `docker run --user UID`
# gives such a uid (runc's default), and what images built for arbitrary uids (OpenShift's
# convention) make their files group-accessible to.
NO_ENTRY_GID = 0


def user_ids(user: str | None) -> tuple[int, int, list[int]] | None:
    """(uid, gid, supplementary groups) for a user name or number; None when unset.

    A numeric uid without a passwd entry runs as that uid, gid NO_ENTRY_GID and no
    supplementary groups.  Raises KeyError for a name the passwd database does not have.
    """
    if user is None:
        return None
    import pwd

    # str.isdigit() also accepts '²' and other digits int() refuses: ASCII digits only.
    if user.isascii() and user.isdigit():
        uid = int(user)
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            return uid, NO_ENTRY_GID, []
    else:
        entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, os.getgrouplist(entry.pw_name, entry.pw_gid)


class ChildFds:
    """The pipes (or /dev/null) a child's stdio is connected to, and our ends of them.

    Opening either gets every fd or raises with none left open.
    """

    def __init__(self, stdout: LogTarget, stderr: LogTarget | None, stdin_pipe: bool) -> None:
        self._opened: list[int] = []
        self.stdin_w: int | None = None
        self.stdout_r: int | None = None
        self.stderr_r: int | None = None
        self.stderr_w: int | None = None
        try:
            if stdin_pipe:  # a listener: initsup writes its events there
                self.stdin, self.stdin_w = self._pipe()
            else:
                self.stdin = self._devnull(os.O_RDONLY)
            self.stdout_r, self.stdout_w = self._output(stdout)
            if stderr is not None:
                self.stderr_r, self.stderr_w = self._output(stderr)
        except BaseException:
            self.close_all()
            raise

    def _pipe(self) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        self._opened += (read_fd, write_fd)
        return read_fd, write_fd

    def _devnull(self, mode: int) -> int:
        fd = os.open(os.devnull, mode | os.O_CLOEXEC)
        self._opened.append(fd)
        return fd

    def _output(self, target: LogTarget) -> tuple[int | None, int]:
        # Output that goes nowhere still makes events when asked to (as in supervisord):
        # only a stream nobody reads at all gets /dev/null.
        unread = not (target.capture_maxbytes > 0 or target.events_enabled)
        if target.path == TO_NOWHERE and unread:
            return None, self._devnull(os.O_WRONLY)
        return self._pipe()

    def close_child_ends(self) -> None:
        """Close the ends the child got (once it has them)."""
        self._close(self.stdin, self.stdout_w, self.stderr_w)

    def close_all(self) -> None:
        """Close every fd still open (after a failed start)."""
        self._close(*self._opened)

    def _close(self, *fds: int | None) -> None:
        for fd in fds:
            if fd is not None and fd in self._opened:
                self._opened.remove(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass  # closed either way; nothing was written through it
