"""The give-up policy on a fake host: max_tries and max_tries_if_coredumped, and the facts
a Process keeps of its ends for alerts (restarts, last_signal, last_core_dumped).

meetbill/supervise's keys: at most N automatic restarts within max_tries_window seconds
(so at most 1 + N spawns in any window), then FATAL instead of the next restart; the
core-dump variant counts only ends that dumped core.  supervisord's startretries still
applies first to starts that fail.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from initsup.events import Event
from initsup.model import ProcessConfig
from initsup.process import Process, SpawnFailed
from initsup.states import ProcessState
from tests.fakes import FakeHost, exited, killed

S = ProcessState
SIGSEGV = int(signal.SIGSEGV)
DUMPED = 0x80 | SIGSEGV  # the wait status of a SIGSEGV that dumped core


def make(**options: Any) -> tuple[FakeHost, Process]:
    """A process of program `web` that crashes after RUNNING and is restarted at once."""
    options = {"startsecs": 0, "autorestart": "true", "backoff_max": 0.0, **options}
    host = FakeHost()
    return host, Process(ProcessConfig("web", ["/usr/bin/web"], **options), host)


def state_of(proc: Process) -> ProcessState:
    """The process's state (a call, so that mypy does not narrow it across transitions)."""
    return proc.state


def crash_until_fatal(host: FakeHost, proc: Process, status: int, most: int = 50) -> int:
    """Feed the same end to every spawn until FATAL (at most `most` ends); the ends fed."""
    for count in range(1, most + 1):
        proc.exited(status)
        host.advance(0)
        if state_of(proc) is S.FATAL:
            return count
    return most


def alive(proc: Process) -> bool:
    """Spawned and not given up: STARTING, or RUNNING once startsecs=0 has run."""
    return proc.state in (S.STARTING, S.RUNNING)


def fatal_event(host: FakeHost) -> Event:
    found = [e for e in host.events if e.name == "PROCESS_STATE_FATAL"]
    assert len(found) == 1
    return found[0]


# -- max_tries ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_tries", [1, 2, 3, 5])
def test_max_tries_n_allows_exactly_1_plus_n_spawns_then_fatal(max_tries: int) -> None:
    host, proc = make(max_tries=max_tries)
    assert proc.start()
    assert crash_until_fatal(host, proc, exited(1)) == max_tries + 1
    assert len(host.spawns) == max_tries + 1
    assert proc.restarts == max_tries
    host.advance(3600)
    assert len(host.spawns) == max_tries + 1  # FATAL is for good: nothing pending
    assert host.pending_timers() == []


def test_the_refused_exit_is_published_then_fatal_from_exited() -> None:
    host, proc = make(max_tries=3)
    proc.start()
    for _ in range(3):
        proc.exited(exited(1))
    host.advance(0)  # startsecs=0: RUNNING
    host.forget()
    proc.exited(exited(1))
    pid = host.spawned_pids()[-1]
    assert host.history() == [
        (
            "PROCESS_STATE_EXITED",
            f"processname:web groupname:web from_state:RUNNING expected:0 pid:{pid}",
        ),
        ("PROCESS_STATE_FATAL", "processname:web groupname:web from_state:EXITED"),
    ]
    fatal = host.events[1]
    assert fatal.level == "error"
    assert fatal.fields["from_state"] == "EXITED"
    assert fatal.fields["gave_up"] == "max_tries"
    assert fatal.fields["message"] == (
        "gave up: web entered FATAL state, 4 restarts within 60 s (max_tries=3)"
    )
    assert proc.spawnerr == "4 restarts within 60 s (max_tries=3)"  # `ctl status` says it
    # The EXITED change still expected a restart; FATAL is the end for good.
    assert host.changes == ["EXITED", "FATAL"]
    assert host.ended == [False, True]
    assert proc.ended_for_good


def test_crashes_spread_beyond_the_window_keep_restarting() -> None:
    host, proc = make(max_tries=1, max_tries_window=10)
    proc.start()
    for _ in range(20):
        proc.exited(exited(1))
        assert alive(proc)
        host.advance(10)  # exactly the window: the previous restart is out of it
    assert len(host.spawns) == 21
    assert proc.restarts == 20


def test_two_crashes_inside_the_window_are_too_many_for_max_tries_1() -> None:
    host, proc = make(max_tries=1, max_tries_window=10)
    proc.start()
    proc.exited(exited(1))
    host.advance(9.9)
    proc.exited(exited(1))
    assert state_of(proc) is S.FATAL
    assert fatal_event(host).fields["message"] == (
        "gave up: web entered FATAL state, 2 restarts within 10 s (max_tries=1)"
    )


