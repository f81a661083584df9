"""Listeners that break the protocol, stall or crash: initsup stays responsive, its memory
stays bounded, and every other pool is still served (reference section 3.2 and 3.3).

Memory is judged as behaviour, bounded or not, never as a figure to beat: each check lets a
hostile listener push tens of MiB through initsup (counted in bytes, by the kernel, not by
time) and then asserts that initsup's resident set grew by less than MEMORY_BOUND, far
below what keeping even half of that data would cost, and far above the noise of Python's
allocator and of initsup's own fixed-size buffers (1 MiB for stdout, 64 KiB per read).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.helpers import INITSUP, PYTHON, ROOT, env, proc_status, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]
T = TypeVar("T")
MiB = 1 << 20
LISTENER = f"{PYTHON} {ROOT}/tests/bin/listener.py"
MEMORY_BOUND = 16 * MiB  # growth allowed while tens of MiB of hostile data go through
PUSHED = 48 * MiB  # how much a hostile listener or program sends before memory is judged
UNKNOWN = "has entered the UNKNOWN state and will no longer receive events"
OVERFLOW = "event buffer overflowed, discarding event"

# Never says READY: 64 KiB of junk after 64 KiB of junk, for as long as the pipe takes it.
FLOOD = """\
import os
chunk = bytes(range(256)) * 256
while True:
    os.write(1, chunk)
"""

# Says READY, then exits at once: it never lasts its startsecs.
QUITTER = """\
import sys
sys.stdout.write("READY\\n")
sys.stdout.flush()
sys.exit(1)
"""

# Takes one event, writes down its serial and its own pid, and dies while busy with it.
# Subscribed to PROCESS_GROUP, it only ever sees its own GROUP_ADDED: the same event, given
# back to the pool by each death and delivered to the next process.
POISONED = """\
import json, os, sys
sys.stdout.write("READY\\n")
sys.stdout.flush()
header = sys.stdin.readline()
headers = dict(token.split(":", 1) for token in header.split())
sys.stdin.read(int(headers["len"]))
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps({"serial": headers["serial"], "pid": os.getpid()}) + "\\n")
os._exit(1)
"""

# Takes one event, then floods junk that never ends its answer: a RESULT line with no
# newline, or (with PROMISE=n) a RESULT line promising a body of n bytes that never ends.
BUSY_FLOOD = """\
import os, sys
sys.stdout.write("READY\\n")
sys.stdout.flush()
header = sys.stdin.readline()
headers = dict(token.split(":", 1) for token in header.split())
sys.stdin.read(int(headers["len"]))
if os.environ.get("PROMISE"):
    os.write(1, b"RESULT %d\\n" % int(os.environ["PROMISE"]))
chunk = b"x" * 65536
while True:
    os.write(1, chunk)
"""

# One 60,000-byte line every PAUSE seconds (2 ms by default): each read initsup makes is
# one large PROCESS_LOG event.
CHATTY = """\
import os, time
line = b"y" * 60000 + b"\\n"
pause = float(os.environ.get("PAUSE", "0.002"))
while True:
    os.write(1, line)
    time.sleep(pause)
"""


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return f"{PYTHON} {path}"


def _listener(name: str, command: str, events: str, extra: str = "") -> str:
    return f"[eventlistener:{name}]\ncommand={command}\nevents={events}\n{extra}"


def _ok_pool(record: Path) -> str:
    """A well-behaved pool (listener.py MODE=ok) recording every PROCESS_STATE event."""
    return _listener(
        "good",
        LISTENER,
        "PROCESS_STATE",
        f'environment=RECORD="{record}",MODE="ok"\nstartsecs=0\nbuffer_size=100\n',
    )


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rss(pid: int) -> int:
    """Resident set size of pid, in bytes."""
    return int(proc_status(pid)["VmRSS"].split()[0]) * 1024


def _written(pid: int) -> int:
    """Bytes pid has written so far (all fds), from /proc/PID/io."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "wchar":
            return int(value)
    raise AssertionError(f"no wchar in /proc/{pid}/io")


