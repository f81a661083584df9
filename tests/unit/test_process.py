"""The process state machine on a fake host: supervisord's scenarios D1-D6 as scripted histories.

Every test drives a `Process` through `FakeHost` (no real processes) and compares the
exact (event name, payload) sequence with what supervisord 4.3.0 was observed to publish
(reference §3.4 and §4), plus initsup's own restart backoff after RUNNING crashes.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from initsup.model import ProcessConfig
from initsup.process import TOO_QUICK, Process, SpawnFailed
from initsup.states import SIGNALLABLE_STATES, ProcessState
from tests.fakes import FIRST_PID, FakeHost, exited, killed

S = ProcessState
PID = FIRST_PID  # the first fake pid
SIGTERM = int(signal.SIGTERM)
SIGKILL = int(signal.SIGKILL)


def make(name: str = "victim", **options: Any) -> tuple[FakeHost, Process]:
    """A fresh fake host and a STOPPED process of a program called name."""
    host = FakeHost()
    return host, Process(ProcessConfig(name, [f"/usr/bin/{name}"], **options), host)


def state_of(proc: Process) -> ProcessState:
    """The process's state (a call, so that mypy does not narrow it across transitions)."""
    return proc.state


def ev(state: str, rest: str, name: str = "victim") -> tuple[str, str]:
    """The (name, payload) of PROCESS_STATE_<state> for a program whose group is its name."""
    return f"PROCESS_STATE_{state}", f"processname:{name} groupname:{name} {rest}"


def running(**options: Any) -> tuple[FakeHost, Process]:
    """A process that has passed startsecs and is RUNNING, its record cleared."""
    host, proc = make(**options)
    assert proc.start()
    host.advance(proc.config.startsecs)
    assert state_of(proc) is S.RUNNING
    host.forget()
    return host, proc


# Every state a process can be brought into for real (UNKNOWN is unreachable).
DRIVABLE = [S.STOPPED, S.STARTING, S.RUNNING, S.BACKOFF, S.STOPPING, S.EXITED, S.FATAL]


def drive(target: ProcessState) -> tuple[FakeHost, Process]:
    """A process brought into target the way it happens for real, its record cleared."""
    host, proc = make(autorestart="false", startretries=1)
    if target is not S.STOPPED:
        proc.start()
    if target in (S.RUNNING, S.STOPPING, S.EXITED):
        host.advance(1)
    if target is S.STOPPING:
        proc.stop()
    if target is S.EXITED:
        proc.exited(exited(0))
    if target in (S.BACKOFF, S.FATAL):
        proc.exited(exited(1))
    if target is S.FATAL:
        host.advance(1)
        proc.exited(exited(1))
    assert state_of(proc) is target
    host.forget()
    return host, proc


# -- D1: quick exits back off, then FATAL ------------------------------------------------


def test_d1_quick_exits_back_off_then_fatal() -> None:
    """startsecs=1, startretries=2, exit 3 at once: BACKOFF 1, 2, 3 after 1 s and 2 s, FATAL."""
    host, proc = make("quick", startsecs=1, startretries=2)
    assert proc.start()
    proc.exited(exited(3))
    assert host.take() == [
        ev("STARTING", "from_state:STOPPED tries:0", "quick"),
        ev("BACKOFF", "from_state:STARTING tries:1", "quick"),
    ]
    host.advance(0.99)
    assert state_of(proc) is S.BACKOFF
    assert host.take() == []
    assert len(host.spawns) == 1
    host.advance(0.01)
    assert host.take() == [ev("STARTING", "from_state:BACKOFF tries:1", "quick")]
    proc.exited(exited(3))
    assert host.take() == [ev("BACKOFF", "from_state:STARTING tries:2", "quick")]
    host.advance(1.99)
    assert state_of(proc) is S.BACKOFF
    assert host.take() == []
    assert len(host.spawns) == 2
    host.advance(0.01)
    assert host.take() == [ev("STARTING", "from_state:BACKOFF tries:2", "quick")]
    proc.exited(exited(3))
    backoff, fatal = host.events
    assert host.take() == [
        ev("BACKOFF", "from_state:STARTING tries:3", "quick"),
        ev("FATAL", "from_state:BACKOFF", "quick"),
    ]
    assert host.spawned_pids() == [PID, PID + 1, PID + 2]
    assert state_of(proc) is S.FATAL
    assert proc.spawnerr == "Exited too quickly (process log may have details)"
    assert proc.spawnerr == TOO_QUICK
    assert (backoff.level, backoff.fields["message"]) == (
        "warning",
        "exited: quick (exit status 3; not expected)",
    )
    assert (fatal.level, fatal.fields["message"]) == (
        "error",
        "gave up: quick entered FATAL state, too many start retries too quickly",
    )
    host.advance(3600)
    assert host.take() == []
    assert len(host.spawns) == 3


