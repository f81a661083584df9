"""The NOTIFY_SOCKET side of systemd's sd_notify protocol: readiness said by the program.

A program started with notify=true finds NOTIFY_SOCKET in its environment and sends
datagrams of newline-separated assignments to it (READY=1, STATUS=..., STOPPING=1,
RELOADING=1...), as it does under systemd's Type=notify, so programs that support systemd
notification work unchanged. The sender is the kernel's word (SCM_CREDENTIALS, asked for
with SO_PASSCRED), never anything in the message, and a sender is matched to a program by
its pid or an ancestor's (sender_of: a wrapper's child may say it, as NotifyAccess=all).

Everything here is outside input to PID 1: datagrams are size-capped and parsed without
raising, file descriptors passed along (FDSTORE=1 sends some) are closed at once, a flood
is read a batch at a time so the loop keeps serving everything else, and its warnings are
rate-limited.
"""

from __future__ import annotations

import os
import stat
import struct

from initsup import sockets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import Any

    from initsup.loop import EventLoop

MAX_DATAGRAM = 65536  # a longer datagram is dropped whole (systemd refuses them too)
MAX_ASSIGNMENTS = 64  # assignments kept from one datagram; the rest are ignored
MAX_VALUE = 4096  # characters kept of one value (a STATUS= is a line for `ctl status`)
MAX_FDS = 253  # SCM_MAX_FD: the most one datagram can carry; all are closed
BATCH = 64  # datagrams read per wake-up: a flood cannot starve the rest of the loop
WARN_EVERY = 10.0  # seconds between two warnings of one kind (a flood is one warning)
ANCESTRY = 32  # parents walked from a sender to the program that started it
_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid
_INT = struct.Struct("i")


def socket_module() -> Any:
    """`_socket` when it has what a datagram socket with credentials needs, else `socket`."""
    needed = ("SOCK_DGRAM", "SO_PASSCRED", "SCM_CREDENTIALS", "SCM_RIGHTS", "CMSG_SPACE")
    return sockets.module(needed, ("recvmsg",))


class NotifySocket:
    """An AF_UNIX datagram socket at path, read from the loop: on_message per datagram."""

    def __init__(
        self,
        loop: EventLoop,
        path: str,
        on_message: Callable[[int, dict[str, str]], None],
        log: Callable[..., None],
    ) -> None:
        """Bind at path ("@name": an abstract socket); OSError when that cannot be done.

        on_message(sender_pid, assignments) for each datagram with something in it;
        log(level, message, **fields) for what is dropped.
        """
        self.path = path
        self._loop = loop
        self._on_message = on_message
        self._log = log
        self._warned: dict[str, float] = {}  # kind -> when it was last warned of
        self._dropped: dict[str, int] = {}  # kind -> datagrams dropped since that warning
        sockets = socket_module()
        self._sockets = sockets
        self._ancillary = sockets.CMSG_SPACE(_UCRED.size) + sockets.CMSG_SPACE(MAX_FDS * _INT.size)
        # MSG_CMSG_CLOEXEC: a passed fd is never inherited by a child spawned before it
        # is closed (it is closed in the same callback; this is belt and braces).
        self._flags = getattr(sockets, "MSG_CMSG_CLOEXEC", 0) | getattr(sockets, "MSG_DONTWAIT", 0)
        self._sock = _bind(sockets, path)
        loop.add_reader(self._sock.fileno(), self._readable)

    def close(self) -> None:
        """Stop reading, close the socket and remove its file."""
        if self._sock is None:
            return
        try:
            self._loop.remove_reader(self._sock.fileno())
        finally:
            self._sock.close()
            self._sock = None
            if not self.path.startswith("@"):
                try:
                    os.unlink(self.path)
                except OSError:
                    pass

    def _readable(self) -> None:
        for _ in range(BATCH):
            if self._sock is None or not self._receive():
                return

    def _receive(self) -> bool:
        """Read one datagram and hand it on; False when none is waiting."""
        try:
            data, ancillary, flags, _ = self._sock.recvmsg(
                MAX_DATAGRAM, self._ancillary, self._flags
            )
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:  # nothing a sender does should get here; never raise
            self._warn("error", f"notify socket: receiving failed: {exc}")
            return False
        pid = self._take_ancillary(ancillary)
        if flags & getattr(self._sockets, "MSG_TRUNC", 0x20):
            self._warn("truncated", f"notify socket: dropped a datagram over {MAX_DATAGRAM} bytes")
        elif flags & getattr(self._sockets, "MSG_CTRUNC", 0x8):
            # the kernel discarded what did not fit: maybe the credentials; trust nothing
            self._warn("ctruncated", "notify socket: dropped a datagram with too many fds")
        elif pid <= 0:
            # no credentials (cannot happen with SO_PASSCRED), or a sender in a pid
            # namespace we cannot see: nobody to credit it to
            self._warn("anonymous", "notify socket: dropped a datagram of an unknown sender")
        else:
            assignments = parse(data)
            if assignments:
                self._on_message(pid, assignments)
        return True

    def _take_ancillary(self, ancillary: list[tuple[int, int, bytes]]) -> int:
        """Close every fd passed along; the sender's pid from its credentials (0: none)."""
        sockets, pid = self._sockets, 0
        for level, kind, payload in ancillary:
            if level != sockets.SOL_SOCKET:
                continue
            if kind == sockets.SCM_RIGHTS:
                count = len(payload) // _INT.size
                for (fd,) in _INT.iter_unpack(payload[: count * _INT.size]):
                    _close(fd)
                if count:
                    self._warn("fds", f"notify socket: closed {count} fds passed along")
            elif kind == sockets.SCM_CREDENTIALS and len(payload) >= _UCRED.size:
                pid = _UCRED.unpack_from(payload)[0]
        return pid

    def _warn(self, kind: str, message: str) -> None:
        """Log message, unless one of its kind was logged in the last WARN_EVERY seconds."""
        now = self._loop.clock()
        last = self._warned.get(kind)
        if last is not None and now - last < WARN_EVERY:
            self._dropped[kind] = self._dropped.get(kind, 0) + 1
            return
        self._warned[kind] = now
        since = self._dropped.pop(kind, 0)
        if since:
            message += f" ({since} more like it since the last warning)"
        self._log("warning", message)


