"""Event listener pools with real listener processes (reference scenarios E1-E9)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PYTHON, ROOT, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]
LISTENER = f"{PYTHON} {ROOT}/tests/bin/listener.py"
TOKEN = re.compile(r"^[^:\s]+:[^:\s]*$")


def _pool(name: str, events: str, record: Path, mode: str = "ok", extra: str = "") -> str:
    return (
        f"[eventlistener:{name}]\ncommand={LISTENER}\nevents={events}\n"
        f'environment=RECORD="{record}",MODE="{mode}"\nstartsecs=0\n{extra}'
    )


def _received(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def _wait_received(
    record: Path, predicate: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    wait_for(lambda: predicate(_received(record)), timeout=20)
    return _received(record)


def test_e1_e2_headers_and_payloads(tmp_path: Path, supervise: Start) -> None:
    """Header tokens in supervisord's order and form; payloads as supervisord writes them."""
    record = tmp_path / "events.jsonl"
    s = supervise(
        ini=_pool("recorder", "PROCESS_STATE,SUPERVISOR_STATE_CHANGE,PROCESS_GROUP", record)
        + "[program:victim]\ncommand=sh -c 'sleep 0.3; exit 3'\nstartsecs=0\nautorestart=false\n"
    )
    s.wait("PROCESS_STATE_EXITED", program="victim")
    got = _wait_received(
        record, lambda r: any(e["headers"]["eventname"] == "PROCESS_STATE_EXITED" for e in r)
    )
    for entry in got:
        tokens = entry["header"].split()
        assert [t.split(":")[0] for t in tokens] == [
            "ver",
            "server",
            "serial",
            "pool",
            "poolserial",
            "eventname",
            "len",
        ]
        assert all(TOKEN.match(t) for t in tokens)
        assert entry["header"].startswith("ver:3.0 server:supervisor serial:")
        assert int(entry["headers"]["len"]) == len(entry["payload"])
    serials = [int(e["headers"]["serial"]) for e in got]
    assert serials == list(range(serials[0], serials[0] + len(serials)))
    by_name = {e["headers"]["eventname"]: e["payload"] for e in got}
    assert by_name["PROCESS_STATE_STARTING"].startswith("processname:")
    exited = by_name["PROCESS_STATE_EXITED"]
    assert re.fullmatch(
        r"processname:victim groupname:victim from_state:RUNNING expected:0 pid:\d+", exited
    )
    assert by_name["PROCESS_GROUP_ADDED"] == "groupname:victim\n"
    assert by_name["SUPERVISOR_STATE_CHANGE_RUNNING"] == ""
    assert s.stop() == 0


def test_e3_len_counts_characters(tmp_path: Path, supervise: Start) -> None:
    """A PROCESS_LOG payload with non-ASCII text has len in characters, so it stays aligned."""
    record = tmp_path / "events.jsonl"
    s = supervise(
        ini=_pool("logs", "PROCESS_LOG", record)
        + "[program:talker]\ncommand=sh -c 'echo héllo Øresund; exec sleep 1000'\nstartsecs=0\n"
        "stdout_events_enabled=true\n"
    )
    got = _wait_received(record, lambda r: len(r) >= 1)
    (entry,) = got[:1]
    assert entry["headers"]["eventname"] == "PROCESS_LOG_STDOUT"
    assert re.fullmatch(
        r"processname:talker groupname:talker pid:\d+ channel:stdout\nhéllo Øresund\n",
        entry["payload"],
    )
    assert int(entry["headers"]["len"]) == len(entry["payload"]) < len(entry["payload"].encode())
    assert s.stop() == 0


def test_e4_fail_redelivers_the_same_serial(tmp_path: Path, supervise: Start) -> None:
    """RESULT FAIL makes the pool send the same event again, serials unchanged (E4)."""
    record = tmp_path / "events.jsonl"
    s = supervise(
        ini=_pool("failer", "PROCESS_STATE_EXITED", record, mode="fail-once")
        + "[program:victim]\ncommand=sh -c 'sleep 0.2; exit 1'\nstartsecs=0\nautorestart=false\n"
    )
    got = _wait_received(record, lambda r: len(r) >= 2)
    first, second = got[:2]
    assert first["headers"]["serial"] == second["headers"]["serial"]
    assert first["headers"]["poolserial"] == second["headers"]["poolserial"]
    assert s.wait_prefix("failer: event was rejected")["level"] == "warning"
    assert s.stop() == 0


def test_e4_garbage_makes_the_listener_unknown(tmp_path: Path, supervise: Start) -> None:
    """A listener that says something other than READY gets no events and stays RUNNING."""
    record = tmp_path / "events.jsonl"
    s = supervise(ini=_pool("garbage", "PROCESS_STATE", record, mode="garbage"))
    warning = s.wait_prefix("garbage: has entered the UNKNOWN state")
    assert warning["level"] == "warning"
    assert warning["event"].startswith(
        "garbage: has entered the UNKNOWN state and will no longer receive events"
    )
    assert not _received(record)
    assert s.events("garbage")[-1] == "PROCESS_STATE_RUNNING"
    assert s.stop() == 0


