"""A symlink at the control socket's default path, to where the socket really is.

A supervisord configuration puts its socket wherever [unix_http_server] file= says
(/var/run/supervisor.sock on Debian), and initsup serves its control socket there.  But
`initsup ctl` with no flags looks at the default path (INITSUP_SOCKET, /run/initsup.sock,
$TMPDIR/initsup.sock), as a `docker exec` shell has nothing else to go by.  So while
initsup runs, the default path is a symlink to the real socket.

It never takes anything that may be someone's: only a symlink or socket nobody listens on
(the leftover of an earlier run) is replaced.  It is removed at exit, only while it still
points where this run made it point.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from initsup.logs import Logger


def link_default_path(logger: Logger, path: str) -> SocketLink | None:
    """A symlink at the default socket path to path, when they differ: `initsup ctl`
    with no flags finds the socket wherever [unix_http_server] file= put it."""
    from initsup.control.server import default_socket_path, socket_module

    default = default_socket_path(os.environ)
    sockets = socket_module()
    # realpath: /var/run/initsup.sock is /run/initsup.sock where /var/run links to /run.
    if os.path.realpath(default) == os.path.realpath(path) or sockets is None:
        return None
    try:
        return SocketLink(sockets, default, path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        logger.warning(
            f"no symlink at {default} to the control socket ({reason}): "
            f"initsup ctl needs --socket {path}"
        )
        return None


class SocketLink:
    """The symlink at `default` to `real`; OSError (with the reason) when it can't be made."""

    def __init__(self, sockets: Any, default: str, real: str) -> None:
        self.path = default
        self.target = os.path.abspath(real)
        _clear(sockets, default, self.target)
        os.symlink(self.target, default)

    def close(self) -> None:
        """Remove the symlink, unless something else replaced it meanwhile."""
        try:
            if os.readlink(self.path) == self.target:
                os.unlink(self.path)
        except OSError:
            pass  # gone already, or no longer a symlink: not ours to remove


def _clear(sockets: Any, path: str, target: str) -> None:
    """Remove what is at path if it is a stale symlink or socket; refuse anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISLNK(mode) or stat.S_ISSOCK(mode)):
        raise OSError(errno.EEXIST, f"{path} exists and is neither a symlink nor a socket")
    if stat.S_ISLNK(mode) and os.readlink(path) == target:
        os.unlink(path)  # an earlier run's, to the socket this run listens on now
        return
    probe = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    try:
        probe.connect(path)  # through a symlink, to the socket it points at
    except OSError:
        os.unlink(path)  # nobody listens there: a leftover of an earlier run
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"something listens at {path} already")