@pytest.mark.parametrize("startretries", [0, 1, 3, 5])
def test_startretries_plus_one_spawns_with_growing_waits(startretries: int) -> None:
    """startretries=n makes n+1 spawns, k s apart after the k-th BACKOFF, then FATAL."""
    host, proc = make("quick", startretries=startretries)
    proc.start()
    expected = [ev("STARTING", "from_state:STOPPED tries:0", "quick")]
    for tries in range(1, startretries + 2):
        proc.exited(exited(3))
        expected.append(ev("BACKOFF", f"from_state:STARTING tries:{tries}", "quick"))
        if tries > startretries:
            break
        host.advance(tries - 0.5)
        assert len(host.spawns) == tries, "no respawn before the BACKOFF delay has passed"
        host.advance(0.5)
        expected.append(ev("STARTING", f"from_state:BACKOFF tries:{tries}", "quick"))
    expected.append(ev("FATAL", "from_state:BACKOFF", "quick"))
    assert host.history() == expected
    assert len(host.spawns) == startretries + 1
    assert state_of(proc) is S.FATAL


def test_reaching_running_resets_the_tries() -> None:
    """A retry that makes it to RUNNING resets tries: a later quick exit is tries:1 again."""
    host, proc = make(autorestart="true")
    proc.start()
    proc.exited(exited(1))
    host.advance(1)  # retry: STARTING tries:1
    host.advance(1)  # startsecs passed: RUNNING
    assert state_of(proc) is S.RUNNING
    assert proc.backoff == 0
    host.forget()
    proc.exited(exited(1))  # a crash after RUNNING: EXITED, restarted at once (tries:0)
    proc.exited(exited(1))  # that restart exits too quickly: BACKOFF tries:1
    assert host.take() == [
        ev("EXITED", f"from_state:RUNNING expected:0 pid:{PID + 1}"),
        ev("STARTING", "from_state:EXITED tries:0"),
        ev("BACKOFF", "from_state:STARTING tries:1"),
    ]


# -- D2: exits within startsecs, and startsecs=0 -----------------------------------------


@pytest.mark.parametrize("code", [0, 3])
def test_d2_exit_within_startsecs_is_backoff_whatever_the_code(code: int) -> None:
    """An exit within startsecs is BACKOFF, never EXITED, even with an expected code."""
    host, proc = make(startsecs=1, exitcodes=frozenset({0, 3}))
    proc.start()
    host.clock.advance(0.5)
    proc.exited(exited(code))
    assert host.history() == [
        ev("STARTING", "from_state:STOPPED tries:0"),
        ev("BACKOFF", "from_state:STARTING tries:1"),
    ]
    backoff = host.events[-1]
    assert backoff.level == "warning"
    assert backoff.fields["message"] == f"exited: victim (exit status {code}; not expected)"
    assert backoff.fields["exit_code"] == code
    assert proc.spawnerr == TOO_QUICK


@pytest.mark.parametrize("timer_first", [True, False], ids=["timer-ran", "exit-reaped-first"])
def test_d2_startsecs_zero_exit_0_is_expected(timer_first: bool) -> None:
    """startsecs=0 plus exit 0: STARTING -> RUNNING -> EXITED expected:1, no restart."""
    host, proc = make(startsecs=0)
    proc.start()
    if timer_first:
        host.advance(0)  # the loop ran the startsecs timer before reaping the exit
    proc.exited(exited(0))
    history = host.history()
    assert [name for name, _ in history] == [
        "PROCESS_STATE_STARTING",
        "PROCESS_STATE_RUNNING",
        "PROCESS_STATE_EXITED",
    ]
    assert history[0] == ev("STARTING", "from_state:STOPPED tries:0")
    assert history[2] == ev("EXITED", f"from_state:RUNNING expected:1 pid:{PID}")
    host.advance(100)
    assert state_of(proc) is S.EXITED
    assert len(host.spawns) == 1


