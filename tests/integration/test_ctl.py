"""`initsup ctl` against a real initsup: supervisorctl's lines and exit codes, and a control
socket that bad or hostile clients cannot hurt (reference sections 6.2 and 6.3)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import INITSUP, env
from tests.supervised import Supervised

Start = Callable[..., Supervised]

CONFIG = """\
[program:victim]
command=sleep 1000
startsecs=0
[program:quick]
command=sh -c 'exit 3'
startretries=0
[program:talker]
command=sh -c 'i=0; while :; do i=$((i+1)); echo "line $i"; echo "warn $i" >&2; sleep 0.05; done'
startsecs=0
[program:stubborn]
command=sh -c "trap '' TERM; while :; do sleep 0.05; done"
stopwaitsecs=1
startsecs=0
autostart=false
[program:pool]
command=sleep 1000
numprocs=2
process_name=pool_%(process_num)d
startsecs=0
"""


@pytest.fixture
def running(supervise: Start) -> Iterator[Supervised]:
    """An initsup with the programs above, all settled."""
    s = supervise(ini=CONFIG)
    for name in ("victim", "talker", "pool_0", "pool_1"):
        s.wait("PROCESS_STATE_RUNNING", program=name)
    s.wait("PROCESS_STATE_FATAL", program="quick")
    yield s


def test_status_table_and_exit_3(running: Supervised) -> None:
    """`status` lists every process in supervisorctl's columns; a FATAL one makes it exit 3."""
    result = running.ctl("status")
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == ["pool:pool_0", "pool:pool_1", "quick", "stubborn", "talker", "victim"]
    victim = next(line for line in lines if line.startswith("victim"))
    assert victim[:33] == "victim".ljust(33)
    assert victim[33:43] == "RUNNING".ljust(10)
    assert victim[43:].startswith("pid ") and ", uptime 0:00:0" in victim
    quick = next(line for line in lines if line.startswith("quick"))
    assert quick.endswith("FATAL     Exited too quickly (process log may have details)")
    stubborn = next(line for line in lines if line.startswith("stubborn"))
    assert stubborn.split(None, 1)[1] == "STOPPED   Not started"


def test_status_of_names(running: Supervised) -> None:
    """`status NAME` gives one line and 0 when running; unknown names give 4."""
    assert running.ctl("status", "victim").returncode == 0
    assert running.ctl("status", "pool:*").stdout.count("RUNNING") == 2
    missing = running.ctl("status", "nosuch")
    assert (missing.returncode, missing.stdout) == (4, "nosuch: ERROR (no such process)\n")
    group = running.ctl("status", "nogroup:*")
    assert (group.returncode, group.stdout) == (4, "nogroup: ERROR (no such group)\n")


def test_status_json(running: Supervised) -> None:
    """`status --json` gives supervisord's process info structs."""
    result = running.ctl("status", "--json", "victim")
    assert result.returncode == 0
    (info,) = json.loads(result.stdout)
    assert info["name"] == info["group"] == "victim"
    assert (info["state"], info["statename"]) == (20, "RUNNING")
    assert info["pid"] > 0 and info["start"] <= info["now"]
    for key in ("stop", "spawnerr", "exitstatus", "description", "logfile", "stderr_logfile"):
        assert key in info


def test_stop_start_restart(running: Supervised) -> None:
    """stop, start and restart wait for the result and answer as supervisorctl does."""
    assert running.ctl("stop", "victim").stdout == "victim: stopped\n"
    again = running.ctl("stop", "victim")
    assert (again.returncode, again.stdout) == (0, "victim: ERROR (not running)\n")
    assert running.ctl("start", "victim").stdout == "victim: started\n"
    already = running.ctl("start", "victim")
    assert (already.returncode, already.stdout) == (0, "victim: ERROR (already started)\n")
    restarted = running.ctl("restart", "victim")
    assert restarted.stdout == "victim: stopped\nvictim: started\n"
    group = running.ctl("stop", "pool:*")
    assert group.stdout.splitlines() == ["pool:pool_0: stopped", "pool:pool_1: stopped"]


