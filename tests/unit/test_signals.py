"""Unit tests for initsup.signals: names, parsing, the forwardable set, the receiver and
the waiter."""

from __future__ import annotations

import contextlib
import fcntl
import select
import signal
import subprocess
from collections.abc import Iterator

import pytest

from initsup.signals import (
    FAULT_SIGNALS,
    PYTHON_IGNORED,
    SIGRTMAX,
    SIGRTMIN,
    InheritedSignals,
    SignalReceiver,
    SignalWaiter,
    forwardable_signals,
    parse_signal,
    send,
    signal_name,
)


@contextlib.contextmanager
def restored_handlers(*signums: int) -> Iterator[None]:
    """Put back each signal's Python-level handler after the with-block."""
    saved = {signum: signal.getsignal(signum) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def readable(fd: int, timeout: float) -> bool:
    """Whether fd becomes readable within timeout seconds."""
    ready, _, _ = select.select([fd], [], [], timeout)
    return fd in ready


# -- signal_name -----------------------------------------------------------------------


def test_signal_name_standard() -> None:
    """A standard signal is named by its constant: 15 is SIGTERM."""
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(int(signal.SIGKILL)) == "SIGKILL"


def test_signal_name_realtime() -> None:
    """A real-time signal strictly between RTMIN and RTMAX is named SIGRTMIN+N."""
    assert signal_name(SIGRTMIN + 3) == "SIGRTMIN+3"
    assert signal_name(SIGRTMIN + 1) == "SIGRTMIN+1"


def test_signal_name_realtime_ends() -> None:
    """RTMIN and RTMAX themselves keep their own names."""
    assert signal_name(SIGRTMIN) == "SIGRTMIN"
    assert signal_name(SIGRTMAX) == "SIGRTMAX"


def test_signal_name_unknown_number() -> None:
    """A number that is no signal is named SIG<number>."""
    assert signal_name(99) == "SIG99"


# -- parse_signal ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TERM", signal.SIGTERM),
        ("SIGTERM", signal.SIGTERM),
        ("sigterm", signal.SIGTERM),
        ("term", signal.SIGTERM),
        ("SigHup", signal.SIGHUP),
        (" USR1 ", signal.SIGUSR1),
        ("15", signal.SIGTERM),
        ("9", signal.SIGKILL),
        ("WINCH", signal.SIGWINCH),
    ],
)
def test_parse_signal_names_and_numbers(text: str, expected: int) -> None:
    """Names with or without SIG, in any case, and numbers parse to the signal number."""
    assert parse_signal(text) == expected


def test_parse_signal_realtime() -> None:
    """RTMIN+N and RTMAX-N (with or without SIG) count from the real-time range ends."""
    assert parse_signal("RTMIN+2") == SIGRTMIN + 2
    assert parse_signal("SIGRTMIN+2") == SIGRTMIN + 2
    assert parse_signal("rtmax-1") == SIGRTMAX - 1
    assert parse_signal("SIGRTMAX-1") == SIGRTMAX - 1
    assert parse_signal("RTMIN") == SIGRTMIN
    assert parse_signal("RTMAX") == SIGRTMAX
    assert parse_signal(str(SIGRTMIN + 5)) == SIGRTMIN + 5


@pytest.mark.parametrize(
    "text",
    [
        "NOPE",
        "SIGNOPE",
        "",
        "SIG",
        "0",
        "65",
        "999",
        "-1",
        "1.5",
        "RTMIN+",
        "RTMIN+x",
        "RTMIN+99",
        "RTMAX-99",
        "RTMAX+1",
        "TERM15",
    ],
)
def test_parse_signal_invalid(text: str) -> None:
    """Text that is not a signal of this system raises ValueError naming the text."""
    with pytest.raises(ValueError, match="signal") as info:
        parse_signal(text)
    assert repr(text) in str(info.value)


# -- forwardable_signals ---------------------------------------------------------------


@pytest.mark.parametrize(
    "signum",
    [
        signal.SIGCHLD,
        signal.SIGTTIN,
        signal.SIGTTOU,
        signal.SIGKILL,
        signal.SIGSTOP,
        *sorted(FAULT_SIGNALS),
    ],
)
def test_forwardable_excludes(signum: int) -> None:
    """CHLD, TTIN, TTOU, KILL, STOP and the fault signals are never forwarded."""
    assert signum not in forwardable_signals()