@pytest.mark.parametrize(("startsecs", "after"), [(0.0, 0.0), (1.0, 1.0), (1.0, 1.5)])
def test_running_caught_up_at_exit_carries_the_pid(startsecs: float, after: float) -> None:
    """An exit reaped after startsecs but before its timer ran still gives RUNNING pid:<pid>."""
    host, proc = make(startsecs=startsecs)
    proc.start()
    host.clock.advance(after)  # time passes, but the loop reaps before it runs timers
    proc.exited(exited(0))
    assert host.history() == [
        ev("STARTING", "from_state:STOPPED tries:0"),
        ev("RUNNING", f"from_state:STARTING pid:{PID}"),
        ev("EXITED", f"from_state:RUNNING expected:1 pid:{PID}"),
    ]


def test_running_after_startsecs_carries_the_pid() -> None:
    """The startsecs timer moves STARTING to RUNNING with the process's pid."""
    host, proc = make(startsecs=1)
    proc.start()
    host.advance(0.99)
    assert state_of(proc) is S.STARTING
    host.advance(0.01)
    assert state_of(proc) is S.RUNNING
    assert host.history() == [
        ev("STARTING", "from_state:STOPPED tries:0"),
        ev("RUNNING", f"from_state:STARTING pid:{PID}"),
    ]
    assert host.events[0].fields["pid"] == PID
    assert host.events[1].fields["message"] == (
        "success: victim entered RUNNING state, process has stayed up for > than 1 seconds "
        "(startsecs)"
    )


# -- D3/D4: exits after RUNNING and the restart policy -----------------------------------

SIGKILLED = killed(SIGKILL)
RESTART_POLICY = [
    # autorestart, exitcodes, wait status, expected, restarted
    ("unexpected", {0}, SIGKILLED, 0, True),
    ("unexpected", {0}, exited(0), 1, False),
    ("unexpected", {0}, exited(3), 0, True),
    ("unexpected", {0, 2}, exited(2), 1, False),
    ("unexpected", {0, 2}, exited(3), 0, True),
    ("true", {0}, exited(0), 1, True),
    ("true", {0}, exited(3), 0, True),
    ("true", {0}, SIGKILLED, 0, True),
    ("false", {0}, exited(0), 1, False),
    ("false", {0}, exited(3), 0, False),
    ("false", {0}, SIGKILLED, 0, False),
]


@pytest.mark.parametrize(
    ("autorestart", "exitcodes", "status", "expected", "restarted"),
    RESTART_POLICY,
    ids=[f"{r[0]}-{sorted(r[1])}-status{r[2]}" for r in RESTART_POLICY],
)
def test_d3_d4_exit_after_running(
    autorestart: str, exitcodes: set[int], status: int, expected: int, restarted: bool
) -> None:
    """EXITED expected:0/1 per exitcodes, then STARTING from_state:EXITED tries:0 per policy."""
    host, proc = running(autorestart=autorestart, exitcodes=frozenset(exitcodes))
    proc.exited(status)
    after = [ev("STARTING", "from_state:EXITED tries:0")] if restarted else []
    assert host.take() == [
        ev("EXITED", f"from_state:RUNNING expected:{expected} pid:{PID}"),
        *after,
    ]
    assert host.spawned_pids() == ([PID, PID + 1] if restarted else [PID])
    assert proc.pid == (PID + 1 if restarted else 0)
    if not restarted:
        host.advance(3600)
        assert host.take() == []
        assert state_of(proc) is S.EXITED
        assert len(host.spawns) == 1


def test_d3_sigkill_death_is_logged_and_recorded() -> None:
    """A SIGKILL death: exit status -1 (never expected), exit code 137, logged at warning."""
    host, proc = running()
    proc.exited(killed(SIGKILL))
    exited_event = host.events[0]
    assert exited_event.level == "warning"
    assert exited_event.fields["exit_code"] == 137
    assert exited_event.fields["signal"] == "SIGKILL"
    assert exited_event.fields["expected"] is False
    assert exited_event.fields["message"] == "exited: victim (terminated by SIGKILL; not expected)"
    assert proc.exitstatus == -1
    assert proc.exit_code == 137


def test_d3_expected_exit_logged_at_info() -> None:
    """An expected exit is logged as `exited: x (exit status 0; expected)` at info."""
    host, proc = running()
    proc.exited(exited(0))
    event = host.events[0]
    assert event.level == "info"
    assert event.fields["message"] == "exited: victim (exit status 0; expected)"
    assert event.fields["exit_code"] == 0
    assert "signal" not in event.fields
    assert proc.exit_code == 0
    assert proc.exitstatus == 0


def test_d4_autorestart_true_restarts_every_expected_exit() -> None:
    """autorestart=true restarts expected exits again and again (with initsup's delays)."""
    host, proc = running(autorestart="true")
    for _ in range(4):
        proc.exited(exited(0))
        host.advance(10)  # past any restart delay, and past startsecs
        assert state_of(proc) is S.RUNNING
    names = [name for name, _ in host.history()]
    assert names == ["PROCESS_STATE_EXITED", "PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"] * 4
    assert len(host.spawns) == 5


