"""What [supervisord]'s options do to initsup's own process, once, before any program
starts: the umask and working directory the programs inherit, the soft limits on open
files and processes, the pid file, and what user= means for a PID 1.

Apart from the supervisor because it runs once per start (a restart leaves it alone, as
supervisord's does: its limits and umask are set only by the first start) and because
its failures are of another kind: an explicit minfds= or minprocs= that the hard limit
does not allow refuses to start, with supervisord's reason, before anything runs.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from initsup.logs import Logger
    from initsup.model import InitOptions

# supervisord's defaults, raised to as far as the hard limit allows (never refused: a
# limit nobody asked for must not stop a container that ran before).
DEFAULT_MINFDS = 1024
DEFAULT_MINPROCS = 200

_TOO_LOW = {
    "RLIMIT_NOFILE": (
        "The minimum number of file descriptors required to run this process is {min} as "
        'per the "minfds" command-line argument or config file setting. The current '
        "environment will only allow you to open {hard} file descriptors.  Either raise "
        "the number of usable file descriptors in your environment (see README.rst) or "
        "lower the minfds setting in the config file to allow the process to start."
    ),
    "RLIMIT_NPROC": (
        "The minimum number of available processes required to run this program is {min} "
        'as per the "minprocs" command-line argument or config file setting. The current '
        "environment will only allow you to open {hard} processes.  Either raise the "
        "number of usable processes in your environment (see README.rst) or lower the "
        "minprocs setting in the config file to allow the program to start."
    ),
}


class Refused(Exception):
    """initsup cannot start as the options ask (the message is supervisord's reason)."""


def apply(options: InitOptions, logger: Logger) -> None:
    """Set umask, directory and rlimits as options say; raise Refused when one cannot be."""
    _check_user(options.user, logger)
    os.umask(options.umask)
    if options.directory is not None:
        try:
            os.chdir(options.directory)
        except OSError as exc:
            raise Refused(f"can't chdir into {options.directory!r}: {exc.strerror}") from None
        logger.info(f"set current directory: {options.directory!r}")
    _raise_limit("RLIMIT_NOFILE", options.minfds, DEFAULT_MINFDS, logger)
    _raise_limit("RLIMIT_NPROC", options.minprocs, DEFAULT_MINPROCS, logger)


def _check_user(user: str | None, logger: Logger) -> None:
    """user=: initsup stays root (as PID 1 it must reap and signal every program); the
    programs without a user= of their own run as that user.  Not root, initsup can only
    be its own user, as supervisord refuses."""
    if user is None:
        return
    from initsup.launch import user_ids

    try:
        ids = user_ids(user)
    except KeyError:
        raise Refused(f"Can't find username {user!r}") from None
    uid = os.getuid()
    if ids is not None and ids[0] != uid and uid != 0:
        raise Refused("Can't drop privilege as nonroot user")
    logger.info(
        f"user={user}: programs without a user= of their own run as {user}; initsup stays"
        " root, as PID 1 must, to reap and signal them"
        if uid == 0
        else f"user={user}: initsup and its programs run as {user} already"
    )


# /proc/self/limits' line of each limit: read first, as it usually shows the soft limit
# high enough already, and `resource` (a C extension: 0.2 MiB of an idle initsup) is
# then never loaded.
_PROC_NAMES = {"RLIMIT_NOFILE": "Max open files", "RLIMIT_NPROC": "Max processes"}


def _enough_already(name: str, least: int) -> bool:
    """Whether /proc says the soft limit name is unlimited or at least `least` (False
    when it cannot tell: `resource` decides then)."""
    try:
        with open("/proc/self/limits") as limits:
            for line in limits:
                if line.startswith(_PROC_NAMES[name]):
                    soft = line[len(_PROC_NAMES[name]) :].split()[0]
                    return soft == "unlimited" or (soft.isdigit() and int(soft) >= least)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _raise_limit(name: str, wanted: int | None, default: int, logger: Logger) -> None:
    """Raise the soft limit name to at least wanted (else default); supervisord's rule."""
    if _enough_already(name, default if wanted is None else wanted):
        return
    try:
        import resource
    except ImportError:  # a Python without it: nothing can be raised, nothing refused
        return
    which = getattr(resource, name, None)
    if which is None:
        return
    least = default if wanted is None else wanted
    soft, hard = resource.getrlimit(which)
    unlimited = resource.RLIM_INFINITY
    if soft == unlimited or soft >= least:
        return
    new_hard = hard if hard == unlimited or hard >= least else least  # root may raise it
    try:
        resource.setrlimit(which, (least, new_hard))
    except (OSError, ValueError):
        if wanted is None:  # supervisord's default: as far as the hard limit lets it
            if hard != unlimited and soft < hard:
                resource.setrlimit(which, (hard, hard))
                logger.info(f"Increased {name} limit to {hard}")
            return
        raise Refused(_TOO_LOW[name].format(min=least, hard=hard)) from None
    logger.info(f"Increased {name} limit to {least}")


class PidFile:
    """pidfile=: initsup's pid written at start, removed at exit (a failure is a warning,
    as supervisord's is a log line)."""

    def __init__(self, path: str | None, logger: Logger) -> None:
        self.path: str | None = None
        if path is None:
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(fd)
        except OSError as exc:
            logger.warning(f"could not write pidfile {path}: {exc.strerror or exc}")
            return
        self.path = path

    def close(self) -> None:
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass  # removed by someone else: nothing left to do
            self.path = None
