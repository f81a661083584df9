"""Signals: names, the sets initsup treats specially, and the two ways initsup takes them.

Single-command mode without relaying has no input but signals and its child's end, tini's
situation, and takes them as tini does: blocked, straight from the kernel, one at a time
(`SignalWaiter`, `sigwait`).  Nothing else runs between a signal and its forwarding: no
handler, no wake-up pipe, no event loop; realtime signals, which the kernel queues, are
taken one by one, none merged.

The event loop (relaying, supervisor mode) must also wait on pipes and sockets, which
sigwait cannot, and Python has no signalfd: `SignalReceiver` lets CPython's C-level
handler write each signal's number into a wake-up pipe (`signal.set_wakeup_fd`, one byte
per delivery, in the order of delivery), which wakes epoll and is also the record of what
arrived.  The Python-level handler does nothing: Python runs it once per signal number
per check, so two deliveries of a realtime signal before it runs would be one.

The wakeup fd is a non-blocking pipe rather than a socketpair: on Linux both behave the
same for `set_wakeup_fd`, and a pipe spares the `socket` import.

The modules of single-command mode use `_signal`, the C module under `signal`, which the
interpreter has loaded before any code runs: `signal` itself builds its enums with `enum`,
whose imports (functools, collections...) cost 3 ms of every start, twice what initsup
spends on everything else.  `_signal` has the same functions and constants, as plain ints;
names come from SIGNAL_NAMES below instead of the `Signals` enum.  The other modules take
`signal` from here (`from initsup.signals import signal`), so the choice is made once; an
interpreter whose `_signal` is missing or lacks what initsup uses gets `signal` instead.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as signal  # noqa: PLC0414 - an explicit re-export, for the typed view
else:

    def _private_or_public():
        # Any failure of the private path (no `_signal`, or one without what initsup
        # uses) means the public module, which has everything as its documented API.
        try:
            import _signal

            for name in _NEEDED:
                getattr(_signal, name)
            _signal.valid_signals()
            return _signal
        except Exception:
            import signal

            return signal

    _NEEDED = (
        "SIGTERM", "SIGCHLD", "SIG_IGN", "SIG_DFL", "SIG_BLOCK", "SIG_SETMASK", "getsignal",
        "pthread_sigmask", "set_wakeup_fd", "signal", "valid_signals",
    )  # fmt: skip
    signal = _private_or_public()

# Raised synchronously by a fault in the process itself: forwarding them makes no sense,
# and initsup keeps their default action so a real fault in initsup is not swallowed.
FAULT_SIGNALS = frozenset(
    {
        signal.SIGFPE,
        signal.SIGILL,
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGABRT,
        signal.SIGTRAP,
        signal.SIGSYS,
    }
)
# Background-tty job control.  initsup ignores them (it may be a background process group
# once it hands the terminal to its child) and never forwards them, as tini does.
TTY_SIGNALS = frozenset({signal.SIGTTIN, signal.SIGTTOU})
UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})
# Python ignores these at start-up, before initsup can see what the parent had chosen;
# children always get them back at their default action (as subprocess's restore_signals).
PYTHON_IGNORED = frozenset(
    s for s in (getattr(signal, "SIGPIPE", None), getattr(signal, "SIGXFSZ", None)) if s
)

_ALL = frozenset(signal.valid_signals())

# What a spawn.Spawner is built from: the inherited state, what initsup ignores, catches.
SpawnerArgs = tuple["InheritedSignals", frozenset[int], frozenset[int]]
SIGRTMIN = int(getattr(signal, "SIGRTMIN", 34))
SIGRTMAX = int(getattr(signal, "SIGRTMAX", 64))
# The smallest a pipe can be (64 KiB by default; one page once a user's pipes have used
# their quota): a wake-up pipe holding this many numbers may have been full.
_PAGE = 4096


# Every name this system has for a signal, and the conventional one for each number: where
# names share a number (SIGABRT/SIGIOT, SIGCHLD/SIGCLD, SIGIO/SIGPOLL) the alphabetically
# first, as in the `Signals` enum (later entries of the comprehension win).
SIGNAL_NUMBERS = {
    name: int(getattr(signal, name))
    for name in dir(signal)
    if name.startswith("SIG") and not name.startswith("SIG_")
}
SIGNAL_NAMES = {number: name for name, number in sorted(SIGNAL_NUMBERS.items(), reverse=True)}


def signal_name(signum: int) -> str:
    """Return the conventional name of a signal number: SIGTERM, SIGRTMIN+3, or SIG99."""
    if SIGRTMIN < signum < SIGRTMAX:
        return f"SIGRTMIN+{signum - SIGRTMIN}"
    return SIGNAL_NAMES.get(signum, f"SIG{signum}")


def parse_signal(text: str) -> int:
    """Parse TERM, SIGTERM, sigterm, 15 or RTMIN+2 into a signal number.

    Raises ValueError naming the text when it is not a signal this system has.
    """
    value = text.strip().upper()
    if value.isdigit():
        number = int(value)
    else:
        name = value if value.startswith("SIG") else "SIG" + value
        if name.startswith("SIGRTMIN+") and name[9:].isdigit():
            number = SIGRTMIN + int(name[9:])
        elif name.startswith("SIGRTMAX-") and name[9:].isdigit():
            number = SIGRTMAX - int(name[9:])
        else:
            found = SIGNAL_NUMBERS.get(name)
            if found is None:
                raise ValueError(f"not a signal name or number: {text!r}")
            number = found
    if number not in _ALL:
        raise ValueError(f"not a signal on this system: {text!r}")
    return number


def forwardable_signals() -> frozenset[int]:
    """Every signal single-command mode passes on: all but CHLD, faults, TTIN/TTOU, KILL/STOP."""
    return _ALL - FAULT_SIGNALS - TTY_SIGNALS - UNCATCHABLE - {signal.SIGCHLD}


def send(pid: int, signum: int, to_group: bool) -> bool:
    """Send signum to pid, or to the process group pid leads; False if it was already gone.

    A process that has exited but is not yet reaped is still there to signal; one that is
    gone (ESRCH) is no error, since its exit is seen or has been.  Any other OSError
    (EPERM...) is raised, for the caller to word.
    """
    try:
        if to_group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


class InheritedSignals:
    """What initsup's parent handed it: ignored signals and the blocked mask.

    Captured before initsup changes anything, so that children get exactly that back: a
    disposition initsup chose for itself never leaks into a child (tini's T8 check).
    """

    __slots__ = ("ignored", "mask")

    def __init__(self, ignored: frozenset[int], mask: frozenset[int]) -> None:
        self.ignored = ignored
        self.mask = mask

    @classmethod
    def capture(cls, parent_mask: frozenset[int] | None = None) -> InheritedSignals:
        """Read the dispositions (call before installing anything) and the parent's mask.

        parent_mask: the parent's mask, when hold() has replaced the current one already.
        """
        ignored = frozenset(
            s for s in _ALL - UNCATCHABLE - PYTHON_IGNORED if signal.getsignal(s) == signal.SIG_IGN
        )
        if parent_mask is None:
            parent_mask = frozenset(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return cls(ignored, parent_mask)

    def reset_in_child(self, ignored_by_initsup: frozenset[int]) -> frozenset[int]:
        """Signals a child must get back at SIG_DFL: those ignored by us, not by our parent."""
        return (ignored_by_initsup | PYTHON_IGNORED) - self.ignored


class SignalReceiver:
    """Wakes the loop through a non-blocking pipe, and says which signals were delivered."""

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)

    def fileno(self) -> int:
        """The fd that becomes readable when a signal arrives."""
        return self._read_fd

    def catch(self, signums: frozenset[int] | set[int]) -> None:
        """Have each signal delivered (it writes its number to the pipe) instead of acted on."""
        for signum in signums:
            signal.signal(signum, _noted_in_the_pipe)

    def take(self) -> list[int]:
        """The signals delivered since the last call, one per delivery, in delivery order.

        A pipe that was full may have lost numbers (CPython drops a byte that does not
        fit).  Whenever a pass finds at least a page of them, the smallest a pipe can be,
        SIGCHLD is added: a missed child's end is the one loss that would stay unseen, and
        reaping once more costs a wait4.
        """
        numbers = b""
        while True:
            try:
                chunk = os.read(self._read_fd, _PAGE)
            except BlockingIOError:
                break
            numbers += chunk
            if len(chunk) < _PAGE:
                break  # a pipe gives all it holds: nothing is left
        taken = list(numbers)
        if len(taken) >= _PAGE and signal.SIGCHLD not in taken:
            taken.append(signal.SIGCHLD)
        return taken

    def close(self) -> None:
        """Stop waking through our pipe and close it."""
        signal.set_wakeup_fd(self._previous_wakeup)
        os.close(self._read_fd)
        os.close(self._write_fd)


def _noted_in_the_pipe(signum: int, frame: object) -> None:
    """The Python-level handler: the C-level one has written the number already."""


class SignalWaiter:
    """Takes the signals of a set one at a time, kept blocked, straight from the kernel."""

    def __init__(self, signums: frozenset[int]) -> None:
        self._signums = signums

    def wait(self) -> int:
        """Block until one of the signals is pending; take it and return its number."""
        return int(signal.sigwait(self._signums))


def can_wait() -> bool:
    """Whether this interpreter has sigwait (every Unix CPython does)."""
    return hasattr(signal, "sigwait")


def hold() -> frozenset[int]:
    """Block every catchable signal until initsup can handle it; return the parent's mask.

    Called as early as possible: a SIGTERM that comes while initsup imports and reads its
    configuration then waits, pending, for take_over() to install the handlers, instead of
    killing initsup (or, for a PID 1, being dropped by the kernel).  Fault signals are never
    blocked: a real fault must not be held.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL - UNCATCHABLE - FAULT_SIGNALS)
    return frozenset(int(s) for s in old)


