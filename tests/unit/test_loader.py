"""Unit tests for initsup.loader: the forked configuration reader, its deadline, its fds."""

from __future__ import annotations

import errno
import marshal
import os
import signal
import time
from pathlib import Path

import pytest

from initsup import cli, loader, model, reaper
from initsup.loop import EventLoop
from initsup.signals import SignalReceiver


def open_fds() -> set[str]:
    """This process's open fd numbers."""
    return set(os.listdir("/proc/self/fd"))


def _decode(data: bytes) -> tuple[model.Config, list[str]]:
    raise model.ConfigError([marshal.loads(data)])


def _slow() -> bytes:
    time.sleep(30)
    return b""


def test_a_failed_fork_leaks_no_fd(monkeypatch: pytest.MonkeyPatch) -> None:
    """fork() failing (EAGAIN: no pid left) closes the pipe and says why (D18)."""

    def no_fork() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    before = open_fds()
    monkeypatch.setattr(os, "fork", no_fork)
    for _ in range(5):
        with pytest.raises(loader.LoadFailed, match="could not start a process to read the co"):
            loader.Loader(lambda: b"", _decode)
    assert open_fds() == before


def test_a_failed_fork_is_a_configuration_error_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At start-up and in `check`, a fork that fails is reported like any other problem."""

    def no_fork() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    ini = tmp_path / "one.ini"
    ini.write_text("[program:a]\ncommand = sleep 1\n")
    before = open_fds()
    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.raises(model.ConfigError) as caught:
        cli._load_apart(cli.parse(["-c", str(ini)], {}))
    assert caught.value.problems == [
        "could not start a process to read the configuration: "
        "[Errno 11] Resource temporarily unavailable"
    ]
    assert open_fds() == before


def test_the_answer_comes_back() -> None:
    """What the child produces reaches decode; the child is reaped, the pipe closed."""
    before = open_fds()
    reading = loader.Loader(lambda: marshal.dumps("seen"), _decode)
    with pytest.raises(model.ConfigError, match="seen"):
        reading.wait(5)
    assert reading.status == 0
    assert open_fds() == before


def test_a_child_that_dies_without_an_answer_is_reported() -> None:
    """A child that crashes gives 'reading the configuration failed (wait status N)'."""

    def crash() -> bytes:
        os._exit(3)

    with pytest.raises(loader.LoadFailed, match=r"failed \(wait status 768\)"):
        loader.Loader(crash, _decode).wait(5)


def test_a_slow_child_is_killed_at_the_deadline() -> None:
    """wait() gives up at its deadline, kills and reaps the child, and closes the pipe."""
    before = open_fds()
    reading = loader.Loader(_slow, _decode)
    began = time.monotonic()
    with pytest.raises(loader.LoadFailed) as caught:
        reading.wait(0.3)
    assert time.monotonic() - began < 5
    assert str(caught.value) == (
        "reading the configuration took longer than 0.3 s; its reader was killed"
    )
    with pytest.raises(ChildProcessError):
        os.waitpid(reading.pid, os.WNOHANG)
    assert open_fds() == before


def _loop() -> tuple[EventLoop, SignalReceiver]:
    receiver = SignalReceiver()
    errors: list[BaseException] = []
    return EventLoop(receiver, lambda where, exc: errors.append(exc)), receiver


def test_a_watch_reads_through_the_loop() -> None:
    """Through the loop: done(loader) once the answer is in and the child reaped."""
    loop, receiver = _loop()
    outcome: list[object] = []
    try:
        reading = loader.Loader(lambda: marshal.dumps("x" * 200_000), _decode)
        watch = loader.Watch(reading, loop, outcome.append, outcome.append, deadline=10)

        def reap() -> None:
            for pid, status in reaper.reap_all():
                assert pid == reading.pid
                watch.reaped(status)

        began = time.monotonic()
        while not outcome and time.monotonic() - began < 10:
            loop.run_once(0.05)
            reap()  # the test's own reaper: SIGCHLD is not caught here
        assert outcome == [reading]
        with pytest.raises(model.ConfigError, match=r"x{200000}"):
            reading.result()
    finally:
        loop.close()
        receiver.close()


def test_a_watch_gives_up_at_its_deadline() -> None:
    """Through the loop: failed(reason) at the deadline, the child killed."""
    loop, receiver = _loop()
    outcome: list[object] = []
    before = open_fds()
    try:
        reading = loader.Loader(_slow, _decode)
        loader.Watch(reading, loop, outcome.append, outcome.append, deadline=0.2)
        began = time.monotonic()
        while not outcome and time.monotonic() - began < 10:
            loop.run_once(0.05)
        assert outcome == [
            "reading the configuration took longer than 0.2 s; its reader was killed"
        ]
        assert open_fds() == before
        # Killed, not waited for (the loop's reaper collects it): it dies all the same.
        if reading.status is None:
            assert os.waitpid(reading.pid, 0)[1] == signal.SIGKILL
        else:
            assert reading.status == signal.SIGKILL
    finally:
        loop.close()
        receiver.close()


def test_a_runaway_answer_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer larger than MAX_ANSWER fails the read and kills the reader, in the loop
    and when waited for."""
    monkeypatch.setattr(loader, "MAX_ANSWER", 100_000)
    with pytest.raises(loader.LoadFailed, match="sent more than 100000 bytes"):
        loader.Loader(lambda: b"x" * 10_000_000, _decode).wait(10)
    loop, receiver = _loop()
    outcome: list[object] = []
    try:
        reading = loader.Loader(lambda: b"x" * 10_000_000, _decode)
        loader.Watch(reading, loop, outcome.append, outcome.append, deadline=10)
        began = time.monotonic()
        while not outcome and time.monotonic() - began < 10:
            loop.run_once(0.05)
        assert outcome == ["the configuration's reader sent more than 100000 bytes"]
        if reading.status is None:
            assert os.waitpid(reading.pid, 0)[1] == signal.SIGKILL
    finally:
        loop.close()
        receiver.close()


def test_without_prctl_a_thread_watches_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """When PR_SET_PDEATHSIG cannot be had (no _ctypes, no prctl), the reader runs a thread
    that ends it once its parent's end of the pipe closes."""
    from initsup import linux

    def no_prctl(signum: int) -> None:
        raise OSError("prctl is not available")

    def threads() -> bytes:
        import threading

        return marshal.dumps(str(threading.active_count()))

    monkeypatch.setattr(linux, "set_parent_death_signal", no_prctl)
    with pytest.raises(model.ConfigError, match=r"^2$"):
        loader.Loader(threads, _decode).wait(10)
    monkeypatch.undo()
    with pytest.raises(model.ConfigError, match=r"^1$"):
        loader.Loader(threads, _decode).wait(10)