def test_the_window_slides_restarts_older_than_it_drop_out() -> None:
    """max_tries=2 in 10 s: crashes at 0, 6, 12, 18... each see one restart within 10 s."""
    host, proc = make(max_tries=2, max_tries_window=10)
    proc.start()
    for _ in range(10):
        proc.exited(exited(1))
        host.advance(6)
    assert alive(proc)
    host.advance(0)
    proc.exited(exited(1))
    host.advance(1)
    proc.exited(exited(1))  # three restarts within 7 s: the third is refused
    assert state_of(proc) is S.FATAL


def test_restarts_count_from_when_they_are_spawned() -> None:
    """A retry spawned at 1 s is within 10 s of a crash at 10.5 s, although the exit that
    asked for it came at 0 s: max_tries=1 refuses that crash's restart."""
    host, proc = make(max_tries=1, max_tries_window=10, startsecs=5, startretries=5)
    proc.start()
    proc.exited(exited(1))  # quick: BACKOFF, retried 1 s later
    host.advance(1)
    host.advance(9.5)  # RUNNING after 5 s; now 10.5 s
    assert state_of(proc) is S.RUNNING
    proc.exited(exited(1))
    assert state_of(proc) is S.FATAL
    assert fatal_event(host).fields["from_state"] == "EXITED"


def test_the_window_ends_when_the_restart_is_due() -> None:
    """A retry due 2 s after its quick exit is 2.2 s after the last restart: outside a 2 s
    window, although the exit itself came within it."""
    host, proc = make(max_tries=1, max_tries_window=2, startsecs=5, startretries=5)
    proc.start()
    proc.exited(exited(1))  # BACKOFF tries:1, retried at 1 s (restart 1)
    host.advance(1.2)
    proc.exited(exited(1))  # BACKOFF tries:2: its retry is due at 3.2 s
    assert state_of(proc) is S.BACKOFF
    host.advance(2)
    assert len(host.spawns) == 3
    proc.exited(exited(1))  # tries:3, due at 6.2 s: 3 s after restart 2, allowed again
    assert state_of(proc) is S.BACKOFF


def test_with_the_default_backoff_the_delays_count_in_the_window() -> None:
    """Restarts after 0, 1, 2, 4 s (backoff_max=60): max_tries=3 gives up at the 4th crash."""
    host, proc = make(max_tries=3, backoff_max=60.0)
    proc.start()
    proc.exited(exited(1))  # restarted at once
    for delay in (1, 2):
        proc.exited(exited(1))
        host.advance(delay)
    assert len(host.spawns) == 4
    proc.exited(exited(1))
    assert state_of(proc) is S.FATAL
    assert host.pending_timers() == []


def test_max_tries_0_is_no_limit() -> None:
    host, proc = make()
    proc.start()
    assert crash_until_fatal(host, proc, exited(1), most=500) == 500
    assert alive(proc)
    assert proc.restarts == 500


def test_no_restart_asked_for_is_no_give_up() -> None:
    """An expected exit under autorestart=unexpected ends EXITED, not FATAL."""
    host, proc = make(max_tries=1, autorestart="unexpected")
    proc.start()
    proc.exited(exited(1))
    proc.exited(exited(0))
    assert state_of(proc) is S.EXITED
    assert all(e.name != "PROCESS_STATE_FATAL" for e in host.events)


def test_no_give_up_while_shutting_down() -> None:
    host, proc = make(max_tries=1)
    proc.start()
    proc.exited(exited(1))
    host.shutting_down = True
    proc.exited(exited(1))
    assert state_of(proc) is S.EXITED
    assert all(e.name != "PROCESS_STATE_FATAL" for e in host.events)


# -- BACKOFF retries count too ------------------------------------------------------------


def test_backoff_retries_are_automatic_restarts_for_max_tries() -> None:
    """startretries=3 would allow 4 spawns; max_tries=1 refuses the second retry."""
    host, proc = make(max_tries=1, startsecs=1, startretries=3)
    proc.start()
    proc.exited(exited(1))  # BACKOFF tries:1, retried after 1 s
    host.advance(1)
    assert proc.restarts == 1
    host.forget()
    proc.exited(exited(1))  # BACKOFF tries:2: that retry would be restart 2
    assert [e.name for e in host.events] == ["PROCESS_STATE_BACKOFF", "PROCESS_STATE_FATAL"]
    fatal = host.events[1]
    assert fatal.fields["from_state"] == "BACKOFF"
    assert fatal.fields["gave_up"] == "max_tries"
    assert len(host.spawns) == 2
    host.advance(3600)
    assert len(host.spawns) == 2