# -- D5: spawn failures ------------------------------------------------------------------


def test_d5_spawn_failure_backs_off_then_fatal_then_manual_start() -> None:
    """A command that cannot be spawned: STARTING, BACKOFF with no pid, ..., FATAL."""
    host, proc = make()
    host.fail_spawns = [SpawnFailed("can't find command '/x'", 127) for _ in range(4)]
    assert proc.start()
    assert host.take() == [
        ev("STARTING", "from_state:STOPPED tries:0"),
        ev("BACKOFF", "from_state:STARTING tries:1"),
    ]
    assert proc.pid == 0
    assert proc.spawnerr == "can't find command '/x'"
    assert proc.exit_code == 127
    for tries in (1, 2, 3):
        host.advance(tries)
        assert host.take() == [
            ev("STARTING", f"from_state:BACKOFF tries:{tries}"),
            ev("BACKOFF", f"from_state:STARTING tries:{tries + 1}"),
            *([ev("FATAL", "from_state:BACKOFF")] if tries == 3 else []),
        ]
    assert state_of(proc) is S.FATAL
    assert proc.spawnerr == "can't find command '/x'"
    assert host.spawns == [("victim", None)] * 4
    host.advance(3600)
    assert host.take() == []
    assert proc.start()
    assert host.take() == [ev("STARTING", "from_state:FATAL tries:0")]
    assert proc.pid == PID
    assert proc.spawnerr == ""


def test_d5_spawn_failure_events_have_no_pid() -> None:
    """Neither the STARTING nor the BACKOFF of a failed spawn names a pid."""
    host, proc = make()
    host.fail_spawns = [SpawnFailed("command at '/etc' is a directory", 126)]
    proc.start()
    assert [e.name for e in host.events] == ["PROCESS_STATE_STARTING", "PROCESS_STATE_BACKOFF"]
    for event in host.events:
        assert "pid" not in event.fields
        assert "pid:" not in event.payload
    assert host.events[0].fields["message"] == "spawnerr: command at '/etc' is a directory"


def test_d5_spawn_failure_then_success_reaches_running() -> None:
    """A spawn that fails once and then works: BACKOFF tries:1, STARTING tries:1, RUNNING."""
    host, proc = make()
    host.fail_spawns = [SpawnFailed("can't find command '/x'", 127)]
    proc.start()
    host.advance(1)
    host.advance(1)
    assert host.history() == [
        ev("STARTING", "from_state:STOPPED tries:0"),
        ev("BACKOFF", "from_state:STARTING tries:1"),
        ev("STARTING", "from_state:BACKOFF tries:1"),
        ev("RUNNING", f"from_state:STARTING pid:{PID}"),
    ]
    assert proc.spawnerr == ""


def test_d5_fatal_is_left_only_by_a_manual_start() -> None:
    """A FATAL process stays FATAL; start() emits STARTING from_state:FATAL tries:0."""
    host, proc = make(startretries=0)
    proc.start()
    proc.exited(exited(1))
    assert state_of(proc) is S.FATAL
    host.advance(3600)
    host.forget()
    assert proc.start()
    assert host.take() == [ev("STARTING", "from_state:FATAL tries:0")]


# -- D6: stopping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stopasgroup", "killasgroup"),
    [(False, False), (True, True), (False, True)],
    ids=["pid", "group", "kill-group-only"],
)
def test_d6_stop_escalates_to_sigkill_after_stopwaitsecs(
    stopasgroup: bool, killasgroup: bool
) -> None:
    """stop(): stopsignal, one STOPPING, SIGKILL after stopwaitsecs, STOPPED with the old pid."""
    host, proc = running(
        stopwaitsecs=2, stopasgroup=stopasgroup, killasgroup=killasgroup, autorestart="true"
    )
    assert proc.stop()
    assert host.take() == [ev("STOPPING", f"from_state:RUNNING pid:{PID}")]
    assert host.sent == [(PID, SIGTERM, stopasgroup)]
    host.advance(1.99)
    assert host.sent == [(PID, SIGTERM, stopasgroup)]
    host.advance(0.01)
    assert host.sent == [(PID, SIGTERM, stopasgroup), (PID, SIGKILL, killasgroup)]
    assert host.logs[-1] == ("warning", f"killing 'victim' ({PID}) with SIGKILL")
    assert host.take() == []  # no second STOPPING
    assert state_of(proc) is S.STOPPING
    assert proc.killed
    proc.exited(killed(SIGKILL))
    assert host.take() == [ev("STOPPED", f"from_state:STOPPING pid:{PID}")]
    assert state_of(proc) is S.STOPPED
    assert proc.pid == 0
    assert proc.killed
    host.advance(3600)
    assert host.take() == []
    assert len(host.spawns) == 1
    assert len(host.sent) == 2