def _bind(sockets: Any, path: str) -> Any:
    """A non-blocking datagram socket bound at path that passes credentials, mode 0o666."""
    sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_PASSCRED, 1)
        if path.startswith("@"):
            sock.bind("\0" + path[1:])
        else:
            _remove_stale(path)
            sock.bind(path)
            # Programs may run as other users (user=): anyone may send, since the kernel,
            # not the message, says who sent it.
            os.chmod(path, 0o666)
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale(path: str) -> None:
    """Remove a socket left at path by an earlier run; anything else there is left alone
    (and bind then fails with EADDRINUSE)."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def parse(data: bytes) -> dict[str, str]:
    """The assignments of one datagram: KEY=VALUE lines, malformed ones skipped.

    A key is what systemd accepts: uppercase letters, digits and underscores, not starting
    with a digit. Values are UTF-8 (invalid bytes replaced), cut at MAX_VALUE characters;
    at most MAX_ASSIGNMENTS are kept; a key given twice keeps its last value.
    """
    result: dict[str, str] = {}
    for line in data[:MAX_DATAGRAM].split(b"\n"):
        key, equals, value = line.partition(b"=")
        if not equals or not _is_key(key) or b"\0" in value:
            continue
        text = key.decode("ascii")
        if text not in result and len(result) >= MAX_ASSIGNMENTS:
            continue
        result[text] = value[: MAX_VALUE * 4].decode("utf-8", "replace")[:MAX_VALUE]
    return result


def _is_key(key: bytes) -> bool:
    if not key or len(key) > 64 or key[:1].isdigit():
        return False
    return all(c == 95 or 65 <= c <= 90 or 48 <= c <= 57 for c in key)  # _ A-Z 0-9


def sender_of(pid: int, pids: Collection[int]) -> int | None:
    """pid when it is in pids, else its nearest ancestor in pids, else None.

    Parents are read from /proc/<pid>/stat, at most ANCESTRY steps, up to PID 1: a
    program started through a wrapper (sh -c, a launcher) may notify from a child.
    """
    for _ in range(ANCESTRY):
        if pid in pids:
            return pid
        if pid <= 1:
            return None
        parent = _parent(pid)
        if parent is None:
            return None
        pid = parent
    return None


def _parent(pid: int) -> int | None:
    """The ppid of pid from /proc, None when it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            text = stat_file.read(4096)
        # "pid (comm) state ppid ...": comm may hold anything, ")" included
        fields = text[text.rindex(b")") + 1 :].split()
        return int(fields[1])
    except (OSError, ValueError, IndexError):
        return None