def test_restarts_of_both_paths_share_one_history() -> None:
    """A retry from BACKOFF and a restart after RUNNING are both counted for max_tries=2."""
    host, proc = make(max_tries=2, startsecs=1)
    proc.start()
    proc.exited(exited(1))  # quick: BACKOFF, retry 1 s later (restart 1)
    host.advance(1)
    host.advance(1)  # RUNNING
    proc.exited(exited(1))  # after RUNNING: restarted at once (restart 2)
    assert alive(proc)
    proc.exited(exited(1))  # quick again: the retry would be restart 3
    assert state_of(proc) is S.FATAL
    assert len(host.spawns) == 3


def test_startretries_still_applies_first() -> None:
    """startretries=1 is used up before max_tries=5 matters: supervisord's FATAL, unchanged."""
    host, proc = make(max_tries=5, startsecs=1, startretries=1)
    proc.start()
    proc.exited(exited(1))
    host.advance(1)
    proc.exited(exited(1))
    fatal = fatal_event(host)
    assert "gave_up" not in fatal.fields
    assert fatal.fields["message"] == (
        "gave up: web entered FATAL state, too many start retries too quickly"
    )


def test_failed_spawns_retried_count_towards_max_tries() -> None:
    host, proc = make(max_tries=1, startretries=5)
    host.fail_spawns = [SpawnFailed(f"couldn't spawn web: nope {n}", 127) for n in range(5)]
    proc.start()  # fails: BACKOFF tries:1, retry after 1 s (restart 1)
    host.advance(1)  # fails again: the next retry would be restart 2
    assert state_of(proc) is S.FATAL
    assert fatal_event(host).fields["gave_up"] == "max_tries"
    assert proc.exit_code == 127


# -- max_tries_if_coredumped ------------------------------------------------------------


def test_max_tries_if_coredumped_1_gives_up_at_the_second_dump() -> None:
    host, proc = make(max_tries_if_coredumped=1)
    proc.start()
    assert crash_until_fatal(host, proc, DUMPED) == 2
    fatal = fatal_event(host)
    assert fatal.fields["gave_up"] == "max_tries_if_coredumped"
    assert fatal.fields["message"] == (
        "gave up: web entered FATAL state, 2 exits that dumped core within 60 s"
        " (max_tries_if_coredumped=1)"
    )
    assert proc.exit_code == 128 + SIGSEGV


@pytest.mark.parametrize("status", [exited(1), killed(SIGSEGV), killed(signal.SIGKILL)])
def test_ends_without_a_core_dump_do_not_count_for_it(status: int) -> None:
    host, proc = make(max_tries_if_coredumped=1)
    proc.start()
    assert crash_until_fatal(host, proc, status, most=30) == 30
    assert alive(proc)


def test_ordinary_ends_between_dumps_do_not_reset_the_dump_count() -> None:
    host, proc = make(max_tries_if_coredumped=1, max_tries_window=30)
    proc.start()
    proc.exited(DUMPED)
    for _ in range(5):
        host.advance(1)
        proc.exited(exited(1))
    assert alive(proc)
    proc.exited(DUMPED)
    assert state_of(proc) is S.FATAL


def test_dumps_further_apart_than_the_window_keep_restarting() -> None:
    host, proc = make(max_tries_if_coredumped=1, max_tries_window=5)
    proc.start()
    for _ in range(10):
        proc.exited(DUMPED)
        host.advance(5)
    assert alive(proc)


def test_a_dump_under_both_limits_names_the_core_limit() -> None:
    host, proc = make(max_tries=1, max_tries_if_coredumped=1)
    proc.start()
    assert crash_until_fatal(host, proc, DUMPED) == 2
    assert fatal_event(host).fields["gave_up"] == "max_tries_if_coredumped"


def test_dumps_count_for_max_tries_too() -> None:
    host, proc = make(max_tries=2, max_tries_if_coredumped=5)
    proc.start()
    assert crash_until_fatal(host, proc, DUMPED) == 3
    assert fatal_event(host).fields["gave_up"] == "max_tries"


def test_a_quick_dump_in_backoff_counts_for_the_core_limit() -> None:
    host, proc = make(max_tries_if_coredumped=1, startsecs=1, startretries=5)
    proc.start()
    proc.exited(DUMPED)  # BACKOFF; the retry is the first restart after a dump
    host.advance(1)
    proc.exited(DUMPED)
    fatal = fatal_event(host)
    assert (fatal.fields["from_state"], fatal.fields["gave_up"]) == (
        "BACKOFF",
        "max_tries_if_coredumped",
    )
    backoff = [e for e in host.events if e.name == "PROCESS_STATE_BACKOFF"]
    assert [e.fields.get("core_dumped") for e in backoff] == [True, True]