@pytest.mark.parametrize(
    ("stopasgroup", "target"), [(False, "pid"), (True, "process group")], ids=["pid", "group"]
)
def test_d6_stopping_message(stopasgroup: bool, target: str) -> None:
    """The STOPPING event says what is sent where and when SIGKILL follows."""
    host, proc = running(stopwaitsecs=2.5, stopasgroup=stopasgroup, killasgroup=stopasgroup)
    proc.stop()
    assert host.events[0].fields["message"] == (
        f"stopping: victim with SIGTERM to {target} {PID}, SIGKILL after 2.5 s"
    )


def test_d6_stop_obeyed_needs_no_sigkill() -> None:
    """A process that exits on the stopsignal is STOPPED, and no SIGKILL ever follows."""
    host, proc = running(stopsignal=int(signal.SIGINT), stopwaitsecs=2)
    proc.stop()
    host.advance(1)
    proc.exited(killed(int(signal.SIGINT)))
    host.advance(3600)
    assert host.history() == [
        ev("STOPPING", f"from_state:RUNNING pid:{PID}"),
        ev("STOPPED", f"from_state:STOPPING pid:{PID}"),
    ]
    assert host.sent == [(PID, int(signal.SIGINT), False)]
    assert not proc.killed
    assert host.events[1].level == "info"
    assert host.events[1].fields["message"] == "stopped: victim (terminated by SIGINT)"


def test_d6_stop_while_starting() -> None:
    """stop() in STARTING gives STOPPING from_state:STARTING; startsecs no longer promotes it."""
    host, proc = make(startsecs=1, stopwaitsecs=5)
    proc.start()
    host.advance(0.5)
    assert proc.stop()
    host.advance(1)
    assert state_of(proc) is S.STOPPING
    proc.exited(exited(0))
    assert host.history() == [
        ev("STARTING", "from_state:STOPPED tries:0"),
        ev("STOPPING", f"from_state:STARTING pid:{PID}"),
        ev("STOPPED", f"from_state:STOPPING pid:{PID}"),
    ]


def test_d6_stop_twice_sends_once() -> None:
    """A second stop() while STOPPING does nothing: no second STOPPING, no second signal."""
    host, proc = running()
    assert proc.stop()
    assert not proc.stop()
    assert host.take() == [ev("STOPPING", f"from_state:RUNNING pid:{PID}")]
    assert host.sent == [(PID, SIGTERM, False)]


def test_d6_stop_during_backoff_is_stopped_at_once() -> None:
    """stop() in BACKOFF goes straight to STOPPED (pid:0) and calls off the retry."""
    host, proc = make()
    proc.start()
    proc.exited(exited(1))
    host.forget()
    assert proc.stop()
    assert host.take() == [ev("STOPPED", "from_state:BACKOFF pid:0")]
    assert host.sent == []
    host.advance(3600)
    assert host.take() == []
    assert len(host.spawns) == 1
    assert state_of(proc) is S.STOPPED


# -- initsup's restart backoff after RUNNING ---------------------------------------------


def test_restart_delays_grow_and_cap_at_backoff_max() -> None:
    """RUNNING crashes restart at once, then after 1, 2, 4 s ... capped at backoff_max."""
    host, proc = running(backoff_max=5.0, backoff_reset=60.0)
    for count, delay in enumerate([0, 1, 2, 4, 5, 5, 5], start=1):
        spawned = len(host.spawns)
        proc.exited(exited(1))
        if delay:
            assert state_of(proc) is S.EXITED
            assert not proc.ended_for_good
            assert host.logs[-1] == (
                "info",
                f"victim: restarting in {delay} s (ended {count} times in a row)",
            )
            host.advance(delay - 0.25)
            assert len(host.spawns) == spawned, f"restart {count} came early"
            host.advance(0.25)
        assert len(host.spawns) == spawned + 1
        assert host.take()[-1] == ev("STARTING", "from_state:EXITED tries:0")
        host.advance(1)  # startsecs: RUNNING again
        assert state_of(proc) is S.RUNNING
        host.forget()