def release(parent_mask: frozenset[int]) -> None:
    """Give back the mask hold() replaced (when initsup ends up running nothing)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, parent_mask)


def take_over(
    parent_mask: frozenset[int] | None = None,
) -> tuple[SignalReceiver, SpawnerArgs]:
    """Set initsup's own signal state; return the receiver and what a Spawner needs.

    Captures what the parent handed us first (parent_mask: the mask hold() replaced), then: every
    forwardable signal and SIGCHLD are caught (recorded), SIGTTIN/SIGTTOU ignored, nothing
    blocked, so whatever arrived while held is delivered to the handlers now.
    """
    inherited = InheritedSignals.capture(parent_mask)
    receiver = SignalReceiver()
    for signum in TTY_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    caught = forwardable_signals() | {signal.SIGCHLD}
    receiver.catch(caught)
    # A parent may have blocked signals; initsup must still see them.  Children get the
    # inherited mask back.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    return receiver, (inherited, TTY_SIGNALS, caught)


def take_over_waiting(
    parent_mask: frozenset[int] | None = None,
) -> tuple[SignalWaiter, SpawnerArgs]:
    """Set initsup's signal state for waiting; return the waiter and what a Spawner needs.

    As take_over(), but no handler is installed: every forwardable signal and SIGCHLD stay
    blocked, pending until the waiter takes them (a blocked signal is queued even when its
    action is to ignore it, PID 1's too); SIGTTIN/SIGTTOU are ignored and not blocked.
    """
    inherited = InheritedSignals.capture(parent_mask)
    waited = forwardable_signals() | {signal.SIGCHLD}
    for signum in TTY_SIGNALS:  # first: once unblocked they would stop initsup
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, waited)
    return SignalWaiter(waited), (inherited, TTY_SIGNALS, frozenset())
