"""What initsup does beyond supervisord: env-only containers, essential programs, the main
program, capped restart backoff, targeted reloads, forwarded signals, bad configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.helpers import INITSUP, Proc, env, proc_status, signal_set, wait_for
from tests.supervised import Supervised, seconds

Start = Callable[..., Supervised]


def test_container_from_environment_variables_alone(supervise: Start) -> None:
    """Three programs from INITSUP_PROGRAM_* alone; kill -9 of one: EXITED, then a restart."""
    s = supervise(
        variables={
            "INITSUP_PROGRAM_WEB": "sh -c 'echo web up; exec sleep 1000'",
            "INITSUP_PROGRAM_WORKER": "sh -c 'echo worker up; exec sleep 1000'",
            "INITSUP_PROGRAM_CRON": "sh -c 'echo cron up; exec sleep 1000'",
            "INITSUP_PROGRAM_WEB__PRIORITY": "10",
            "INITSUP_PROGRAM_WORKER__STARTSECS": "0",
        }
    )
    for name in ("web", "worker", "cron"):
        s.wait(f"{name} up", program=name)
    running = s.wait("PROCESS_STATE_RUNNING", program="worker")
    os.kill(running["pid"], signal.SIGKILL)
    exited = s.wait("PROCESS_STATE_EXITED", program="worker")
    assert (exited["expected"], exited["signal"]) == (False, "SIGKILL")
    s.wait("PROCESS_STATE_STARTING", program="worker", from_state="EXITED")
    s.wait("worker up", program="worker")
    starts = [r["program"] for r in s.records if r["event"] == "PROCESS_STATE_STARTING"]
    assert starts[0] == "web"  # priority 10 before the default 999
    assert s.stop() == 0


def test_killing_an_essential_program_ends_initsup_with_its_code(supervise: Start) -> None:
    """When an essential program is killed, the rest are stopped and initsup exits 128+9."""
    s = supervise(
        variables={
            "INITSUP_PROGRAM_APP": "sleep 1000",
            "INITSUP_PROGRAM_APP__ESSENTIAL": "true",
            "INITSUP_PROGRAM_SIDECAR": "sleep 1000",
        }
    )
    app = s.wait("PROCESS_STATE_RUNNING", program="app")
    s.wait("PROCESS_STATE_RUNNING", program="sidecar")
    os.kill(app["pid"], signal.SIGKILL)
    assert s.finish() == 137
    assert "PROCESS_STATE_STOPPED" in s.events("sidecar")
    assert s.events("app")[-1] == "PROCESS_STATE_EXITED"


def test_essential_program_exit_code_is_initsups(supervise: Start) -> None:
    """An essential program that exits 5 ends initsup with 5, after the others stopped."""
    s = supervise(
        ini=(
            "[program:job]\ncommand=sh -c 'sleep 0.3; exit 5'\nessential=true\nstartsecs=0\n"
            "[program:helper]\ncommand=sleep 1000\n"
        )
    )
    assert s.finish() == 5
    assert s.events("helper")[-1] == "PROCESS_STATE_STOPPED"


def test_essential_program_that_goes_fatal_ends_initsup(supervise: Start) -> None:
    """An essential program that cannot start (FATAL) ends initsup with 127."""
    s = supervise(
        ini="[program:app]\ncommand=/nonexistent\nessential=true\nstartretries=0\n"
        "[program:other]\ncommand=sleep 1000\n"
    )
    assert s.finish() == 127


def test_main_program_after_dashdash_is_essential(supervise: Start) -> None:
    """`initsup -c FILE -- CMD`: CMD's end ends initsup with CMD's code."""
    s = supervise(
        ini="[program:sidecar]\ncommand=sleep 1000\n",
        args=["--", "sh", "-c", "sleep 0.5; exit 7"],
    )
    s.wait("PROCESS_STATE_STARTING", program="sidecar")
    assert s.finish() == 7
    assert s.events("main")[-1] == "PROCESS_STATE_EXITED"
    assert s.events("sidecar")[-1] == "PROCESS_STATE_STOPPED"


def test_crash_loop_after_running_backs_off(supervise: Start) -> None:
    """A program crashing after RUNNING restarts at once, then after 1 s, then 2 s (capped)."""
    s = supervise(
        ini=(
            "[program:crasher]\ncommand=sh -c 'sleep 0.1; exit 1'\nstartsecs=0.05\n"
            "backoff_max=2\nbackoff_reset=30\n"
        )
    )
    for _ in range(5):
        s.wait("PROCESS_STATE_STARTING", program="crasher", timeout=20)
    assert s.stop() == 0
    exits = [
        seconds(r["timestamp"])
        for r in s.records
        if r["event"] == "PROCESS_STATE_EXITED" and r["program"] == "crasher"
    ]
    starts = [
        seconds(r["timestamp"])
        for r in s.records
        if r["event"] == "PROCESS_STATE_STARTING" and r["program"] == "crasher"
    ]
    gaps = [start - end for end, start in zip(exits, starts[1:])]
    assert gaps[1] >= 0.95 and gaps[2] >= 1.95 and gaps[3] >= 1.95  # 1, 2, then capped at 2
    delays = [r["delay"] for r in s.records if "restarting in" in r["event"]]
    assert delays[:3] == [1.0, 2.0, 2.0]


def test_hup_restarts_only_changed_programs(tmp_path: Path, supervise: Start) -> None:
    """SIGHUP re-reads the file: a changed program restarts, an unchanged one keeps its pid."""
    base = "[program:same]\ncommand=sleep 1000\n[program:edited]\ncommand=sleep 1000\n"
    s = supervise(ini=base + "[program:gone]\ncommand=sleep 1000\n")
    same = s.wait("PROCESS_STATE_RUNNING", program="same")["pid"]
    s.wait("PROCESS_STATE_RUNNING", program="edited")
    s.wait("PROCESS_STATE_RUNNING", program="gone")
    (tmp_path / "initsup.ini").write_text(
        "[program:same]\ncommand=sleep 1000\n[program:edited]\ncommand=sleep 1001\n"
        "[program:new]\ncommand=sleep 1000\n"
    )
    os.kill(s.pid, signal.SIGHUP)
    s.wait("PROCESS_GROUP_REMOVED", group="gone")
    s.wait("PROCESS_GROUP_REMOVED", group="edited")
    s.wait("PROCESS_GROUP_ADDED", group="edited")
    s.wait("PROCESS_STATE_RUNNING", program="edited")
    s.wait("PROCESS_STATE_RUNNING", program="new")
    assert s.stop() == 0
    assert s.events("same").count("PROCESS_STATE_STARTING") == 1
    stopped_same = [r for r in s.records if r["event"] == "PROCESS_STATE_STOPPED"]
    assert stopped_same[-1]["program"] in ("same", "edited", "new")
    assert any(r.get("pid") == same for r in stopped_same)


def test_hup_with_a_broken_file_changes_nothing(tmp_path: Path, supervise: Start) -> None:
    """A reload that finds errors logs every problem and leaves the programs running."""
    s = supervise(ini="[program:keep]\ncommand=sleep 1000\n")
    s.wait("PROCESS_STATE_RUNNING", program="keep")
    (tmp_path / "initsup.ini").write_text("[program:keep]\ncommand=sleep 1000\nstartsecs=soon\n")
    os.kill(s.pid, signal.SIGHUP)
    refused = s.wait_prefix("reload refused:")
    assert "startsecs" in refused["event"] and "soon" in refused["event"]
    assert refused["level"] == "error"
    assert s.stop() == 0
    assert s.events("keep").count("PROCESS_STATE_STARTING") == 1


def test_signals_are_forwarded_to_programs_that_ask(supervise: Start) -> None:
    """USR1 to initsup reaches the programs with forward_signals=USR1, and no others."""
    trap = "command=sh -c \"trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done\"\n"
    s = supervise(ini=f"[program:wants]\n{trap}forward_signals=USR1\n[program:deaf]\n{trap}")
    s.wait("ready", program="wants")
    s.wait("ready", program="deaf")
    os.kill(s.pid, signal.SIGUSR1)
    s.wait("got USR1", program="wants")
    assert s.stop() == 0
    assert not any(r["event"] == "got USR1" and r["program"] == "deaf" for r in s.records)


def test_second_term_kills_at_once(supervise: Start) -> None:
    """A second SIGTERM during shutdown SIGKILLs what is left at once: exit 137."""
    loop = "while :; do sleep 0.05; done"
    s = supervise(
        ini=f"[program:slow]\ncommand=sh -c \"trap '' TERM; echo ready; {loop}\"\nstopwaitsecs=60\n"
    )
    s.wait("ready", program="slow")
    os.kill(s.pid, signal.SIGTERM)
    s.wait("PROCESS_STATE_STOPPING", program="slow")
    os.kill(s.pid, signal.SIGTERM)
    assert s.finish(timeout=20) == 137


def test_bad_configuration_names_everything_and_starts_nothing(tmp_path: Path) -> None:
    """All problems at once, each naming file, section, key and value; exit 2; nothing ran."""
    marker = tmp_path / "ran"
    config = tmp_path / "bad.ini"
    config.write_text(
        f"[program:ok]\ncommand=touch {marker}\n"
        "[program:bad]\ncommand=sleep 1\nstartsecs=soon\nstopsignal=NOPE\n"
        "[program:worse]\ncommand=sleep 1\nautorestart=maybe\n"
    )
    result = subprocess.run(
        [*INITSUP, "-c", str(config)], env=env(), capture_output=True, timeout=30
    )
    assert result.returncode == 2
    errors = result.stderr.decode().splitlines()
    assert len(errors) == 3, errors
    for key, value in (("startsecs", "soon"), ("stopsignal", "NOPE"), ("autorestart", "maybe")):
        line = next(e for e in errors if key in e)
        assert str(config) in line and value in line and "[program:" in line
    assert not marker.exists()
    assert result.stdout == b""


def test_bad_variable_names_the_variable(tmp_path: Path) -> None:
    """A bad INITSUP_PROGRAM_* option is reported with the variable's name and value."""
    variables = {"INITSUP_PROGRAM_WEB": "sleep 1", "INITSUP_PROGRAM_WEB__STARTRETRIES": "many"}
    result = subprocess.run(INITSUP, env=env(**variables), capture_output=True, timeout=30)
    assert result.returncode == 2
    assert b"INITSUP_PROGRAM_WEB__STARTRETRIES" in result.stderr
    assert b"many" in result.stderr