def test_e5_listener_dying_while_busy_gets_the_event_again(
    tmp_path: Path, supervise: Start
) -> None:
    """A listener that exits while BUSY: its successor receives the same serial (E5)."""
    record = tmp_path / "events.jsonl"
    s = supervise(
        ini=_pool("dier", "PROCESS_STATE_EXITED", record, mode="die-once")
        + "[program:victim]\ncommand=sh -c 'sleep 0.2; exit 1'\nstartsecs=0\nautorestart=false\n"
    )
    got = _wait_received(record, lambda r: len(r) >= 2)
    assert got[0]["headers"]["serial"] == got[1]["headers"]["serial"]
    assert got[0]["pid"] != got[1]["pid"]
    assert s.stop() == 0


def test_e6_one_event_per_listener_fifo(tmp_path: Path, supervise: Start) -> None:
    """With numprocs=2 every event reaches exactly one listener, in order (E6)."""
    record = tmp_path / "events.jsonl"
    s = supervise(
        ini=_pool(
            "pool", "PROCESS_STATE", record, extra="numprocs=2\nprocess_name=pool_%(process_num)d\n"
        )
        + "[program:a]\ncommand=sleep 1000\nstartsecs=0\n"
        + "[program:b]\ncommand=sleep 1000\nstartsecs=0\n"
    )
    s.wait("PROCESS_STATE_RUNNING", program="a")
    s.wait("PROCESS_STATE_RUNNING", program="b")

    def all_delivered() -> bool:
        got = _received(record)
        serials = sorted(int(e["headers"]["serial"]) for e in got)
        names = [(e["headers"]["eventname"], e["payload"]) for e in got]
        running_b = any(n == "PROCESS_STATE_RUNNING" and "processname:b " in p for n, p in names)
        return running_b and serials == list(range(len(serials)))

    wait_for(all_delivered)  # every event so far, each exactly once
    got = _received(record)
    for pid in {e["pid"] for e in got}:
        mine = [int(e["headers"]["serial"]) for e in got if e["pid"] == pid]
        assert mine == sorted(mine)  # each listener gets them in order
    assert s.stop() == 0
    serials = [int(e["headers"]["serial"]) for e in _received(record)]
    assert len(serials) == len(set(serials))  # never one event to two listeners


def test_e7_overflow_drops_the_oldest(tmp_path: Path, supervise: Start) -> None:
    """buffer_size=2 with a slow listener: the oldest waiting events are discarded, logged (E7)."""
    record = tmp_path / "events.jsonl"
    talker = "command=sh -c 'for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done; exec sleep 1000'\n"
    s = supervise(
        ini=_pool("slow", "PROCESS_LOG_STDOUT", record, mode="slow", extra="buffer_size=2\n")
        + f"[program:talker]\n{talker}startsecs=0\nstdout_events_enabled=true\n"
    )
    s.wait_prefix("pool slow event buffer overflowed")

    def accounted() -> bool:
        s.read_available()
        delivered = [int(e["headers"]["serial"]) for e in _received(record)]
        every = sorted(delivered + _discarded(s))
        return bool(delivered) and every == list(range(every[-1] + 1)) and every[-1] in delivered

    wait_for(accounted, timeout=20)  # the slow listener takes 1 s per event
    delivered = [int(e["headers"]["serial"]) for e in _received(record)]
    discarded = _discarded(s)
    assert discarded and delivered[0] == 0
    assert max(discarded) < delivered[-1]  # the newest are kept, the oldest dropped
    assert all(r["level"] == "error" for r in s.records if "overflowed" in str(r["event"]))
    assert s.stop() == 0


def _discarded(s: Supervised) -> list[int]:
    return [
        int(str(r["event"]).rsplit(" ", 1)[1])
        for r in s.records
        if "event buffer overflowed, discarding event" in str(r["event"])
    ]


def test_e8_a_failure_stays_in_its_pool(tmp_path: Path, supervise: Start) -> None:
    """A FAIL in one pool never makes another pool see that event (E8, unlike supervisord)."""
    failing, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    s = supervise(
        ini=_pool("a", "PROCESS_STATE_EXITED", failing, mode="fail-once")
        + _pool("b", "PROCESS_GROUP", other)
        + "[program:victim]\ncommand=sh -c 'sleep 0.2; exit 1'\nstartsecs=0\nautorestart=false\n"
    )
    _wait_received(failing, lambda r: len(r) >= 2)
    time.sleep(0.3)
    assert s.stop() == 0
    assert {e["headers"]["eventname"] for e in _received(other)} <= {"PROCESS_GROUP_ADDED"}


