"""Starting children: `os.posix_spawn`, or fork + exec where posix_spawn cannot do the job.

Never `subprocess`: its Popen objects reap (or misreport) children that initsup's own
`waitpid(-1)` collects.  Every child gets its own process group, the signal mask initsup
was started with, and default actions for the signals initsup (or Python) ignores but
initsup's parent did not.

The fork path exists for what posix_spawn has no attribute for: making the child the
terminal's foreground process group (and, for supervised programs, a working directory,
user or umask).  Its child does only `os` calls and reports a failure through a
close-on-exec pipe: EOF on that pipe means the exec succeeded.
"""

from __future__ import annotations

import errno
import os
import stat

from initsup.signals import UNCATCHABLE, InheritedSignals, signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# What execvp uses when PATH is unset (confstr _CS_PATH).
DEFAULT_PATH = "/bin:/usr/bin"


class ExecError(Exception):
    """A command could not be started; `exit_code` is the shell's code for why.

    step says what failed: "exec" (the command itself), or a step of the child's set-up
    before it ("chdir", "umask", "user").
    """

    def __init__(self, command: str, error: OSError, step: str = "exec", detail: str = "") -> None:
        self.command = command
        self.error = error
        self.step = step
        self.detail = detail  # the directory or user of a failed set-up step
        reason = error.strerror or str(error)
        if step == "exec":
            super().__init__(f"cannot run {command!r}: {reason}")
        else:
            super().__init__(f"cannot run {command!r}: {step} {detail}: {reason}")

    @property
    def exit_code(self) -> int:
        """127 when the command does not exist, 126 when it exists but cannot be run."""
        if self.step == "exec" and self.error.errno in (errno.ENOENT, errno.ENOTDIR):
            return 127
        return 126

    @property
    def spawnerr(self) -> str:
        """The same failure in supervisord's words, as its status and events show them."""
        code = self.error.errno or 0
        name = errno.errorcode.get(code, str(code))
        if self.step == "chdir":
            return f"couldn't chdir to {self.detail}: {name}"
        if self.step != "exec":
            return f"couldn't {self.step} {self.detail}: {name}"
        if code in (errno.ENOENT, errno.ENOTDIR):
            return f"can't find command {self.command!r}"
        if code == errno.EISDIR:
            return f"command at {self.command!r} is a directory"
        if code == errno.EACCES:
            return f"command at {self.command!r} is not executable"
        return f"couldn't exec {self.command}: {name}"


class ChildSetup:
    """What a child does between fork and exec, beyond what posix_spawn can do."""

    __slots__ = ("directory", "redirects", "terminal", "umask", "user")

    def __init__(
        self,
        redirects: list[tuple[int, int]],
        terminal: int | None = None,
        directory: str | None = None,
        umask: int | None = None,
        user: tuple[int, int, list[int]] | None = None,
    ) -> None:
        self.redirects = redirects  # (fd, target fd) pairs to dup2
        self.terminal = terminal  # a tty fd whose foreground group the child takes
        self.directory = directory
        self.umask = umask
        self.user = user  # (uid, gid, supplementary groups)

    def needs_fork(self) -> bool:
        """Whether posix_spawn lacks an attribute for some of this set-up."""
        return not (
            self.terminal is None
            and self.directory is None
            and self.umask is None
            and self.user is None
        )


def find_executable(command: str, path: str | None) -> str:
    """Resolve command as execvp would, using the child's PATH; raise ExecError if we can't.

    Resolving ourselves (rather than posix_spawnp) searches the PATH the child will have,
    and tells 'not found' (127) from 'found but not executable' (126) exactly.
    """
    if not command:
        raise ExecError(command, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)))
    if "/" in command:
        _check_executable(command)
        return command
    denied: OSError | None = None
    for directory in (path if path is not None else DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", command)
        try:
            _check_executable(candidate)
            return candidate
        except ExecError as exc:
            if exc.error.errno != errno.ENOENT:
                denied = denied or exc.error
    error = denied or FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
    raise ExecError(command, error)


def _check_executable(path: str) -> None:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ExecError(path, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise ExecError(path, IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR)))
    if not os.access(path, os.X_OK):
        raise ExecError(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))


