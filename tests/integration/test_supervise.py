"""Supervisor mode with real processes: the reference's scenarios D1-D9.

Timing checks are lower bounds only (a retry must not come *before* its delay), with the
slack the reference recommends; nothing asserts that something is fast.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import alive, descendants, proc_status, wait_for
from tests.supervised import Supervised, seconds

Start = Callable[..., Supervised]


def _states(s: Supervised, program: str) -> list[tuple[str, object]]:
    """(event, tries/expected) pairs for one program, as read so far."""
    out: list[tuple[str, object]] = []
    for r in s.records:
        if r.get("program") == program and r["event"].startswith("PROCESS_STATE_"):
            out.append((r["event"][14:], r.get("tries", r.get("expected"))))
    return out


def test_d1_quick_exits_back_off_then_fatal(supervise: Start) -> None:
    """Exiting within startsecs retries after 1 s, then 2 s, then goes FATAL (D1)."""
    s = supervise(ini="[program:quick]\ncommand=sh -c 'exit 3'\nstartsecs=1\nstartretries=2\n")
    fatal = s.wait("PROCESS_STATE_FATAL", program="quick", timeout=20)
    assert _states(s, "quick") == [
        ("STARTING", 0),
        ("BACKOFF", 1),
        ("STARTING", 1),
        ("BACKOFF", 2),
        ("STARTING", 2),
        ("BACKOFF", 3),
        ("FATAL", None),
    ]
    assert fatal["from_state"] == "BACKOFF"
    stamps = [
        seconds(r["timestamp"])
        for r in s.records
        if r.get("program") == "quick"
        and r["event"] in ("PROCESS_STATE_BACKOFF", "PROCESS_STATE_STARTING")
    ]
    # BACKOFF n is followed by STARTING no sooner than n seconds later (1 s, then 2 s).
    assert stamps[2] - stamps[1] >= 0.95
    assert stamps[4] - stamps[3] >= 1.95
    backoff = [r for r in s.records if r["event"] == "PROCESS_STATE_BACKOFF"]
    assert backoff[0]["message"] == "exited: quick (exit status 3; not expected)"
    assert s.stop() == 0


def test_d2_exit_within_startsecs_is_unexpected_even_with_code_0(supervise: Start) -> None:
    """exit 0 within startsecs is BACKOFF; startsecs=0 gives RUNNING, EXITED expected (D2)."""
    s = supervise(
        ini=(
            "[program:early]\ncommand=sh -c 'exit 0'\nstartretries=0\n"
            "[program:zero]\ncommand=sh -c 'exit 0'\nstartsecs=0\n"
        )
    )
    s.wait("PROCESS_STATE_FATAL", program="early")
    exited = s.wait("PROCESS_STATE_EXITED", program="zero")
    assert exited["expected"] is True
    assert exited["from_state"] == "RUNNING"
    assert _states(s, "early")[:2] == [("STARTING", 0), ("BACKOFF", 1)]
    assert s.stop() == 0
    assert _states(s, "zero") == [("STARTING", 0), ("RUNNING", None), ("EXITED", True)]


def test_d3_unexpected_death_restarts_expected_exit_does_not(supervise: Start) -> None:
    """kill -9: EXITED expected:0 and a restart; an expected exit: no restart (D3)."""
    s = supervise(
        ini=(
            "[program:victim]\ncommand=sleep 1000\nstartsecs=0\n"
            "[program:done]\ncommand=sh -c 'sleep 0.2; exit 2'\nstartsecs=0\nexitcodes=0,2\n"
        )
    )
    running = s.wait("PROCESS_STATE_RUNNING", program="victim")
    os.kill(running["pid"], signal.SIGKILL)
    exited = s.wait("PROCESS_STATE_EXITED", program="victim")
    assert exited["expected"] is False
    assert exited["signal"] == "SIGKILL"
    assert exited["exit_code"] == 137
    restarted = s.wait("PROCESS_STATE_STARTING", program="victim", from_state="EXITED")
    assert restarted["tries"] == 0
    done = s.wait("PROCESS_STATE_EXITED", program="done")
    assert done["expected"] is True
    assert s.stop() == 0
    assert s.events("done")[-1] == "PROCESS_STATE_EXITED"


def test_d4_autorestart_true_and_false(supervise: Start) -> None:
    """autorestart=true restarts after an expected exit; autorestart=false never restarts (D4)."""
    s = supervise(
        ini=(
            "[program:again]\ncommand=sh -c 'sleep 0.1'\nstartsecs=0\nautorestart=true\n"
            "[program:once]\ncommand=sh -c 'sleep 0.1; exit 9'\nstartsecs=0\nautorestart=false\n"
        )
    )
    s.wait("PROCESS_STATE_EXITED", program="again")
    s.wait("PROCESS_STATE_STARTING", program="again", from_state="EXITED")
    s.wait("PROCESS_STATE_EXITED", program="once", expected=False)
    assert s.stop() == 0
    assert s.events("once").count("PROCESS_STATE_STARTING") == 1


def test_d5_missing_command_is_fatal_and_can_be_restarted_only_by_hand(supervise: Start) -> None:
    """A command that does not exist: BACKOFF with no pid, then FATAL naming it (D5)."""
    s = supervise(ini="[program:ghost]\ncommand=/nonexistent/bin\nstartretries=1\n")
    fatal = s.wait("PROCESS_STATE_FATAL", program="ghost")
    backoffs = [r for r in s.records if r["event"] == "PROCESS_STATE_BACKOFF"]
    assert [r["tries"] for r in backoffs] == [1, 2]
    assert all("pid" not in r for r in backoffs)
    assert backoffs[0]["message"] == "spawnerr: can't find command '/nonexistent/bin'"
    assert fatal["from_state"] == "BACKOFF"
    assert s.stop() == 0


def test_d6_stop_escalates_to_sigkill_after_stopwaitsecs(supervise: Start) -> None:
    """A TERM-ignoring program is SIGKILLed after stopwaitsecs; one STOPPING; exit 137 (D6)."""
    s = supervise(
        ini=(
            "[program:stubborn]\ncommand=sh -c \"trap '' TERM; echo ready; "
            'while :; do sleep 0.1; done"\nstopwaitsecs=1\nstartsecs=0\n'
        )
    )
    running = s.wait("PROCESS_STATE_RUNNING", program="stubborn")
    s.wait("ready", program="stubborn")
    os.kill(s.pid, signal.SIGTERM)
    stopping = s.wait("PROCESS_STATE_STOPPING", program="stubborn")
    killing = s.wait(f"killing 'stubborn' ({running['pid']}) with SIGKILL")
    stopped = s.wait("PROCESS_STATE_STOPPED", program="stubborn")
    assert stopped["from_state"] == "STOPPING"
    assert stopped["pid"] == running["pid"]
    assert stopped["signal"] == "SIGKILL"
    assert seconds(killing["timestamp"]) - seconds(stopping["timestamp"]) >= 0.95
    assert s.finish() == 137
    assert s.events("stubborn").count("PROCESS_STATE_STOPPING") == 1


def test_d7_stopasgroup_takes_the_children_along(supervise: Start) -> None:
    """stopasgroup=true stops a shell's background children too; without it they survive (D7)."""
    script = "command=sh -c 'sleep 1001 & sleep 1002 & echo ready; wait'\nstartsecs=0\n"
    s = supervise(ini=f"[program:grouped]\n{script}stopasgroup=true\n[program:loose]\n{script}")
    pgids = {n: s.wait("PROCESS_STATE_STARTING", program=n)["pid"] for n in ("grouped", "loose")}
    s.wait("ready", program="grouped")
    s.wait("ready", program="loose")

    def sleeps(pgid: int) -> list[int]:
        return [p for p in descendants(s.pid) if _comm(p) == "sleep" and os.getpgid(p) == pgid]

    # Until they have exec'd, the background jobs are still forked shells.
    wait_for(lambda: len(sleeps(pgids["grouped"])) == len(sleeps(pgids["loose"])) == 2)
    grouped, loose = sleeps(pgids["grouped"]), sleeps(pgids["loose"])
    try:
        assert s.stop() == 0
        assert not any(alive(p) for p in grouped)
        assert all(alive(p) for p in loose)
    finally:
        for pid in loose:
            os.kill(pid, signal.SIGKILL)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_d8_priority_order_and_shutdown_tiers(supervise: Start) -> None:
    """Start in priority order; stop in reverse, each priority together, after STOPPING (D8)."""
    loop = "while :; do sleep 0.05; done"
    slow_stop = f"command=sh -c \"trap 'sleep 0.3; exit 0' TERM; echo ready; {loop}\"\n"
    s = supervise(
        ini=(
            f"[program:db]\n{slow_stop}priority=1\n"
            f"[program:api]\n{slow_stop}priority=5\n"
            f"[program:web]\n{slow_stop}priority=10\n"
            f"[program:cache]\n{slow_stop}priority=10\n"
        )
    )
    for name in ("db", "api", "web", "cache"):
        s.wait("ready", program=name)
    starts = [r["program"] for r in s.records if r["event"] == "PROCESS_STATE_STARTING"]
    assert starts == ["db", "api", "cache", "web"]
    assert s.stop() == 0
    order = [
        (r["event"][14:], r["program"])
        for r in s.records
        if r["event"] in ("PROCESS_STATE_STOPPING", "PROCESS_STATE_STOPPED")
    ]
    first_stopped = next(i for i, (e, _) in enumerate(order) if e == "STOPPED")
    assert sorted(p for e, p in order[:first_stopped]) == ["cache", "web"]  # together
    assert order[-4:] == [
        ("STOPPING", "api"),
        ("STOPPED", "api"),
        ("STOPPING", "db"),
        ("STOPPED", "db"),
    ]
    names = [r["event"] for r in s.records]
    assert names.index("SUPERVISOR_STATE_CHANGE_STOPPING") < names.index("PROCESS_STATE_STOPPING")