def test_e9_abstract_subscriptions(tmp_path: Path, supervise: Start) -> None:
    """EVENT gets every type; PROCESS_STATE gets every PROCESS_STATE_* (E9)."""
    everything, states = tmp_path / "all.jsonl", tmp_path / "states.jsonl"
    s = supervise(
        ini=_pool("all", "EVENT", everything)
        + _pool("states", "PROCESS_STATE", states)
        + "[program:victim]\ncommand=sh -c 'sleep 0.2; exit 1'\nstartsecs=0\nautorestart=false\n"
    )
    _wait_received(
        states, lambda r: any(e["headers"]["eventname"] == "PROCESS_STATE_EXITED" for e in r)
    )
    _wait_received(
        everything, lambda r: any(e["headers"]["eventname"] == "PROCESS_STATE_EXITED" for e in r)
    )
    assert s.stop() == 0
    names_all = {e["headers"]["eventname"] for e in _received(everything)}
    names_states = {e["headers"]["eventname"] for e in _received(states)}
    assert {
        "PROCESS_GROUP_ADDED",
        "SUPERVISOR_STATE_CHANGE_RUNNING",
        "PROCESS_STATE_EXITED",
    } <= names_all
    assert all(n.startswith("PROCESS_STATE_") for n in names_states)


@pytest.mark.parametrize("logfile", ["", "stdout_logfile=NONE\n"])
def test_process_communication_capture(tmp_path: Path, supervise: Start, logfile: str) -> None:
    """Text between the capture tokens becomes PROCESS_COMMUNICATION_STDOUT, as supervisord's,
    also when the program's output itself goes nowhere."""
    record = tmp_path / "events.jsonl"
    tokens = "<!--XSUPERVISOR:BEGIN-->hello comm<!--XSUPERVISOR:END-->"
    s = supervise(
        ini=_pool("comm", "PROCESS_COMMUNICATION", record)
        + f'[program:talker]\ncommand=sh -c \'printf "before{tokens}after\\\\n"; '
        "exec sleep 1000'\nstartsecs=0\nstdout_capture_maxbytes=1KB\n" + logfile
    )
    (entry,) = _wait_received(record, lambda r: len(r) >= 1)[:1]
    assert entry["headers"]["eventname"] == "PROCESS_COMMUNICATION_STDOUT"
    assert re.fullmatch(
        r"processname:talker groupname:talker pid:\d+\nhello comm", entry["payload"]
    )
    record_on_stream = s.wait("PROCESS_COMMUNICATION_STDOUT", program="talker")
    assert record_on_stream["data"] == "hello comm"
    assert s.stop() == 0


def test_remote_communication_and_tick(tmp_path: Path, supervise: Start) -> None:
    """`initsup ctl sendcomm` gives REMOTE_COMMUNICATION; TICK_5 comes on a 5 s boundary."""
    import subprocess

    from tests.helpers import INITSUP, env

    record = tmp_path / "events.jsonl"
    s = supervise(ini=_pool("remote", "REMOTE_COMMUNICATION,TICK_5", record))
    s.wait("PROCESS_STATE_RUNNING", program="remote")
    sent = subprocess.run(
        [*INITSUP, "ctl", "sendcomm", "mytype", "my data line"],
        env=env(INITSUP_SOCKET=s.socket),
        timeout=30,
    )
    assert sent.returncode == 0
    got = _wait_received(record, lambda r: any(e["headers"]["eventname"] == "TICK_5" for e in r))
    remote = next(e for e in got if e["headers"]["eventname"] == "REMOTE_COMMUNICATION")
    assert remote["payload"] == "type:mytype\nmy data line"
    assert remote["headers"]["len"] == "24"  # the reference's example
    tick = next(e for e in got if e["headers"]["eventname"] == "TICK_5")
    when = int(tick["payload"].removeprefix("when:"))
    assert tick["payload"] == f"when:{when}" and when % 5 == 0
    assert s.stop() == 0


def test_listeners_hear_the_shutdown_before_they_are_stopped(
    tmp_path: Path, supervise: Start
) -> None:
    """At shutdown a listener is stopped only once it has taken the events of the stops
    before its own: each program's STOPPING and STOPPED, and initsup's STOPPING."""
    record = tmp_path / "events.jsonl"
    programs = "".join(
        f"[program:p{n}]\ncommand=sleep 60\nstartsecs=0\n" for n in range(5)
    )  # stopped in a moment by SIGTERM
    # Room for every event of the start and the stop: none is lost to an overflow.
    pool = _pool(
        "recorder", "PROCESS_STATE,SUPERVISOR_STATE_CHANGE", record, extra="buffer_size=50\n"
    )
    s = supervise(ini=pool + programs)
    for n in range(5):
        s.wait("PROCESS_STATE_RUNNING", program=f"p{n}")
    assert s.stop() == 0
    names = [(e["headers"]["eventname"], e["payload"].split(" ")[0]) for e in _received(record)]
    for n in range(5):
        assert ("PROCESS_STATE_STOPPING", f"processname:p{n}") in names
        assert ("PROCESS_STATE_STOPPED", f"processname:p{n}") in names
    assert ("SUPERVISOR_STATE_CHANGE_STOPPING", "") in names
