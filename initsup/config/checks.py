"""Load-time checks of what a run would trip over: log files it cannot open, commands
that do not resolve.

Each check returns a message (a predicate, read after `FILE: [section] key = 'value': `)
or None.  They look at the machine as it is when the configuration is read: `initsup
check` run elsewhere (a CI job, another image) may see a different one.
"""

from __future__ import annotations

import os
import stat


def logfile(path: str) -> str | None:
    """Why initsup could not write path as a log file, or None.

    initsup itself opens and rotates program log files (not the program, whatever its
    user= says), so the test is whether initsup's own user may create or write it.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        return f"cannot be written: its directory {directory} {what}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        return f"cannot be written: {exc.strerror or exc}"
    if info is not None and stat.S_ISDIR(info.st_mode):
        return "cannot be written: it is a directory"
    if info is not None and not os.access(path, os.W_OK):
        return "cannot be written: initsup's user has no write permission on it"
    # Rotation renames and creates files next to it, so the directory must be writable too.
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"cannot be written: initsup's user cannot create files in {directory}"
    return None


def command(argv: list[str], path: str | None) -> str | None:
    """Why argv[0] would not start (as spawn resolves it, on the child's PATH), or None."""
    from initsup.spawn import DEFAULT_PATH, ExecError, find_executable

    try:
        find_executable(argv[0], path)
    except ExecError as exc:
        reason = exc.error.strerror or str(exc.error)
        where = "" if "/" in argv[0] else f" on PATH={path if path is not None else DEFAULT_PATH}"
        return (
            f"{argv[0]!r} cannot be run{where}: {reason}; the program will fail to start"
            " (supervisord, too, finds out only then)"
        )
    return None