# -- a start by hand ---------------------------------------------------------------------


def test_a_start_by_hand_after_fatal_counts_afresh() -> None:
    host, proc = make(max_tries=2)
    proc.start()
    assert crash_until_fatal(host, proc, exited(1)) == 3
    assert proc.start()
    assert alive(proc)
    assert crash_until_fatal(host, proc, exited(1)) == 3
    assert len(host.spawns) == 6
    assert proc.restarts == 4  # starts by hand are not restarts, and reset nothing of it


def test_a_start_by_hand_of_an_exited_process_counts_afresh() -> None:
    _host, proc = make(max_tries=1, autorestart="unexpected")
    proc.start()
    proc.exited(exited(1))  # restart 1
    proc.exited(exited(0))  # expected: EXITED for good
    assert proc.start()
    proc.exited(exited(1))  # the history was cleared: restarted
    assert alive(proc)


def test_the_core_history_is_cleared_by_a_start_by_hand_too() -> None:
    host, proc = make(max_tries_if_coredumped=1)
    proc.start()
    assert crash_until_fatal(host, proc, DUMPED) == 2
    proc.start()
    proc.exited(DUMPED)
    assert alive(proc)


# -- the facts kept for alerts ----------------------------------------------------------


def test_restarts_counts_automatic_restarts_only() -> None:
    host, proc = make(startsecs=1, autorestart="unexpected")
    proc.start()
    assert proc.restarts == 0
    proc.exited(exited(1))  # BACKOFF, retried (1)
    host.advance(1)
    host.advance(1)  # RUNNING
    proc.exited(exited(1))  # restarted at once (2)
    host.advance(1)
    proc.exited(exited(0))  # expected: no restart
    assert proc.restarts == 2
    proc.start()  # by hand: not counted, not reset
    assert proc.restarts == 2


def test_last_signal_and_core_dumped_follow_the_last_end() -> None:
    host, proc = make(startretries=5)
    proc.start()
    assert (proc.last_signal, proc.last_core_dumped) == (0, False)
    proc.exited(DUMPED)
    assert (proc.last_signal, proc.last_core_dumped) == (SIGSEGV, True)
    proc.exited(killed(signal.SIGTERM))
    assert (proc.last_signal, proc.last_core_dumped) == (signal.SIGTERM, False)
    proc.exited(DUMPED)
    proc.exited(exited(3))
    assert (proc.last_signal, proc.last_core_dumped) == (0, False)
    proc.exited(DUMPED)
    host.fail_spawns = [SpawnFailed("couldn't spawn web: gone", 127)]
    proc.stop()
    proc.exited(killed(signal.SIGTERM))
    proc.start()  # fails: a failed start has no signal and no core
    assert (proc.last_signal, proc.last_core_dumped) == (0, False)


def test_the_exited_record_says_core_dumped_only_when_it_did() -> None:
    host, proc = make()
    proc.start()
    proc.exited(DUMPED)
    proc.exited(exited(1))
    proc.exited(killed(SIGSEGV))
    ends = [e.fields for e in host.events if e.name == "PROCESS_STATE_EXITED"]
    assert [f.get("core_dumped") for f in ends] == [True, None, None]
    assert ends[0]["signal"] == "SIGSEGV" and ends[0]["exit_code"] == 139
    assert ends[0]["message"] == "exited: web (terminated by SIGSEGV (core dumped); not expected)"


@pytest.mark.parametrize(("max_tries", "spawns"), [(1, 2), (4, 5), (5, 6), (6, None)])
def test_with_the_default_backoff_max_tries_6_never_stops_an_instant_crasher(
    max_tries: int, spawns: int | None
) -> None:
    """supervising.md's arithmetic: restarts at 0, 1, 3, 7, 15, 31, 63, 123... s put at
    most 6 of them in any 60 s, so max_tries=5 gives up at the 6th spawn and 6 never."""
    host, proc = make(max_tries=max_tries, backoff_max=60.0)
    proc.start()
    for _ in range(100):
        host.advance(0)
        proc.exited(exited(1))
        if state_of(proc) is S.FATAL:
            break
        host.advance(host.pending_timers()[0] - host.clock.now if host.pending_timers() else 0)
    if spawns is None:
        assert alive(proc)
        assert len(host.spawns) == 101
    else:
        assert state_of(proc) is S.FATAL
        assert len(host.spawns) == spawns