class Spawner:
    """Starts processes with a clean, predictable signal state in their own process group."""

    def __init__(
        self,
        inherited: InheritedSignals,
        ignored_by_initsup: frozenset[int],
        caught_by_initsup: frozenset[int],
    ) -> None:
        self._mask = inherited.mask
        self._inherited_ignored = inherited.ignored
        self._set_default = inherited.reset_in_child(ignored_by_initsup)
        # A signal the parent ignored but initsup catches (to forward it) would reach the
        # child at its default action after exec; posix_spawn can only reset to default,
        # so such a child is started through fork, which can ignore it again.
        self._must_fork = bool(inherited.ignored & caught_by_initsup)

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        take_terminal: int | None = None,
        directory: str | None = None,
        umask: int | None = None,
        user: tuple[int, int, list[int]] | None = None,
    ) -> int:
        """Start argv and return its pid; raise ExecError if it cannot be started.

        stdin/stdout/stderr: fds to give the child as 0, 1 and 2 (None: inherit initsup's).
        take_terminal: a terminal fd whose foreground process group the child becomes.
        directory, umask, user (uid, gid, groups): the child's, set before exec.
        """
        path = find_executable(argv[0], env.get("PATH"))
        fds = ((stdin, 0), (stdout, 1), (stderr, 2))
        redirects = [(fd, target) for fd, target in fds if fd is not None]
        setup = ChildSetup(redirects, take_terminal, directory, umask, user)
        if setup.needs_fork() or self._must_fork:
            return self._fork_exec(path, argv, env, setup)
        try:
            return os.posix_spawn(
                path,
                list(argv),
                dict(env),
                file_actions=[(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in redirects],
                setpgroup=0,
                setsigmask=self._mask,
                setsigdef=self._set_default,
            )
        except OSError as exc:  # glibc >= 2.24 reports the exec's errno to the parent
            raise ExecError(argv[0], exc) from None

    def _fork_exec(
        self, path: str, argv: Sequence[str], env: Mapping[str, str], setup: ChildSetup
    ) -> int:
        report_r, report_w = os.pipe()  # both close-on-exec (PEP 446)
        env_copy = dict(env)
        step = ["exec"]  # the child's current step, reported if it fails
        try:
            pid = os.fork()
        except BaseException:  # EAGAIN (no pid left), ENOMEM: the report pipe must not leak
            os.close(report_r)
            os.close(report_w)
            raise
        if pid == 0:  # pragma: no cover - runs in the child, which execs or exits
            try:
                os.close(report_r)
                self._become_child(path, argv, env_copy, setup, step)
            except BaseException as exc:  # anything: the parent must hear of it
                code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EINVAL
                os.write(report_w, f"{step[0]} {code}".encode())
            finally:
                os._exit(127)
        os.close(report_w)
        try:
            report = b""
            while chunk := os.read(report_r, 64):
                report += chunk
        finally:
            os.close(report_r)
        if not report:
            return pid
        os.waitpid(pid, 0)  # our failed child, already exiting: nobody else may reap it
        failed_step, _, number = report.decode().partition(" ")
        code = int(number)
        details = {"chdir": setup.directory, "umask": oct(setup.umask or 0), "user": setup.user}
        detail = "" if failed_step == "exec" else str(details.get(failed_step, ""))
        raise ExecError(argv[0], OSError(code, os.strerror(code)), failed_step, detail)

    def _become_child(
        self,
        path: str,
        argv: Sequence[str],
        env: dict[str, str],
        setup: ChildSetup,
        step: list[str],
    ) -> None:  # pragma: no cover - runs in the forked child
        # Block everything first so no Python handler of initsup's runs in this process.
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        signal.set_wakeup_fd(-1)
        os.setpgid(0, 0)
        if setup.terminal is not None:
            try:
                # Everything is blocked (SIGTTOU too), so this background group may
                # take the terminal.
                os.tcsetpgrp(setup.terminal, os.getpgrp())
            except OSError as exc:
                if exc.errno not in (errno.ENOTTY, errno.ENXIO):
                    raise
        for fd, target in setup.redirects:
            os.dup2(fd, target)
        if setup.umask is not None:
            step[0] = "umask"
            os.umask(setup.umask)
        if setup.user is not None:
            step[0] = "user"
            uid, gid, groups = setup.user
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
        if setup.directory is not None:
            step[0] = "chdir"
            os.chdir(setup.directory)
        step[0] = "exec"
        # Exec would reset caught signals anyway, but one that is pending when the mask
        # is restored would run initsup's handler here instead of reaching the program.
        for signum in signal.valid_signals() - UNCATCHABLE:
            keep = signum in self._inherited_ignored
            signal.signal(signum, signal.SIG_IGN if keep else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
        os.execve(path, list(argv), env)
