"""Properties of the give-up policy: whatever happens in whatever order, no window of
max_tries_window seconds ever holds more than max_tries automatic restarts (or more than
max_tries_if_coredumped restarts after ends that dumped core), and the state machine
stays sound.  On the fake host and clock, so that many histories are cheap.
"""

from __future__ import annotations

import signal

from hypothesis import example, given, target
from hypothesis import strategies as st

from initsup.model import ProcessConfig
from initsup.process import Process, SpawnFailed
from initsup.states import ProcessState
from tests.fakes import FakeHost, exited, killed

S = ProcessState
LIVE = (S.STARTING, S.RUNNING, S.STOPPING)
DUMPED = 0x80 | int(signal.SIGSEGV)

configs = st.fixed_dictionaries(
    {
        "startsecs": st.sampled_from([0.0, 0.0, 0.5, 1.0, 5.0]),
        "startretries": st.integers(0, 5),
        "autorestart": st.sampled_from(["true", "false", "unexpected"]),
        "backoff_max": st.sampled_from([0.0, 1.0, 4.0, 60.0]),
        "backoff_reset": st.sampled_from([0.0, 1.0, 60.0]),
        "max_tries": st.integers(0, 4),
        "max_tries_if_coredumped": st.integers(0, 3),
        "max_tries_window": st.one_of(
            st.sampled_from([0.5, 1.0, 10.0, 60.0]),
            st.floats(min_value=0.001, max_value=100, allow_nan=False),
        ),
    }
)
ENDS = [exited(0), exited(1), killed(9), killed(int(signal.SIGSEGV)), DUMPED]
# Ends and short waits most of all: the limits matter when restarts crowd together.  No
# shutdown: it ends every restart (tests/fuzz/test_core.py has it in its histories).
STEPS: list[tuple[object, ...]] = [
    *(("exit", end) for end in ENDS for _ in range(6)),
    *(("advance", seconds) for seconds in (0.0, 0.0, 0.3, 1.0, 1.0, 2.5, 10.0, 61.0)),
    ("start",),
    ("start",),
    ("stop",),
    ("fail_next_spawn",),
]
operations = st.lists(st.sampled_from(STEPS), min_size=20, max_size=80)


class CountingHost(FakeHost):
    """A FakeHost that notes, at each spawn, when it came and whether it was automatic."""

    def __init__(self) -> None:
        super().__init__()
        self.restarts_seen = 0
        # (time, automatic, after a dump) of each spawn; None: a start that clears counts
        self.noted: list[tuple[float, bool, bool] | None] = []

    def spawn(self, process: Process) -> int:
        automatic = process.restarts > self.restarts_seen
        self.restarts_seen = process.restarts
        if not automatic and process.state != S.BACKOFF:
            self.noted.append(None)  # a start by hand: the policy counts afresh
        else:
            self.noted.append((self.clock.now, automatic, process.last_core_dumped))
        return super().spawn(process)


def _apply(host: CountingHost, proc: Process, operation: tuple[object, ...]) -> None:
    name = operation[0]
    if name == "start":
        proc.start()
    elif name == "stop":
        proc.stop()
    elif name == "exit" and proc.pid > 0:
        proc.exited(int(str(operation[1])))
    elif name == "advance":
        host.advance(float(str(operation[1])))
    elif name == "fail_next_spawn":
        host.fail_spawns.append(SpawnFailed("couldn't spawn: test", 126))


def _most_in_a_window(times: list[float], window: float) -> int:
    """The most of times (sorted) that fit within one window (t - first < window)."""
    most = 0
    for index, first in enumerate(times):
        most = max(most, sum(1 for t in times[index:] if t - first < window - 1e-9))
    return most


def _segments(noted: list[tuple[float, bool, bool] | None]) -> list[list[tuple[float, bool]]]:
    """The automatic restarts (time, after a dump) between starts by hand."""
    segments: list[list[tuple[float, bool]]] = [[]]
    for note in noted:
        if note is None:
            segments.append([])
        elif note[1]:
            segments[-1].append((note[0], note[2]))
    return segments


# Found by fresh examples: a start by hand from BACKOFF, then an exit, restarted sooner
# than the retry it replaced, while that retry's check had already forgotten a restart.
@example(
    options={
        "startsecs": 0.0,
        "startretries": 2,
        "autorestart": "true",
        "backoff_max": 0.0,
        "backoff_reset": 0.0,
        "max_tries": 1,
        "max_tries_if_coredumped": 0,
        "max_tries_window": 0.5,
    },
    history=[
        ("exit", 0),
        ("exit", 0),
        ("fail_next_spawn",),
        ("start",),
        ("fail_next_spawn",),
        ("advance", 1.0),
        ("start",),
        ("exit", 0),
    ],
)
@given(configs, operations)
def test_no_window_holds_more_restarts_than_the_limits(
    options: dict[str, object], history: list[tuple[object, ...]]
) -> None:
    host = CountingHost()
    proc = Process(ProcessConfig("p", ["/bin/p"], **options), host)  # type: ignore[arg-type]
    proc.start()  # as autostart does
    for operation in history:
        _apply(host, proc, operation)
        assert proc.pid > 0 or proc.state not in LIVE, (operation, proc.state)
    assert not [m for _, m in host.logs if "impossible transition" in m]
    window = float(str(options["max_tries_window"]))
    max_tries = int(str(options["max_tries"]))
    max_dumped = int(str(options["max_tries_if_coredumped"]))
    # Steer Hypothesis towards histories that crowd restarts against the limits.
    crowded, crowded_dumps = 0, 0
    for segment in _segments(host.noted):
        most = _most_in_a_window([t for t, _ in segment], window)
        most_dumps = _most_in_a_window([t for t, after_dump in segment if after_dump], window)
        crowded, crowded_dumps = max(crowded, most), max(crowded_dumps, most_dumps)
        assert most <= max_tries or not max_tries
        assert most_dumps <= max_dumped or not max_dumped
    target(float(crowded if max_tries else 0), label="restarts in one window")
    target(float(crowded_dumps if max_dumped else 0), label="restarts after dumps in one window")
    for event in host.events:
        gave_up = event.fields.get("gave_up")
        if gave_up is not None:
            assert event.name == "PROCESS_STATE_FATAL"
            assert options[str(gave_up)], "a limit of 0 gave up"
