"""Unit tests for initsup.config.reader and packing: the forked configuration reader, its
deadline, its fds, and the answer it sends."""

from __future__ import annotations

import errno
import marshal
import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from initsup import cli, config, model, reaper
from initsup.config import packing, reader
from initsup.errors import ConfigError
from initsup.loop import EventLoop
from initsup.signals import SignalReceiver


def open_fds() -> set[str]:
    """This process's open fd numbers."""
    return set(os.listdir("/proc/self/fd"))


def _decode(data: bytes) -> tuple[model.Config, list[str]]:
    raise ConfigError([marshal.loads(data)])


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
        with pytest.raises(reader.LoadFailed, match="could not start a process to read the co"):
            reader.Loader(lambda: b"", _decode)
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
    with pytest.raises(ConfigError) as caught:
        cli._load_apart(cli.parse(["-c", str(ini)], {}))
    assert caught.value.problems == [
        "could not start a process to read the configuration: "
        "[Errno 11] Resource temporarily unavailable"
    ]
    assert open_fds() == before


def test_the_answer_comes_back() -> None:
    """What the child produces reaches decode; the child is reaped, the pipe closed."""
    before = open_fds()
    reading = reader.Loader(lambda: marshal.dumps("seen"), _decode)
    with pytest.raises(ConfigError, match="seen"):
        reading.wait(5)
    assert reading.status == 0
    assert open_fds() == before


def test_a_child_that_dies_without_an_answer_is_reported() -> None:
    """A child that crashes gives 'reading the configuration failed (wait status N)'."""

    def crash() -> bytes:
        os._exit(3)

    with pytest.raises(reader.LoadFailed, match=r"failed \(wait status 768\)"):
        reader.Loader(crash, _decode).wait(5)


def test_a_slow_child_is_killed_at_the_deadline() -> None:
    """wait() gives up at its deadline, kills and reaps the child, and closes the pipe."""
    before = open_fds()
    reading = reader.Loader(_slow, _decode)
    began = time.monotonic()
    with pytest.raises(reader.LoadFailed) as caught:
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
        reading = reader.Loader(lambda: marshal.dumps("x" * 200_000), _decode)
        watch = reader.Watch(reading, loop, outcome.append, outcome.append, deadline=10)

        def reap() -> None:
            for pid, status in reaper.reap_all():
                assert pid == reading.pid
                watch.reaped(status)

        began = time.monotonic()
        while not outcome and time.monotonic() - began < 10:
            loop.run_once(0.05)
            reap()  # the test's own reaper: SIGCHLD is not caught here
        assert outcome == [reading]
        with pytest.raises(ConfigError, match=r"x{200000}"):
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
        reading = reader.Loader(_slow, _decode)
        reader.Watch(reading, loop, outcome.append, outcome.append, deadline=0.2)
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
    monkeypatch.setattr(reader, "MAX_ANSWER", 100_000)
    with pytest.raises(reader.LoadFailed, match="sent more than 100000 bytes"):
        reader.Loader(lambda: b"x" * 10_000_000, _decode).wait(10)
    loop, receiver = _loop()
    outcome: list[object] = []
    try:
        reading = reader.Loader(lambda: b"x" * 10_000_000, _decode)
        reader.Watch(reading, loop, outcome.append, outcome.append, deadline=10)
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
    with pytest.raises(ConfigError, match=r"^2$"):
        reader.Loader(threads, _decode).wait(10)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match=r"^1$"):
        reader.Loader(threads, _decode).wait(10)


def test_a_loaded_configuration_survives_pack_marshal_unpack(tmp_path: Path) -> None:
    """What the loading child sends (packing.pack through marshal) rebuilds an equal Config."""
    import marshal

    ini = tmp_path / "c.ini"
    ini.write_text(
        textwrap.dedent(
            """\
            [initsup]
            log_format = text
            [program:web]
            command = python3 -m http.server
            numprocs = 2
            process_name = %(program_name)s_%(process_num)s
            stopsignal = INT
            environment = A="1",B="two"
            stdout_logfile = NONE
            stdout_capture_maxbytes = 1KB
            [eventlistener:alerts]
            command = python3 listener.py
            events = PROCESS_STATE_EXITED,TICK_5
            [group:front]
            programs = web
            priority = 5
            """
        )
    )
    loaded, warnings = config.load(str(ini), {}, ["sleep", "1"])
    packed = marshal.loads(marshal.dumps(packing.pack((loaded, warnings))))
    rebuilt, rebuilt_warnings = packing.unpack(packed)
    assert rebuilt == loaded
    assert rebuilt_warnings == warnings
    web = next(g for g in rebuilt.groups if g.name == "front").processes[0]
    assert web.stopsignal == signal.SIGINT and type(web.stopsignal) is int


def test_configuration_problems_come_back_from_the_loading_child(tmp_path: Path) -> None:
    """cli loads in a forked child; its ConfigError reaches the caller with every problem."""
    from initsup import cli

    ini = tmp_path / "bad.ini"
    ini.write_text(
        "[program:a]\ncommand = x\nstartsecs = soon\nautorestart = maybe\ncolour = blue\n"
    )
    parsed = cli.parse(["-c", str(ini)], {})
    with pytest.raises(ConfigError) as caught:
        cli._load_apart(parsed)
    assert len(caught.value.problems) == 2
    assert all(str(ini) in problem for problem in caught.value.problems)
    # The warnings come along: they may explain the problems.
    assert caught.value.warnings == [
        f"{ini}: [program:a] colour = 'blue': is not an option initsup knows, ignored"
    ]


def test_the_caller_works_while_the_child_loads(tmp_path: Path) -> None:
    """meanwhile() runs in the calling process while the child reads the configuration."""
    from initsup import cli

    ini = tmp_path / "one.ini"
    ini.write_text("[program:a]\ncommand = sleep 1\n")
    ran_in: list[int] = []
    loaded, _ = cli._load_apart(cli.parse(["-c", str(ini)], {}), lambda: ran_in.append(os.getpid()))
    assert ran_in == [os.getpid()]
    assert [p.name for p in loaded.processes()] == ["a"]


def test_the_loading_child_is_waited_for_when_meanwhile_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception from meanwhile() propagates, and the child is reaped all the same."""
    from initsup import cli

    ini = tmp_path / "one.ini"
    ini.write_text("[program:a]\ncommand = sleep 1\n")
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    def fail() -> None:
        raise RuntimeError("import failed")

    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(RuntimeError, match="import failed"):
        cli._load_apart(cli.parse(["-c", str(ini)], {}), fail)
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):  # already waited for: no zombie left behind
        os.waitpid(forked[0], os.WNOHANG)
