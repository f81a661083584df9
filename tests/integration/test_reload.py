"""Reloads under stress: SIGHUP storms, configurations that never finish reading, reloads
asked for while another is still being applied (reliability findings D7, D9, D10)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.helpers import INITSUP, alive, descendants, env, wait_for
from tests.integration.test_reload_loader import SLEEPER, stall, stalling, wchan
from tests.supervised import Supervised

Start = Callable[..., Supervised]


def timed_ctl(s: Supervised, *args: str, timeout: float = 30) -> tuple[float, str]:
    """(seconds taken, stdout) of one `initsup ctl ARGS`."""
    began = time.monotonic()
    result = s.ctl(*args, timeout=timeout)
    return time.monotonic() - began, result.stdout


def reloads(s: Supervised) -> int:
    """How many reloads s has logged among the records read so far."""
    return sum(str(r["event"]).startswith("configuration reloaded") for r in s.records)


def cmdlines_with(marker: str) -> list[int]:
    """Pids of every live process whose command line contains marker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


# -- D7: a storm of SIGHUP -------------------------------------------------------------


def test_a_sighup_storm_makes_a_handful_of_reloads(supervise: Start) -> None:
    """1,000 SIGHUP over a second are a reload at once and about one a second after it,
    not one each; ctl answers at once throughout, reread too."""
    s = supervise(ini=SLEEPER)
    s.wait("PROCESS_STATE_RUNNING", program="a")
    began = time.monotonic()
    for i in range(1000):  # over about a second, as a script signalling in a loop does
        os.kill(s.pid, signal.SIGHUP)
        if i % 10 == 9:
            time.sleep(0.01)
    storm = time.monotonic() - began
    assert timed_ctl(s, "status")[0] < 3.0
    took, out = timed_ctl(s, "reread")  # goes before the SIGHUP that waits its turn
    assert took < 3.0 and out == "No config updates to processes\n"
    while reloads(s) < 2:  # the first, and the one the rest of the storm asked for
        s.next()
    assert s.stop() == 0
    print(f"{reloads(s)} reloads for a storm of {storm:.2f} s")
    assert 2 <= reloads(s) <= 2 + int(storm), reloads(s)
    refused = [r["event"] for r in s.records if str(r["event"]).startswith("reload refused")]
    assert refused in ([], ["reload refused: initsup is shutting down"])


# -- D9: a configuration that never finishes reading --------------------------------------


def test_a_stuck_reload_does_not_freeze_initsup(tmp_path: Path, supervise: Start) -> None:
    """SIGHUP while reading the configuration hangs: ctl still answers and SIGTERM still ends
    initsup at once, its loader child with it."""
    s = supervise(ini=SLEEPER, variables=stalling(tmp_path))
    s.wait("PROCESS_STATE_RUNNING", program="a")
    stall(tmp_path)
    os.kill(s.pid, signal.SIGHUP)
    loader = wait_for(lambda: [p for p in descendants(s.pid) if b"sleep" not in _cmd(p)])
    took, out = timed_ctl(s, "status", timeout=10)
    assert took < 3.0 and out.startswith("a ")
    began = time.monotonic()
    assert s.stop(timeout=10) == 0
    assert time.monotonic() - began < 5.0
    wait_for(lambda: not any(alive(p) for p in loader), timeout=5)


def test_a_stuck_reload_is_refused_after_its_deadline(tmp_path: Path, supervise: Start) -> None:
    """The loader is killed at the deadline; SIGHUP and ctl reread say why, nothing stops."""
    s = supervise(ini=SLEEPER, variables=stalling(tmp_path, 1))
    first = s.wait("PROCESS_STATE_RUNNING", program="a")
    stall(tmp_path)
    os.kill(s.pid, signal.SIGHUP)
    refused = s.wait_prefix("reload refused:")
    assert refused["event"] == (
        "reload refused: reading the configuration took longer than 1 s; its reader was killed"
    )
    result = s.ctl("reread")
    assert result.returncode == 2
    assert result.stderr == (
        "ERROR: reading the configuration took longer than 1 s; its reader was killed\n"
    )
    # Killed without waiting for it to die, then reaped by the loop like any child.
    wait_for(lambda: [p for p in descendants(s.pid) if b"sleep" not in _cmd(p)] == [])
    assert s.ctl("pid", "a").stdout.strip() == str(first["pid"])
    assert s.stop() == 0
    assert not [r for r in s.records if str(r["event"]).startswith("reaped unknown pid")]


def _cmd(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# -- D10: a second reload while the first is still stopping a group ------------------------


def test_two_updates_while_a_group_stops_leave_one_copy(tmp_path: Path, supervise: Start) -> None:
    """The findings' reproduction: the second update waits for the first and finds nothing
    more to do; one copy of the new program runs, and none outlives initsup."""
    marker = f"v2\0{tmp_path.name}"  # in the new copy's command line, and in nothing else
    ini = (
        "[program:g]\n"
        """command=sh -c 'trap "sleep 1; exit 0" TERM; while :; do sleep 0.1; done' v1\n"""
        "startsecs=0\n"
    )
    s = supervise(ini=ini)
    s.wait("PROCESS_STATE_RUNNING", program="g")
    (tmp_path / "initsup.ini").write_text(ini.replace(" v1\n", f" v2 {tmp_path.name}\n"))
    first = subprocess.Popen(
        [*INITSUP, "ctl", "update"],
        env=env(INITSUP_SOCKET=s.socket),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        s.wait("PROCESS_STATE_STOPPING", program="g")  # the first update is applying
        second = s.ctl("update")
        out, _ = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert out.splitlines() == ["g: stopped", "g: updated process group"]
    assert second.returncode == 0 and second.stdout == ""
    assert [line.split()[0] for line in s.ctl("status").stdout.splitlines()] == ["g"]
    assert len(cmdlines_with(marker)) == 1
    assert s.stop() == 0
    assert cmdlines_with(marker) == []


def test_a_shutdown_answers_the_reloads_still_waiting(tmp_path: Path, supervise: Start) -> None:
    """SIGTERM while `ctl reread` waits for a stuck reader and `ctl update` waits behind
    it: both are told why, the reader is killed, and initsup ends at once."""
    s = supervise(ini=SLEEPER, variables=stalling(tmp_path))
    s.wait("PROCESS_STATE_RUNNING", program="a")
    stall(tmp_path)
    waiting = [
        subprocess.Popen(
            [*INITSUP, "ctl", command],
            env=env(INITSUP_SOCKET=s.socket),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in ("reread", "update")
    ]
    try:
        loader = wait_for(lambda: [p for p in descendants(s.pid) if b"sleep" not in _cmd(p)])
        assert len(loader) == 1
        # Both clients have sent their requests and wait for the answer; a status
        # answered after that means initsup has read (and queued) both.
        pids = [client.pid for client in waiting]
        wait_for(lambda: all(wchan(pid) == "unix_stream_read_generic" for pid in pids))
        assert timed_ctl(s, "status")[0] < 3.0
        assert s.stop(timeout=10) == 0
        for client in waiting:
            out, err = client.communicate(timeout=10)
            assert (client.returncode, out, err) == (2, "", "ERROR: initsup is shutting down\n")
        wait_for(lambda: not alive(loader[0]), timeout=5)
    finally:
        for client in waiting:
            if client.poll() is None:
                client.kill()
                client.wait()
