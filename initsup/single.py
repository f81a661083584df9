"""Single-command mode: `initsup -- CMD ARGS...`, a drop-in for tini.

initsup starts CMD in its own process group, passes on every signal it receives (to CMD,
or with -g to CMD's whole group), reaps every process that ends up as its child, and
exits with CMD's code (or 128+signal) as soon as CMD has been reaped.  As PID 1 of a
container the kernel then kills whatever is left, as it does after tini.

With inherited output (the default) signals are all there is to wait for: they are taken
blocked, one at a time (signals.SignalWaiter), and each is forwarded before the next is
taken, with no event loop built at all.  Only when initsup relays the output does it need
the loop, which waits on the pipes and the signals together.
"""

from __future__ import annotations

import os
import sys

from initsup import logs, reaper, signals
from initsup.signals import SignalReceiver, SignalWaiter, signal, signal_name, take_over
from initsup.spawn import ExecError, Spawner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from initsup.loop import EventLoop
    from initsup.output import OutputWriter, PipeRelay

    Pipe = tuple[int, str]  # (read end, "stdout" or "stderr")


class Options:
    """What the command line and environment asked of single-command mode."""

    def __init__(
        self,
        command: list[str],
        kill_group: bool = False,
        remap_exit: frozenset[int] = frozenset(),
        parent_death_signal: int | None = None,
        warn_on_reap: bool = False,
        verbosity: int = 0,
        log_format: str = "inherit",
    ) -> None:
        self.command = command
        self.kill_group = kill_group
        self.remap_exit = remap_exit
        self.parent_death_signal = parent_death_signal
        self.warn_on_reap = warn_on_reap
        self.verbosity = verbosity
        self.log_format = log_format


def run(options: Options, parent_mask: frozenset[int] | None = None) -> int:
    """Run the command under initsup and return initsup's exit code.

    parent_mask: the parent's signal mask, when signals.hold() has been called.
    """
    waiter: SignalWaiter | None = None
    receiver: SignalReceiver | None = None
    if options.log_format == "inherit" and signals.can_wait():
        waiter, spawner_args = signals.take_over_waiting(parent_mask)
    else:
        receiver, spawner_args = take_over(parent_mask)
    session = Session(options, receiver)
    try:
        return session.run(Spawner(*spawner_args), waiter)
    finally:
        session.close()
        if receiver is not None:
            receiver.close()