@pytest.mark.parametrize(("ran_for", "delay"), [(9.5, 2.0), (10.0, 0.0), (25.0, 0.0)])
def test_running_backoff_reset_seconds_makes_restart_immediate(
    ran_for: float, delay: float
) -> None:
    """Running at least backoff_reset seconds before the crash resets the delay to none."""
    host, proc = running(backoff_reset=10.0)
    proc.exited(exited(1))  # first crash: at once
    host.advance(1)  # RUNNING
    proc.exited(exited(1))  # second crash: after 1 s
    host.advance(1)  # restarted
    host.advance(1)  # RUNNING
    assert state_of(proc) is S.RUNNING
    spawned = len(host.spawns)
    host.advance(ran_for)
    proc.exited(exited(1))
    if delay:
        assert state_of(proc) is S.EXITED
        host.advance(delay)
    assert len(host.spawns) == spawned + 1
    assert state_of(proc) is S.STARTING


def test_stop_cancels_a_pending_restart() -> None:
    """stop() while a delayed restart is pending calls it off: no spawn ever happens."""
    host, proc = running()
    proc.exited(exited(1))
    host.advance(1)
    proc.exited(exited(1))  # the second crash: restart in 1 s
    assert host.pending_timers()
    spawned = len(host.spawns)
    proc.stop()
    assert host.pending_timers() == []
    host.advance(3600)
    assert len(host.spawns) == spawned
    assert state_of(proc) is S.EXITED
    assert proc.ended_for_good
    assert host.logs[-1] == ("info", "victim: pending restart cancelled")


def test_no_restart_while_shutting_down() -> None:
    """An unexpected exit while the host shuts down is EXITED for good, never restarted."""
    host, proc = running()
    host.shutting_down = True
    proc.exited(exited(1))
    host.advance(3600)
    assert host.history() == [ev("EXITED", f"from_state:RUNNING expected:0 pid:{PID}")]
    assert len(host.spawns) == 1
    assert proc.ended_for_good
    assert host.ended == [True]


def test_pending_restart_dropped_when_shutdown_begins() -> None:
    """A delayed restart whose time comes during shutdown does not spawn."""
    host, proc = running()
    proc.exited(exited(1))
    host.advance(1)
    proc.exited(exited(1))  # restart in 1 s
    spawned = len(host.spawns)
    host.shutting_down = True
    host.advance(3600)
    assert len(host.spawns) == spawned
    assert state_of(proc) is S.EXITED


def test_no_backoff_retry_while_shutting_down() -> None:
    """A process in BACKOFF when shutdown begins is not spawned again by its retry timer."""
    host, proc = make()
    proc.start()
    proc.exited(exited(1))
    assert state_of(proc) is S.BACKOFF
    host.shutting_down = True
    host.advance(3600)
    assert len(host.spawns) == 1
    assert state_of(proc) is S.BACKOFF


# -- ended_for_good ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "ended"),
    [
        (S.STOPPED, False),
        (S.STARTING, False),
        (S.RUNNING, False),
        (S.BACKOFF, False),
        (S.STOPPING, False),
        (S.EXITED, True),  # autorestart=false: no restart coming
        (S.FATAL, True),
    ],
)
def test_ended_for_good_per_state(state: ProcessState, ended: bool) -> None:
    """ended_for_good is true only for FATAL and for EXITED without a restart coming."""
    _, proc = drive(state)
    assert proc.ended_for_good is ended


def test_ended_for_good_false_while_restart_pending() -> None:
    """EXITED with a delayed restart pending is not ended for good, until the restart runs."""
    host, proc = running()
    proc.exited(exited(1))  # restarted at once
    host.advance(1)
    proc.exited(exited(1))  # restart in 1 s
    assert state_of(proc) is S.EXITED
    assert not proc.ended_for_good
    host.advance(1)
    assert state_of(proc) is S.STARTING
    assert not proc.ended_for_good


def test_ended_for_good_seen_by_host_at_each_change() -> None:
    """At the EXITED change the host sees ended_for_good false when a restart is coming."""
    host, proc = running()
    proc.exited(exited(1))  # restarted at once
    assert host.changes == ["EXITED", "STARTING"]
    assert host.ended == [False, False]
    host.advance(1)
    host.forget()
    proc.exited(exited(1))  # restart in 1 s
    assert host.changes == ["EXITED"]
    assert host.ended == [False]
    assert not proc.ended_for_good
    proc.stop()
    assert proc.ended_for_good