def test_start_and_stop_errors(running: Supervised) -> None:
    """Unknown names, a spawn error and missing names give supervisorctl's codes."""
    cases = [
        (("start", "nosuch"), 1, "nosuch: ERROR (no such process)"),
        (("start", "nosuch:*"), 2, "nosuch: ERROR (no such group)"),
        (("start", "quick"), 7, "quick: ERROR (spawn error)"),
        (("stop", "nosuch"), 1, "nosuch: ERROR (no such process)"),
    ]
    for args, code, line in cases:
        result = running.ctl(*args)
        assert (result.returncode, result.stdout.strip()) == (code, line), args
    assert running.ctl("start").returncode == 2
    assert running.ctl("start").stdout.startswith("Error: start requires a process name\n")
    assert running.ctl("stop").returncode == 1


def test_stop_waits_for_sigkill_escalation(running: Supervised) -> None:
    """Stopping a TERM-ignoring program returns after stopwaitsecs, once it is stopped."""
    assert running.ctl("start", "stubborn").returncode == 0
    began = time.monotonic()
    result = running.ctl("stop", "stubborn")
    assert result.stdout == "stubborn: stopped\n"
    assert time.monotonic() - began >= 0.95


def test_signal_and_pid(running: Supervised) -> None:
    """signal and pid answer with supervisorctl's lines and codes."""
    assert running.ctl("signal", "HUP", "talker").stdout == "talker: signalled\n"
    bad = running.ctl("signal", "FOO", "talker")
    assert (bad.returncode, bad.stdout) == (1, "talker: ERROR (bad signal name)\n")
    dead = running.ctl("signal", "HUP", "quick")
    assert (dead.returncode, dead.stdout) == (7, "quick: ERROR (not running)\n")
    assert int(running.ctl("pid").stdout) > 0
    victim = next(r for r in running.records if r.get("program") == "victim" and "pid" in r)
    assert int(running.ctl("pid", "victim").stdout) == victim["pid"]
    assert (running.ctl("pid", "quick").returncode, running.ctl("pid", "quick").stdout) == (
        7,
        "0\n",
    )


def test_tail(running: Supervised) -> None:
    """tail shows recent output of either stream; an unknown name gives 1."""
    out = running.ctl("tail", "talker")
    assert out.returncode == 0 and "line " in out.stdout and "warn" not in out.stdout
    err = running.ctl("tail", "-20", "talker", "stderr")
    # the last 20 bytes, printed as a line (supervisorctl's newline after them)
    assert "warn " in err.stdout and len(err.stdout) <= 21 and err.stdout.endswith("\n\n")
    missing = running.ctl("tail", "nosuch")
    assert (missing.returncode, missing.stdout) == (1, "nosuch: ERROR (no such process name)\n")