class Session:
    """One run of one command: its output, the loop, and the child's fate.

    The command is started before the loop is built: the loop's modules (epoll, the timer
    heap, the relays) load while the command execs and starts up, time it spends anyway,
    rather than before it.  A signal that comes meanwhile waits in the receiver and is
    handled on the loop's first pass; a SIGCHLD too, so a command that has already ended
    is reaped then.
    """

    def __init__(self, options: Options, receiver: SignalReceiver | None) -> None:
        """receiver: the loop's, when the loop is wanted (None: signals are waited for)."""
        self.options = options
        self._receiver = receiver
        self._loop: EventLoop | None = None
        self.child_pid = 0
        self.exit_code: int | None = None
        self.relays: list[PipeRelay] = []
        self.writers: list[OutputWriter] = []
        self._stdout: OutputWriter | None = None
        level = "debug" if options.verbosity > 0 else "info"
        if logs.messages_on_stdout(options.log_format):
            render = logs.message_renderer(options.log_format)
            self.log = logs.Logger(lambda record: self.stdout().write(render(record)), level)
        else:
            self.log = logs.Logger(logs.StderrSink(), level)

    def loop(self) -> EventLoop:
        """The event loop, built on first use: once the command runs, or for a message
        that must go through initsup's stdout before then."""
        if self._loop is None:
            from initsup.loop import EventLoop

            assert self._receiver is not None, "a session that waits has no loop"

            self._loop = EventLoop(
                self._receiver,
                on_error=self.log.internal_error,
                on_signal=self.forward,
                reap=self.reap,
            )
        return self._loop

    def stdout(self) -> OutputWriter:
        """The writer for initsup's stdout, in the json and text formats."""
        if self._stdout is None:
            self._stdout = self._writer(1)
        return self._stdout

    def _writer(self, fd: int) -> OutputWriter:
        from initsup.output import OutputWriter  # only the relay modes need it

        writer = OutputWriter(self.loop(), fd)
        self.writers.append(writer)
        return writer

    def run(self, spawner: Spawner, waiter: SignalWaiter | None = None) -> int:
        """Start the command, serve until it has been reaped, return the code.

        waiter: take signals from it, with no loop (only when nothing is relayed).
        """
        reaper.become_reaper(self.log.warning)
        if self.options.parent_death_signal is not None:
            from initsup import linux

            linux.set_parent_death_signal(self.options.parent_death_signal)
        try:
            self.child_pid, pipes = self._start(spawner)
        except ExecError as exc:
            self.log.error(str(exc))
            return exc.exit_code
        for fd, stream in pipes:
            self._relay(fd, stream)
        self.log.debug(
            f"started {self.options.command[0]} as pid {self.child_pid}",
            pid=self.child_pid,
            command=self.options.command,
        )
        if waiter is not None:
            self._wait(waiter)
        else:
            self.loop().run()
        for relay in self.relays:
            relay.drain()
        assert self.exit_code is not None
        return self.exit_code

    def _wait(self, waiter: SignalWaiter) -> None:
        """Take each signal as it comes and act on it, until the command has been reaped.

        The same guard as the loop's: a bug in handling one signal is logged, not fatal.
        """
        while self.exit_code is None:
            signum = waiter.wait()
            try:
                if signum == signal.SIGCHLD:
                    self.reap()
                else:
                    self.forward(signum)
            except Exception as exc:
                self.log.internal_error("signal handling", exc)

    def _start(self, spawner: Spawner) -> tuple[int, list[Pipe]]:
        """Spawn the command; its pid, and the pipes of its output when initsup relays it."""
        command = self.options.command
        env = os.environ
        terminal = _foreground_terminal()
        if self.options.log_format == "inherit":
            return spawner.spawn(command, env, take_terminal=terminal), []
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            pid = spawner.spawn(command, env, stdout=out_w, stderr=err_w, take_terminal=terminal)
        except ExecError:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        return pid, [(out_r, "stdout"), (err_r, "stderr")]

    def _relay(self, fd: int, stream: str) -> None:
        from initsup.loop import do_nothing
        from initsup.output import RENDERED_READ_SIZE, PipeRelay, line_handlers, widen_pipe

        raw_target = 1 if stream == "stdout" else 2  # raw: each stream to initsup's own
        if raw_target == 1:
            widen_pipe(fd)  # one command: its pipe may be as wide as initsup's stdout
        loop = self.loop()
        program = os.path.basename(self.options.command[0]) or self.options.command[0]
        fmt = self.options.log_format
        if fmt == "raw":
            writer = self._writer(raw_target)
            self.relays.append(PipeRelay(loop, fd, writer, writer.write, do_nothing))
            return
        stdout = self.stdout()
        render = logs.line_renderer(fmt, program, program, self.child_pid, stream)
        on_data, on_eof = line_handlers(render, stdout)
        self.relays.append(PipeRelay(loop, fd, stdout, on_data, on_eof, RENDERED_READ_SIZE))

    def forward(self, signum: int) -> None:
        """Pass a received signal on to the command (or its process group)."""
        if signum == signal.SIGCHLD or not self.child_pid or self.exit_code is not None:
            return  # SIGCHLD only wakes us; a reaped child's pid may be reused
        if not signals.send(self.child_pid, signum, self.options.kill_group):
            name = signal_name(signum)
            self.log.warning(f"command was gone when forwarding {name}", signal=name)
            return
        if self.log.enabled("debug"):
            target = "process group" if self.options.kill_group else "pid"
            self.log.debug(
                f"forwarded {signal_name(signum)} to {target} {self.child_pid}",
                signal=signal_name(signum),
            )

    def reap(self) -> None:
        """Collect every exited child; note the command's own exit."""
        for pid, status in reaper.reap_all():
            if pid == self.child_pid:
                from initsup import exits  # first needed now: not on the way to the exec

                end = exits.decode(status)
                code = end.code % 256
                self.exit_code = 0 if code in self.options.remap_exit else code
                self.log.debug(
                    f"command (pid {pid}) ended: {end.words}",
                    pid=pid,
                    exit_code=code,
                )
                if self._loop is not None:
                    self._loop.stop()
            elif self.options.warn_on_reap:
                self.log.warning(f"reaped zombie process pid={pid}", pid=pid)

    def close(self) -> None:
        """Flush every byte still buffered, restore the fds, release the loop."""
        for writer in self.writers:
            writer.close()
        if self._loop is not None:
            self._loop.close()


def _foreground_terminal() -> int | None:
    """stdin's fd when it is a terminal whose foreground group is ours, else None.

    Only then is the command handed the terminal (so ^C reaches it, as under tini); a
    backgrounded initsup must not steal the terminal from the shell.
    """
    try:
        if sys.stdin is not None and os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None