def test_ended_for_good_after_expected_exit_without_restart() -> None:
    """An expected exit under autorestart=unexpected is ended for good at its change."""
    host, proc = running()
    proc.exited(exited(0))
    assert host.changes == ["EXITED"]
    assert host.ended == [True]


def test_fatal_is_ended_for_good_at_its_change() -> None:
    """The host sees ended_for_good true when the process enters FATAL."""
    host, proc = make(startretries=0)
    proc.start()
    proc.exited(exited(1))
    assert host.changes == ["STARTING", "BACKOFF", "FATAL"]
    assert host.ended == [False, False, True]


# -- shutdown helpers --------------------------------------------------------------------


def test_a_shutdown_stop_stops_a_backoff() -> None:
    """stop() for a shutdown on BACKOFF goes to STOPPED (not FATAL as supervisord's
    stop_all), the retry cancelled: listeners watching FATAL do not fire on an ordinary
    shutdown."""
    host, proc = drive(S.BACKOFF)
    proc.stop()
    assert host.take() == [ev("STOPPED", "from_state:BACKOFF pid:0")]
    host.advance(3600)
    assert host.take() == []
    assert len(host.spawns) == 1


def test_a_shutdown_stop_stops_a_running_process() -> None:
    """stop() for a shutdown on RUNNING is an ordinary stop."""
    host, proc = running()
    proc.stop()
    assert host.take() == [ev("STOPPING", f"from_state:RUNNING pid:{PID}")]
    assert host.sent == [(PID, SIGTERM, False)]


@pytest.mark.parametrize("state", [S.STOPPED, S.EXITED, S.FATAL, S.STOPPING])
def test_a_shutdown_stop_leaves_other_states(state: ProcessState) -> None:
    """stop() for a shutdown publishes nothing for a process already stopped or stopping."""
    host, proc = drive(state)
    proc.stop()
    assert host.take() == []
    assert state_of(proc) is state


def test_kill_now_on_running_sends_sigkill_at_once() -> None:
    """kill_now() on RUNNING: STOPPING once and SIGKILL at once, without stopwaitsecs."""
    host, proc = running(stopwaitsecs=10, killasgroup=True)
    proc.kill_now()
    assert host.take() == [ev("STOPPING", f"from_state:RUNNING pid:{PID}")]
    assert host.sent[-1] == (PID, SIGKILL, True)
    assert proc.killed
    host.advance(3600)
    assert [s for s in host.sent if s[1] == SIGKILL] == [(PID, SIGKILL, True)]
    proc.exited(killed(SIGKILL))
    assert host.take() == [ev("STOPPED", f"from_state:STOPPING pid:{PID}")]
    assert host.events == []


def test_kill_now_on_stopping_does_not_wait() -> None:
    """kill_now() during STOPPING sends SIGKILL now instead of after stopwaitsecs."""
    host, proc = running(stopwaitsecs=10)
    proc.stop()
    host.advance(1)
    proc.kill_now()
    assert host.sent == [(PID, SIGTERM, False), (PID, SIGKILL, False)]
    host.advance(3600)
    assert len(host.sent) == 2
    assert host.take() == [ev("STOPPING", f"from_state:RUNNING pid:{PID}")]


@pytest.mark.parametrize("state", [S.STOPPED, S.EXITED, S.FATAL])
def test_kill_now_on_stopped_states_does_nothing(state: ProcessState) -> None:
    """kill_now() on a process without a pid sends and publishes nothing."""
    host, proc = drive(state)
    proc.kill_now()
    assert host.sent == []
    assert host.events == []


# -- requests per state ------------------------------------------------------------------


@pytest.mark.parametrize("state", DRIVABLE)
def test_signal_only_while_signallable(state: ProcessState) -> None:
    """signal() sends to the pid only in STARTING, RUNNING and STOPPING."""
    host, proc = drive(state)
    sendable = state in (S.STARTING, S.RUNNING, S.STOPPING)
    assert sendable is (state in SIGNALLABLE_STATES)
    assert proc.signal(int(signal.SIGHUP)) is sendable
    assert host.sent == ([(PID, int(signal.SIGHUP), False)] if sendable else [])
    assert host.events == []


@pytest.mark.parametrize(
    ("state", "accepted"),
    [
        (S.STOPPED, True),
        (S.STARTING, False),
        (S.RUNNING, False),
        (S.BACKOFF, True),
        (S.STOPPING, False),
        (S.EXITED, True),
        (S.FATAL, True),
    ],
)
def test_start_per_state(state: ProcessState, accepted: bool) -> None:
    """start() spawns from STOPPED, BACKOFF, EXITED and FATAL, and is refused otherwise."""
    host, proc = drive(state)
    spawned = len(host.spawns)
    assert proc.start() is accepted
    assert len(host.spawns) == spawned + accepted
    assert [e.name for e in host.events] == (["PROCESS_STATE_STARTING"] if accepted else [])