def test_check_prints_the_effective_configuration(tmp_path: Path) -> None:
    """`initsup check --json` shows what the file and the environment produce together."""
    config = tmp_path / "c.ini"
    config.write_text("[program:web]\ncommand=gunicorn app\nstartsecs=3\n")
    variables = {"INITSUP_PROGRAM_WEB__STARTSECS": "5", "INITSUP_PROGRAM_EXTRA": "sleep 1"}
    result = subprocess.run(
        [*INITSUP, "check", "-c", str(config), "--json"],
        env=env(**variables),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    import json

    data = json.loads(result.stdout)
    processes = {p["name"]: p for g in data["groups"] for p in g["processes"]}
    assert processes["web"]["startsecs"] == 5
    assert processes["web"]["command"] == ["gunicorn", "app"]
    assert processes["extra"]["command"] == ["sleep", "1"]
    text = subprocess.run(
        [*INITSUP, "check", "-c", str(config)], env=env(), capture_output=True, timeout=30
    )
    assert text.returncode == 0
    assert b"web (priority 999): gunicorn app" in text.stdout


def test_idle_supervisor_does_not_wake_up(supervise: Start) -> None:
    """With every program RUNNING and quiet, initsup makes no wakeups at all."""
    quiet = "command=sleep 1000\nstartsecs=0\n"
    s = supervise(ini=f"[program:a]\n{quiet}[program:b]\n{quiet}")
    s.wait("PROCESS_STATE_RUNNING", program="a")
    s.wait("PROCESS_STATE_RUNNING", program="b")
    time.sleep(0.2)  # let start-up finish; the assertion does not depend on this
    before = _voluntary_switches(s.pid)
    time.sleep(3)
    assert _voluntary_switches(s.pid) == before
    assert s.stop() == 0


def _voluntary_switches(pid: int) -> int:
    return int(proc_status(pid)["voluntary_ctxt_switches"])


def test_sigterm_during_start_up_is_held_not_lost(tmp_path: Path) -> None:
    """A SIGTERM that arrives while initsup still reads its configuration shuts it down cleanly."""
    # The loader reads regular files only, so the read is held at a gate instead: a
    # sitecustomize makes initsup.config.limits.read_file wait until the test opens a FIFO.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_GATED_READ)
    ini = tmp_path / "initsup.ini"
    ini.write_text("[program:app]\ncommand=sleep 1000\n")
    environ = env(TEST_INITSUP_GATE=str(gate))
    environ["PYTHONPATH"] = f"{site}:{environ['PYTHONPATH']}"
    proc = Proc([*INITSUP, "-c", str(ini)], env=environ)
    try:
        # initsup waits for its loader, held at the gate; by then it holds SIGTERM.
        wait_for(lambda: signal.SIGTERM in signal_set(proc_status(proc.pid)["SigBlk"]))
        os.kill(proc.pid, signal.SIGTERM)
        with open(gate, "w") as opened:
            opened.write("go")
        assert proc.wait(30) == 0
        out = b"".join(iter(lambda: _read_rest(proc), b"")).decode()
        assert "shutting down: received SIGTERM" in out
    finally:
        proc.kill()


_GATED_READ = """\
import os

if os.environ.get("TEST_INITSUP_GATE"):
    from initsup.config import limits

    _read_file = limits.read_file

    def read_file(path):
        with open(os.environ["TEST_INITSUP_GATE"]) as gate:
            gate.read()
        return _read_file(path)

    limits.read_file = read_file
"""


def _read_rest(proc: Proc) -> bytes:
    assert proc.popen.stdout is not None
    try:
        return os.read(proc.popen.stdout.fileno(), 65536)
    except BlockingIOError:
        return b""