def test_tail_follow_streams_until_interrupted(running: Supervised) -> None:
    """tail -f keeps printing new output until the client is interrupted."""
    follower = subprocess.Popen(
        [*INITSUP, "ctl", "tail", "-f", "talker"],
        env=env(INITSUP_SOCKET=running.socket),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        numbers: list[int] = []
        while len(numbers) < 30:
            line = follower.stdout.readline()
            if line.startswith("line "):
                numbers.append(int(line.split()[1]))
        assert numbers[-1] - numbers[0] >= 20  # new lines kept coming
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 0
    finally:
        follower.kill()
        follower.wait()


def test_events_lists_lifecycle_events(running: Supervised) -> None:
    """events prints recent lifecycle events as JSON lines."""
    result = running.ctl("events")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0
    assert any(e["event"] == "PROCESS_STATE_FATAL" and e["program"] == "quick" for e in events)


def test_events_follow_streams_new_events(running: Supervised) -> None:
    """events -f prints lifecycle events as they happen, until interrupted."""
    follower = subprocess.Popen(
        [*INITSUP, "ctl", "events", "-f"],
        env=env(INITSUP_SOCKET=running.socket),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        while "SUPERVISOR_STATE_CHANGE_RUNNING" not in follower.stdout.readline():
            pass  # the recent events come first
        assert running.ctl("stop", "victim").returncode == 0
        seen = []
        while "PROCESS_STATE_STOPPED" not in seen:
            seen.append(json.loads(follower.stdout.readline())["event"])
        assert seen[-2:] == ["PROCESS_STATE_STOPPING", "PROCESS_STATE_STOPPED"]
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 0
    finally:
        follower.kill()
        follower.wait()


def test_health_fails_while_a_program_is_down(running: Supervised) -> None:
    """health fails, naming it, while an autostart program is not RUNNING."""
    sick = running.ctl("health")
    assert sick.returncode == 1 and "quick is FATAL" in sick.stderr


def test_health_passes_when_all_run(supervise: Start) -> None:
    """health exits 0 when every autostart program is RUNNING."""
    well = supervise(ini="[program:a]\ncommand=sleep 1000\nstartsecs=0\n")
    well.wait("PROCESS_STATE_RUNNING", program="a")
    assert well.ctl("health").returncode == 0


def test_health_follows_essential_programs_only(supervise: Start) -> None:
    """With essential programs, health looks at those alone."""
    s = supervise(
        ini="[program:app]\ncommand=sleep 1000\nstartsecs=0\nessential=true\n"
        "[program:extra]\ncommand=/nonexistent\nstartretries=0\n"
    )
    s.wait("PROCESS_STATE_RUNNING", program="app")
    s.wait("PROCESS_STATE_FATAL", program="extra")
    assert s.ctl("health").returncode == 0


def test_reread_update_avail_version(tmp_path: Path, running: Supervised) -> None:
    """reread and update report changes with supervisorctl's lines; avail and version answer."""
    assert running.ctl("reread").stdout == "No config updates to processes\n"
    (tmp_path / "initsup.ini").write_text(
        CONFIG.replace(
            "command=sleep 1000\nstartsecs=0\n[program:quick]",
            "command=sleep 999\nstartsecs=0\n[program:quick]",
        )
        + "[program:newprog]\ncommand=sleep 1000\n"
    )
    assert running.ctl("reread").stdout.splitlines() == ["newprog: available", "victim: changed"]
    update = running.ctl("update")
    assert update.stdout.splitlines() == [
        "victim: stopped",
        "victim: updated process group",
        "newprog: added process group",
    ]
    assert "newprog" in running.ctl("avail").stdout
    assert running.ctl("version").stdout.strip()[0].isdigit()


def test_shutdown(running: Supervised) -> None:
    """shutdown stops everything and ends initsup with 0; afterwards ctl says so."""
    result = running.ctl("shutdown")
    assert (result.returncode, result.stdout) == (0, "Shut down\n")
    assert running.finish() == 0
    gone = running.ctl("shutdown")
    url = f"unix://{running.socket}"
    assert (gone.returncode, gone.stdout) == (
        1,
        f"ERROR: {url} no such file (already shut down?)\n",
    )
    status = running.ctl("status")
    assert (status.returncode, status.stdout) == (4, f"{url} no such file\n")
    assert "INITSUP_SOCKET" in status.stderr


def test_unknown_command(running: Supervised) -> None:
    """An unknown command is reported, as supervisorctl does."""
    result = running.ctl("frobnicate", "now")
    assert result.returncode == 1
    assert result.stdout == "*** Unknown syntax: frobnicate now\n"


# -- hostile and broken clients ----------------------------------------------------------


def _raw(path: str, payload: bytes, timeout: float = 15) -> list[dict[str, object]]:
    """Send raw bytes on the socket; return the JSON replies until the server closes."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def test_garbage_and_bad_requests_get_an_error(running: Supervised) -> None:
    """Garbage, non-objects and wrong types get an error reply and exit 2; initsup lives on."""
    for payload in (
        b"\xff\xfe garbage\n",
        b"[1, 2]\n",
        b'{"cmd": 5}\n',
        b'{"cmd": "status", "args": [1]}\n',
    ):
        replies = _raw(running.socket, payload)
        assert replies[-1] == {"exit": 2}
        assert "bad request" in str(replies[0]["err"])
    assert running.ctl("status", "victim").returncode == 0


def test_oversized_request_is_refused(running: Supervised) -> None:
    """A request larger than the cap without a newline is refused; initsup lives on."""
    replies = _raw(running.socket, b"x" * 200_000)
    assert replies[-1] == {"exit": 2}
    assert "larger than" in str(replies[0]["err"])
    assert running.ctl("status", "victim").returncode == 0


def test_silent_client_is_dropped_and_others_are_served(running: Supervised) -> None:
    """A client that connects and says nothing does not stop others being served, and is dropped."""
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(running.socket)
    try:
        assert running.ctl("status", "victim").returncode == 0
        with pytest.raises(BlockingIOError):  # served while the silent one is still waiting
            silent.recv(10, socket.MSG_DONTWAIT)
        silent.settimeout(30)
        assert silent.recv(10) == b""  # and then the server hangs up on it
    finally:
        silent.close()


def test_concurrent_clients(running: Supervised) -> None:
    """Twenty clients at once all get complete, correct answers."""
    clients = [
        subprocess.Popen(
            [*INITSUP, "ctl", "status", "victim"],
            env=env(INITSUP_SOCKET=running.socket),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(20)
    ]
    for client in clients:
        out, _ = client.communicate(timeout=60)
        assert client.returncode == 0
        assert out.startswith("victim") and "RUNNING" in out


def test_socket_is_private(running: Supervised) -> None:
    """The socket is mode 0600 and the children are told where it is."""
    assert os.stat(running.socket).st_mode & 0o777 == 0o600


def test_other_uid_is_refused(supervise: Start) -> None:
    """A client of another uid is refused by SO_PEERCRED even when file modes let it in."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as a second uid")
    place = tempfile.mkdtemp()  # pytest's tmp_path is closed to other users
    os.chmod(place, 0o755)
    s = supervise(
        ini="[unix_http_server]\nchmod=0666\n[program:a]\ncommand=sleep 1000\n",
        variables={"INITSUP_SOCKET": os.path.join(place, "initsup.sock")},
    )
    s.wait("PROCESS_STATE_STARTING", program="a")
    replies = _as_uid(65534, s.socket, b'{"cmd": "status", "args": []}\n')
    assert replies[-1] == {"exit": 2}
    assert "uid 65534 may not control initsup" in str(replies[0]["err"])
    while not any("refused a client of uid 65534" in str(r["event"]) for r in s.records):
        s.next()
    assert s.ctl("status", "a").returncode == 0  # root still may
    assert s.stop() == 0
    shutil.rmtree(place)


def _as_uid(uid: int, path: str, payload: bytes) -> list[dict[str, object]]:
    """_raw() from a child process that has become uid."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            os.setgid(uid)
            os.setuid(uid)
            os.write(write_end, json.dumps(_raw(path, payload)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    result: list[dict[str, object]] = json.loads(data)
    return result


def test_children_know_the_socket(supervise: Start) -> None:
    """Programs get INITSUP_SOCKET, so a program can run `initsup ctl` itself."""
    s = supervise(
        ini="[program:e]\ncommand=sh -c 'echo $INITSUP_SOCKET'\nstartsecs=0\nautorestart=false\n"
    )
    s.wait("PROCESS_STATE_EXITED", program="e")
    line = next(r["event"] for r in s.records if r.get("stream") == "stdout")
    assert line == s.socket