def test_fault_signals_cover_the_synchronous_faults() -> None:
    """The fault set is SEGV, BUS, FPE, ILL, ABRT, TRAP and SYS."""
    assert {
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGILL,
        signal.SIGABRT,
        signal.SIGTRAP,
        signal.SIGSYS,
    } == FAULT_SIGNALS


@pytest.mark.parametrize(
    "name",
    [
        "HUP",
        "INT",
        "QUIT",
        "USR1",
        "USR2",
        "PIPE",
        "ALRM",
        "TERM",
        "CONT",
        "TSTP",
        "URG",
        "WINCH",
        "PWR",
    ],
)
def test_forwardable_includes(name: str) -> None:
    """The ordinary asynchronous signals are all forwarded."""
    assert getattr(signal, "SIG" + name) in forwardable_signals()


def test_forwardable_includes_realtime() -> None:
    """Every real-time signal, RTMIN through RTMAX, is forwarded."""
    assert set(range(SIGRTMIN, SIGRTMAX + 1)) <= forwardable_signals()


def test_forwardable_are_valid() -> None:
    """Every forwardable signal is one this system has."""
    assert forwardable_signals() <= signal.valid_signals()


# -- InheritedSignals ------------------------------------------------------------------


def test_reset_in_child_always_includes_python_ignored() -> None:
    """PIPE and XFSZ (which Python ignores at start-up) are always reset in children."""
    inherited = InheritedSignals(frozenset(), frozenset())
    reset = inherited.reset_in_child(frozenset())
    assert signal.SIGPIPE in reset
    assert signal.SIGXFSZ in reset
    assert reset == PYTHON_IGNORED


def test_reset_in_child_includes_initsup_ignored() -> None:
    """Signals initsup ignores for itself are reset in children."""
    inherited = InheritedSignals(frozenset(), frozenset())
    reset = inherited.reset_in_child(frozenset({signal.SIGTTIN, signal.SIGTTOU}))
    assert reset == {signal.SIGTTIN, signal.SIGTTOU, signal.SIGPIPE, signal.SIGXFSZ}


def test_reset_in_child_keeps_inherited_ignore() -> None:
    """A signal initsup ignores that its parent also ignored stays ignored in the child."""
    inherited = InheritedSignals(frozenset({signal.SIGTTOU, signal.SIGHUP}), frozenset())
    reset = inherited.reset_in_child(frozenset({signal.SIGTTIN, signal.SIGTTOU}))
    assert signal.SIGTTOU not in reset
    assert signal.SIGHUP not in reset
    assert signal.SIGTTIN in reset
    assert signal.SIGPIPE in reset


def test_capture_reads_ignored_and_mask() -> None:
    """capture() sees a signal set to SIG_IGN and a blocked signal, and never PIPE or XFSZ."""
    with restored_handlers(signal.SIGUSR2):
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
        try:
            inherited = InheritedSignals.capture()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    assert signal.SIGUSR2 in inherited.ignored
    assert signal.SIGWINCH in inherited.mask
    assert all(isinstance(s, int) for s in inherited.mask)
    # Python itself ignores PIPE and XFSZ, so capture cannot tell what the parent chose.
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
    assert not inherited.ignored & PYTHON_IGNORED
    assert signal.SIGKILL not in inherited.ignored
    assert signal.SIGSTOP not in inherited.ignored
    assert signal.SIGPIPE in inherited.reset_in_child(frozenset())


# -- SignalReceiver --------------------------------------------------------------------


def test_receiver_records_in_order_and_wakes() -> None:
    """Caught signals are recorded in arrival order and make the receiver's fd readable."""
    with restored_handlers(signal.SIGUSR1, signal.SIGUSR2):
        receiver = SignalReceiver()
        try:
            assert not readable(receiver.fileno(), 0)
            receiver.catch({signal.SIGUSR1, signal.SIGUSR2})
            signal.raise_signal(signal.SIGUSR1)
            signal.raise_signal(signal.SIGUSR2)
            signal.raise_signal(signal.SIGUSR1)
            assert readable(receiver.fileno(), 5.0)
            assert receiver.take() == [signal.SIGUSR1, signal.SIGUSR2, signal.SIGUSR1]
            assert not readable(receiver.fileno(), 0)  # taking empties the pipe
            assert receiver.take() == []
        finally:
            receiver.close()


