"""Properties of the core: the process state machine, the backoff, the loop's waits, rotation.

In-process and cheap (a fake host, a fake clock, a small directory), so that 100,000
examples per property take a few minutes at most.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from initsup.logfile import LogFile
from initsup.loop import MAX_WAIT, EventLoop
from initsup.model import ProcessConfig
from initsup.process import Process, SpawnFailed
from initsup.signals import SignalReceiver
from initsup.states import ProcessState
from tests.fakes import FakeHost, exited, killed

S = ProcessState
LIVE = (S.STARTING, S.RUNNING, S.STOPPING)

seconds = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 60.0, 3_000_000.0, 1e300]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
)
configs = st.fixed_dictionaries(
    {
        "startsecs": seconds,
        "startretries": st.integers(0, 5),
        "autorestart": st.sampled_from(["true", "false", "unexpected"]),
        "backoff_max": seconds,
        "backoff_reset": seconds,
        "stopwaitsecs": seconds,
    }
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("start")),
        st.tuples(st.just("stop")),
        st.tuples(st.just("kill_now")),
        st.tuples(st.just("signal")),
        st.tuples(st.just("exit"), st.sampled_from([exited(0), exited(1), killed(9)])),
        st.tuples(st.just("advance"), seconds),
        st.tuples(st.just("fail_next_spawn")),
        st.tuples(st.just("shutting_down")),
    ),
    max_size=40,
)


def _apply(host: FakeHost, proc: Process, operation: tuple[object, ...]) -> None:
    name = operation[0]
    if name == "start":
        proc.start()
    elif name == "stop":
        proc.stop()
    elif name == "kill_now":
        proc.kill_now()
    elif name == "signal":
        proc.signal(15)
    elif name == "exit" and proc.pid > 0:  # only a pid that exists can be reaped
        proc.exited(int(str(operation[1])))
    elif name == "advance":
        host.advance(min(float(str(operation[1])), 1e7))
    elif name == "fail_next_spawn":
        host.fail_spawns.append(SpawnFailed("couldn't spawn: test", 126))
    elif name == "shutting_down":
        host.shutting_down = True


@given(configs, operations)
def test_no_history_leaves_a_live_process_without_pid(
    options: dict[str, object], history: list[tuple[object, ...]]
) -> None:
    """Whatever happens in whatever order: a live state has a pid, no signal goes to pid 0
    or below, no transition is refused as impossible."""
    host = FakeHost()
    proc = Process(ProcessConfig("p", ["/bin/p"], **options), host)  # type: ignore[arg-type]
    for operation in history:
        _apply(host, proc, operation)
        assert proc.pid > 0 or proc.state not in LIVE, (operation, proc.state)
    assert all(pid > 0 for pid, _, _ in host.sent)
    assert not [m for level, m in host.logs if "impossible transition" in m]


@given(
    st.integers(1, 10**9),
    st.floats(min_value=0, max_value=1e308, allow_nan=False, allow_infinity=False),
)
def test_the_backoff_is_finite_and_capped_for_any_crash_count(
    crashes: int, backoff_max: float
) -> None:
    host = FakeHost()
    proc = Process(ProcessConfig("p", ["/bin/p"], backoff_max=backoff_max), host)
    proc.crashes = crashes
    proc.running_at = host.now()
    delay = proc._restart_delay(expected=False, now=host.now())
    assert delay is not None
    assert math.isfinite(delay)
    assert 0 <= delay <= backoff_max


class _Recording:
    """Stands in for epoll: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        self.waits.append(timeout)
        return []

    def register(self, fd: int, mask: int) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[SignalReceiver]:
    made = SignalReceiver()
    yield made
    made.close()


@given(st.lists(seconds, min_size=1, max_size=5))
def test_every_wait_fits_epoll_whatever_the_deadlines(
    receiver: SignalReceiver, delays: list[float]
) -> None:
    """D3: any finite deadline gives a wait epoll accepts (at most 2**31 - 1 ms)."""
    loop = EventLoop(receiver, on_error=lambda where, exc: None, clock=lambda: 1000.0)
    real, recording = loop._epoll, _Recording()
    real.close()
    loop._epoll = recording  # type: ignore[assignment]
    for delay in delays:
        loop.call_later(delay, lambda: None)
    loop.run_once(loop.next_timeout())
    assert 0 <= recording.waits[0] <= MAX_WAIT < (2**31 - 1) / 1000


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="initsup-fuzz-rotation-"))
    yield directory
    shutil.rmtree(directory)


@given(
    st.integers(1, 64),
    st.integers(0, 6),
    st.lists(st.binary(min_size=1, max_size=40), max_size=30),
    st.sets(st.sampled_from(["out.log.1", "out.log.3", "out.log.9", "out.log.01", "x"])),
)
def test_rotation_keeps_the_newest_output_in_order(
    scratch: Path, maxbytes: int, backups: int, chunks: list[bytes], strays: set[str]
) -> None:
    """Backups newest-last followed by the file are a suffix of everything written, made of
    whole chunks; at most `backups` backups exist; names that are not backups are untouched."""
    for entry in scratch.iterdir():
        entry.unlink()
    for stray in strays:  # left over from before: shifted like supervisord's, or ignored
        (scratch / stray).write_bytes(b"")
    path = scratch / "out.log"
    log = LogFile(str(path), maxbytes, backups)
    for chunk in chunks:
        log.write(chunk)
    log.close()
    written = b"".join(chunks)
    ours = [n for n in range(1, backups + 1) if (scratch / f"out.log.{n}").exists()]
    kept = b"".join((scratch / f"out.log.{n}").read_bytes() for n in sorted(ours, reverse=True))
    kept += path.read_bytes() if path.exists() else b""
    if not strays & {"out.log.1", "out.log.3", "out.log.9"}:
        assert written.endswith(kept)
    assert max(ours, default=0) <= backups
    for stray in strays - {"out.log.1", "out.log.3", "out.log.9"}:
        assert (scratch / stray).exists()
    assert os.path.exists(path) or not chunks