def _read_for(s: Supervised, seconds: float) -> None:
    """Read initsup's records for about `seconds` (it may be writing without pause)."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            s.next(remaining)
        except AssertionError:
            return  # nothing more within the slice


def _reading(s: Supervised, predicate: Callable[[], T]) -> Callable[[], T]:
    """predicate for wait_for, reading initsup's records first (so its stdout never fills)."""

    def check() -> T:
        _read_for(s, 0.05)
        return predicate()

    return check


def _logged(s: Supervised, text: str) -> list[dict[str, Any]]:
    return [r for r in s.records if text in str(r["event"])]


def _max_growth_while(s: Supervised, done: Callable[[], bool], timeout: float = 60) -> int:
    """Keep reading initsup's records until done(); return the largest RSS growth seen."""
    baseline = peak = _rss(s.pid)

    def sample() -> bool:
        nonlocal peak
        peak = max(peak, _rss(s.pid))
        return done()

    wait_for(_reading(s, sample), timeout=timeout)
    return peak - baseline


def ctl_status(s: Supervised) -> subprocess.CompletedProcess[str]:
    """`initsup ctl status` against s, bounded."""
    return subprocess.run(
        [*INITSUP, "ctl", "status"],
        env=env(INITSUP_SOCKET=s.socket),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_garbage_flood_is_discarded_in_bounded_memory(tmp_path: Path, supervise: Start) -> None:
    """A listener flooding junk instead of READY goes UNKNOWN; initsup drains it, memory flat."""
    flood = _script(tmp_path, "flood", FLOOD)
    s = supervise(ini=_listener("flood", flood, "PROCESS_STATE", "startsecs=0\n"))
    pid = s.wait("PROCESS_STATE_RUNNING", program="flood")["pid"]
    warning = s.wait(
        f"flood: {UNKNOWN}, this usually indicates the process violated the eventlistener protocol"
    )
    assert warning["level"] == "warning"
    start = _written(pid)
    # initsup keeps reading (the flooder would block on a full 64 KiB pipe otherwise) and
    # keeps none of it.
    growth = _max_growth_while(s, lambda: _written(pid) - start >= PUSHED)
    assert growth < MEMORY_BOUND, f"initsup grew by {growth / MiB:.1f} MiB"
    assert len(_logged(s, UNKNOWN)) == 1  # warned once, not once per chunk
    assert s.events("flood") == ["PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"]
    assert ctl_status(s).returncode == 0
    assert s.stop() == 0


def test_stalled_listener_overflows_in_bounded_memory(tmp_path: Path, supervise: Start) -> None:
    """READY, then no answer: with buffer_size=3 the oldest log events are dropped and logged."""
    record = tmp_path / "silent.jsonl"
    chatty = _script(tmp_path, "chatty", CHATTY)
    s = supervise(
        ini=_listener(
            "mute",
            LISTENER,
            "PROCESS_LOG_STDOUT",
            f'environment=RECORD="{record}",MODE="silent"\nstartsecs=0\nbuffer_size=3\n',
        )
        + f"[program:chatty]\ncommand={chatty}\nstartsecs=0\nstdout_events_enabled=true\n"
        "stdout_logfile=/dev/null\n"
    )
    pid = s.wait("PROCESS_STATE_RUNNING", program="chatty")["pid"]
    wait_for(_reading(s, lambda: _logged(s, OVERFLOW)), timeout=30)
    start = _written(pid)
    # Everything chatty writes becomes PROCESS_LOG events (up to 64 KiB each) that the
    # stalled pool must drop: PUSHED bytes of them go by before the memory is judged.
    growth = _max_growth_while(s, lambda: _written(pid) - start >= PUSHED)
    assert growth < MEMORY_BOUND, f"initsup grew by {growth / MiB:.1f} MiB"
    assert s.stop() == 0
    overflows = _logged(s, OVERFLOW)
    assert all(r["level"] == "error" for r in overflows)
    assert all(r["event"].startswith("pool mute event buffer overflowed") for r in overflows)
    discarded = [int(r["event"].rsplit(" ", 1)[1]) for r in overflows]
    # One event per read of at most 64 KiB; one was taken, up to 3 were still waiting.
    assert len(discarded) >= PUSHED // 65536 - 5
    assert discarded == sorted(discarded)  # the oldest goes first, each once
    assert len(set(discarded)) == len(discarded)
    (taken,) = _jsonl(record)  # the one event it took before going silent
    assert taken["headers"]["eventname"] == "PROCESS_LOG_STDOUT"
    assert int(taken["headers"]["serial"]) not in discarded
    # It was never restarted: RUNNING (stuck) until the shutdown stopped it.
    assert s.events("mute") == [
        "PROCESS_STATE_STARTING",
        "PROCESS_STATE_RUNNING",
        "PROCESS_STATE_STOPPING",
        "PROCESS_STATE_STOPPED",
    ]


def test_crash_looping_listeners_back_off_and_give_up(tmp_path: Path, supervise: Start) -> None:
    """Listeners dying at once retry per startretries to FATAL, or restart with growing delays."""
    record = tmp_path / "poisoned.jsonl"
    quitter = _script(tmp_path, "quitter", QUITTER)
    poisoned = _script(tmp_path, "poisoned", POISONED)
    s = supervise(
        ini=_listener("quitter", quitter, "PROCESS_STATE", "startretries=2\n")
        + _listener(
            "poisoned", poisoned, "PROCESS_GROUP", f'environment=RECORD="{record}"\nstartsecs=0\n'
        )
    )
    s.wait("PROCESS_STATE_FATAL", program="quitter")
    assert s.events("quitter") == ["PROCESS_STATE_STARTING", "PROCESS_STATE_BACKOFF"] * 3 + [
        "PROCESS_STATE_FATAL"
    ]
    tries = [
        r["tries"]
        for r in s.records
        if r["event"] == "PROCESS_STATE_BACKOFF" and r.get("program") == "quitter"
    ]
    assert tries == [1, 2, 3]

    # The one that dies while busy: restarted at once, then after 1 s, then 2 s...
    def delays() -> list[float]:
        return [r["delay"] for r in _logged(s, "poisoned: restarting in")]

    wait_for(_reading(s, lambda: len(delays()) >= 2), timeout=15)
    assert delays()[:2] == [1, 2]

    def deliveries() -> list[dict[str, Any]]:
        got = _jsonl(record)
        return got if len(got) >= 3 else []

    got = wait_for(deliveries, timeout=15)
    assert len({e["pid"] for e in got}) == len(got)  # a new process each time
    assert {e["serial"] for e in got} == {got[0]["serial"]}  # the event it died on, again
    assert ctl_status(s).returncode == 3  # quitter is FATAL
    assert s.stop() == 0


@pytest.mark.parametrize(
    "promise",
    [
        pytest.param("", id="result-line-never-ends"),
        pytest.param("99999999999", id="result-body-never-ends"),
    ],
)
def test_busy_listener_flood_is_bounded(tmp_path: Path, supervise: Start, promise: str) -> None:
    """A listener that floods an endless RESULT line or body while BUSY costs bounded memory."""
    busy = _script(tmp_path, "busy", BUSY_FLOOD)
    s = supervise(
        ini=_listener(
            "busy", busy, "PROCESS_STATE", f'environment=PROMISE="{promise}"\nstartsecs=0\n'
        )
    )
    pid = s.wait("PROCESS_STATE_RUNNING", program="busy")["pid"]
    start = _written(pid)
    # 32 MiB, not PUSHED: with the bug each read costs a copy of all that came before.
    growth = _max_growth_while(s, lambda: _written(pid) - start >= 32 * MiB)
    assert growth < MEMORY_BOUND, f"initsup grew by {growth / MiB:.1f} MiB"
    assert ctl_status(s).returncode == 0
    assert s.stop() == 0


def test_good_pool_and_ctl_unharmed_by_hostile_pools(tmp_path: Path, supervise: Start) -> None:
    """With every kind of hostile pool at work, a good pool gets its events and ctl answers."""
    good, silent, poisoned_record = (tmp_path / f"{n}.jsonl" for n in ("good", "silent", "p"))
    s = supervise(
        ini=_ok_pool(good)
        + _listener("flood", _script(tmp_path, "flood", FLOOD), "PROCESS_STATE", "startsecs=0\n")
        + _listener(
            "mute",
            LISTENER,
            "PROCESS_LOG_STDOUT",
            f'environment=RECORD="{silent}",MODE="silent"\nstartsecs=0\nbuffer_size=3\n',
        )
        + _listener(
            "quitter", _script(tmp_path, "quitter", QUITTER), "PROCESS_STATE", "startretries=1\n"
        )
        + _listener(
            "poisoned",
            _script(tmp_path, "poisoned", POISONED),
            "PROCESS_GROUP",
            f'environment=RECORD="{poisoned_record}"\nstartsecs=0\n',
        )
        # Slower here: each event it drops is a record this test has to read.
        + f"[program:chatty]\ncommand={_script(tmp_path, 'chatty', CHATTY)}\nstartsecs=0\n"
        'stdout_events_enabled=true\nstdout_logfile=/dev/null\nenvironment=PAUSE="0.02"\n'
        "[program:victim]\ncommand=sleep 1000\nstartsecs=0\n"
    )
    pid = s.wait("PROCESS_STATE_RUNNING", program="victim")["pid"]
    wait_for(
        _reading(s, lambda: _logged(s, f"flood: {UNKNOWN}") and _logged(s, OVERFLOW)),
        timeout=30,
    )
    os.kill(pid, signal.SIGKILL)

    def about(name: str) -> list[str]:
        """The events the good pool received about process `name`, in order."""
        return [
            e["headers"]["eventname"]
            for e in _jsonl(good)
            if f"processname:{name} " in e["payload"]
        ]

    def settled() -> bool:
        return (
            about("victim")[2:]
            == ["PROCESS_STATE_EXITED", "PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"]
            and "PROCESS_STATE_FATAL" in about("quitter")
            and len(_logged(s, "poisoned: restarting in")) >= 2
        )

    # Meanwhile the flood goes on, the stalled pool overflows, two listeners crash in a
    # loop: the good pool still gets the death and the restart, in order, and the crash
    # loops, while initsup's memory stays put.
    growth = _max_growth_while(s, settled, timeout=30)
    assert growth < MEMORY_BOUND, f"initsup grew by {growth / MiB:.1f} MiB"
    assert about("victim") == [
        "PROCESS_STATE_STARTING",
        "PROCESS_STATE_RUNNING",
        "PROCESS_STATE_EXITED",
        "PROCESS_STATE_STARTING",
        "PROCESS_STATE_RUNNING",
    ]
    exited = next(
        e
        for e in _jsonl(good)
        if e["headers"]["eventname"] == "PROCESS_STATE_EXITED"
        and "processname:victim " in e["payload"]
    )
    assert exited["payload"].endswith(f"expected:0 pid:{pid}")
    serials = [int(e["headers"]["serial"]) for e in _jsonl(good)]
    assert serials == sorted(serials) and len(set(serials)) == len(serials)
    status = ctl_status(s)
    assert status.returncode in (0, 3), status  # 3: quitter is FATAL
    names = {line.split()[0] for line in status.stdout.splitlines()}
    assert {"good", "flood", "mute", "quitter", "poisoned", "chatty", "victim"} <= names
    assert s.stop() == 0