@pytest.mark.parametrize(
    ("state", "accepted", "new_state"),
    [
        (S.STOPPED, False, S.STOPPED),
        (S.STARTING, True, S.STOPPING),
        (S.RUNNING, True, S.STOPPING),
        (S.BACKOFF, True, S.STOPPED),
        (S.STOPPING, False, S.STOPPING),
        (S.EXITED, False, S.EXITED),
        (S.FATAL, False, S.FATAL),
    ],
)
def test_stop_per_state(state: ProcessState, accepted: bool, new_state: ProcessState) -> None:
    """stop() acts on STARTING, RUNNING and BACKOFF, and publishes nothing otherwise."""
    host, proc = drive(state)
    assert proc.stop() is accepted
    assert state_of(proc) is new_state
    assert len(host.events) == int(accepted)


# -- impossible transitions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "to_state"),
    [
        (S.STOPPED, S.RUNNING),
        (S.STOPPED, S.EXITED),
        (S.STOPPED, S.STOPPED),
        (S.STOPPED, S.FATAL),
        (S.RUNNING, S.STARTING),
        (S.RUNNING, S.BACKOFF),
        (S.RUNNING, S.FATAL),
        (S.EXITED, S.RUNNING),
        (S.FATAL, S.STOPPED),
        (S.STOPPING, S.EXITED),
    ],
    ids=lambda v: v.name if isinstance(v, ProcessState) else None,
)
def test_impossible_transition_is_logged_and_ignored(
    state: ProcessState, to_state: ProcessState
) -> None:
    """An impossible transition is logged at error, leaves the state alone, publishes nothing."""
    host, proc = drive(state)
    proc._change(to_state, message="forced by the test")
    assert state_of(proc) is state
    assert host.events == []
    assert host.changes == []
    assert host.logs == [
        ("error", f"victim: impossible transition {state.name} -> {to_state.name} ignored")
    ]


def test_thousands_of_crashes_in_a_row_keep_restarting() -> None:
    """D1: the backoff's 2.0 ** n overflowed at the 1,026th crash; now it stays capped."""
    host, proc = running(backoff_max=0.0, startsecs=0)
    for _ in range(1100):
        proc.exited(exited(1))
        host.advance(0)
        assert state_of(proc) is S.RUNNING
        assert proc.pid > 0
    assert proc.crashes == 1100
    assert not [m for level, m in host.logs if level == "error"]


def test_an_error_while_handling_an_exit_never_leaves_a_live_state_without_pid() -> None:
    """D1's second line: an exception between 'pid = 0' and the EXITED transition used to
    leave RUNNING with pid 0; the process now ends EXITED and says why."""
    host, proc = running()

    def broken() -> float:
        raise RuntimeError("the wall clock failed")

    host.wall = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        proc.exited(exited(1))
    assert state_of(proc) is S.EXITED
    assert proc.pid == 0
    assert any("with no pid after an internal error" in m for _, m in host.logs)
    assert proc.stop() is False
    assert host.sent == []


def test_stop_of_a_running_process_without_pid_signals_nothing() -> None:
    """A stop never asks the host to signal pid 0 (its own process group)."""
    host, proc = running()
    proc.pid = 0  # as a bug elsewhere might leave it
    assert proc.stop() is True
    assert state_of(proc) is S.STOPPED
    assert host.sent == []


def test_any_exception_from_the_host_spawn_is_a_failed_start() -> None:
    """D4's second line: an exception other than SpawnFailed is a BACKOFF with its reason."""
    host, proc = make(startretries=0)

    def broken(process: Process) -> int:
        raise ValueError("embedded null byte")

    host.spawn = broken  # type: ignore[method-assign]
    assert proc.start()
    assert state_of(proc) is S.FATAL
    assert proc.spawnerr == "couldn't spawn victim: ValueError: embedded null byte"
    assert proc.pid == 0


def test_a_spawn_that_returns_no_pid_is_a_failed_start() -> None:
    """A host bug returning pid 0 must not leave STARTING with pid 0 (D1's second line)."""
    host, proc = make(startretries=0)
    host.spawn = lambda process: 0  # type: ignore[method-assign]
    assert proc.start()
    assert state_of(proc) is S.FATAL
    assert "the spawn returned pid 0" in proc.spawnerr