def test_d9_children_get_supervisor_environment(supervise: Start) -> None:
    """Children get SUPERVISOR_* and INITSUP_* names and their environment= (D9)."""
    s = supervise(
        ini=(
            "[group:pool]\nprograms=envdump\n"
            "[program:envdump]\ncommand=sh -c 'env | sort'\nstartsecs=0\nautorestart=false\n"
            'environment=GREETING="hello, world",EMPTY=""\n'
        )
    )
    s.wait("PROCESS_STATE_EXITED", program="envdump")
    assert s.stop() == 0
    lines = {r["event"] for r in s.records if r.get("stream") == "stdout"}
    for expected in (
        "SUPERVISOR_ENABLED=1",
        "SUPERVISOR_PROCESS_NAME=envdump",
        "SUPERVISOR_GROUP_NAME=pool",
        "INITSUP_PROCESS_NAME=envdump",
        "INITSUP_GROUP_NAME=pool",
        "GREETING=hello, world",
        "EMPTY=",
    ):
        assert expected in lines
    assert f"SUPERVISOR_SERVER_URL=unix://{s.socket}" in lines  # every program, as supervisord


def test_children_start_with_clean_signal_state(supervise: Start) -> None:
    """Supervised children block nothing and do not ignore SIGPIPE or SIGXFSZ."""
    s = supervise(
        ini="[program:s]\ncommand=cat /proc/self/status\nstartsecs=0\nautorestart=false\n"
    )
    s.wait("PROCESS_STATE_EXITED", program="s")
    assert s.stop() == 0
    status = {
        line.split(":")[0]: line.split(":")[1].strip()
        for line in (r["event"] for r in s.records if r.get("stream") == "stdout")
    }
    assert int(status["SigBlk"], 16) == 0
    ignored = int(status["SigIgn"], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert not ignored & (1 << (signal.SIGXFSZ - 1))


def test_each_process_has_its_own_process_group(supervise: Start) -> None:
    """Every supervised process leads its own process group."""
    s = supervise(ini="[program:a]\ncommand=sleep 1000\n[program:b]\ncommand=sleep 1000\n")
    pids = [s.wait("PROCESS_STATE_STARTING", program=n)["pid"] for n in ("a", "b")]
    assert [os.getpgid(p) for p in pids] == pids
    assert os.getpgid(s.pid) not in pids
    assert int(proc_status(pids[0])["PPid"]) == s.pid
    assert s.stop() == 0


def test_orphans_of_programs_are_reaped(supervise: Start) -> None:
    """An orphan left by a program is reaped by initsup and logged as an unknown pid (A5)."""
    s = supervise(ini="[program:parent]\ncommand=sh -c '(sleep 0.2 &); exec sleep 1000'\n")
    reaped = s.wait_prefix("reaped unknown pid")
    wait_for(lambda: not alive(reaped["pid"]))
    assert s.stop() == 0


def test_user_directory_and_umask_apply_to_the_child(tmp_path: Path, supervise: Start) -> None:
    """user=, directory= and umask= are the child's (run as root: user needs privileges)."""
    if os.geteuid() != 0:
        pytest.skip("changing user needs root")
    place = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's tmp_path is closed to nobody
    place.chmod(0o755)
    s = supervise(
        ini=(
            "[program:who]\ncommand=sh -c 'echo $(id -u) $(pwd) $(umask)'\nuser=nobody\n"
            f"directory={place}\numask=027\nstartsecs=0\nautorestart=false\n"
        )
    )
    s.wait("PROCESS_STATE_EXITED", program="who")
    line = next(r["event"] for r in s.records if r.get("stream") == "stdout")
    shutil.rmtree(place)
    uid, cwd, umask = line.split()
    assert int(uid) == 65534
    assert cwd == str(place)
    assert umask == "0027"
    assert s.stop() == 0


def test_missing_directory_is_a_spawn_error(supervise: Start) -> None:
    """A directory that does not exist fails the spawn with supervisord's words, then FATAL."""
    s = supervise(ini="[program:lost]\ncommand=true\ndirectory=/nonexistent/dir\nstartretries=0\n")
    s.wait("PROCESS_STATE_FATAL", program="lost")
    backoff = next(r for r in s.records if r["event"] == "PROCESS_STATE_BACKOFF")
    assert backoff["message"] == "spawnerr: couldn't chdir to /nonexistent/dir: ENOENT"
    assert s.stop() == 0