def test_receiver_take_on_empty_pipe() -> None:
    """take() on a pipe with nothing in it returns at once, with nothing."""
    receiver = SignalReceiver()
    try:
        assert receiver.take() == []
    finally:
        receiver.close()


def test_receiver_keeps_every_delivery_of_a_realtime_signal() -> None:
    """Realtime signals queued while blocked are each delivered when unblocked, before
    Python runs a handler: the receiver reports every one, none merged."""
    rt = SIGRTMIN + 2
    with restored_handlers(rt):
        receiver = SignalReceiver()
        try:
            receiver.catch({rt})
            signal.pthread_sigmask(signal.SIG_BLOCK, {rt})
            try:
                for _ in range(3):
                    signal.raise_signal(rt)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {rt})
            assert receiver.take() == [rt, rt, rt]
        finally:
            receiver.close()


def test_receiver_says_sigchld_when_its_pipe_was_full() -> None:
    """Past a full pipe CPython drops the numbers: take() reports what fitted, then
    SIGCHLD, so that a child's end among the lost is still reaped."""
    with restored_handlers(signal.SIGUSR1):
        receiver = SignalReceiver()
        try:
            receiver.catch({signal.SIGUSR1})
            capacity = fcntl.fcntl(receiver.fileno(), fcntl.F_GETPIPE_SZ)
            for _ in range(capacity + 10):
                signal.raise_signal(signal.SIGUSR1)
            taken = receiver.take()
            assert taken == [signal.SIGUSR1] * capacity + [signal.SIGCHLD]
            signal.raise_signal(signal.SIGUSR1)  # and it goes on as before
            assert receiver.take() == [signal.SIGUSR1]
        finally:
            receiver.close()


# -- SignalWaiter ----------------------------------------------------------------------


def test_waiter_takes_pending_signals_one_at_a_time() -> None:
    """Blocked signals wait; the waiter takes each (realtime ones as often as sent)."""
    rt = SIGRTMIN + 1
    waiter = SignalWaiter(frozenset({signal.SIGUSR1, rt}))
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, rt})
    try:
        signal.raise_signal(rt)
        signal.raise_signal(rt)
        signal.raise_signal(signal.SIGUSR1)
        # The kernel gives standard signals first, then realtime ones in order.
        assert [waiter.wait() for _ in range(3)] == [signal.SIGUSR1, rt, rt]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def test_receiver_catch_installs_handler() -> None:
    """catch() replaces each signal's disposition with the receiver's handler."""
    with restored_handlers(signal.SIGUSR2):
        receiver = SignalReceiver()
        try:
            receiver.catch(frozenset({signal.SIGUSR2}))
            handler = signal.getsignal(signal.SIGUSR2)
            assert handler not in (signal.SIG_DFL, signal.SIG_IGN, None)
            assert callable(handler)
        finally:
            receiver.close()


def test_receiver_close_restores_wakeup_fd() -> None:
    """close() puts back the wakeup fd that was set before the receiver."""
    outer = SignalReceiver()
    try:
        inner = SignalReceiver()
        inner.close()
        # The wakeup fd is outer's again: swap it out to look, then put it back.
        current = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(current, warn_on_full_buffer=False)
        assert current != -1
        with restored_handlers(signal.SIGUSR1):
            outer.catch({signal.SIGUSR1})
            signal.raise_signal(signal.SIGUSR1)
            assert readable(outer.fileno(), 5.0)
            assert outer.take() == [signal.SIGUSR1]
    finally:
        outer.close()


@pytest.mark.parametrize("to_group", [False, True])
def test_send_reaches_a_pid_or_its_group(to_group: bool) -> None:
    """send() signals the pid (or the group it leads) and says it was there."""
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert send(child.pid, signal.SIGTERM, to_group) is True
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("to_group", [False, True])
def test_send_to_a_reaped_pid_is_false_not_an_error(to_group: bool) -> None:
    """A process already gone (ESRCH) is no error: its exit is seen anyway."""
    child = subprocess.Popen(["true"], start_new_session=True)
    child.wait(timeout=10)
    assert send(child.pid, signal.SIGTERM, to_group) is False
