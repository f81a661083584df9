"""Supervisor mode against hostile settings: what must never lose a program or PID 1.

Each test is a reproduction from the reliability findings (D1, D3, D4, D5, D9, D12) or a
shutdown rule, run the way users run initsup: a fresh interpreter on an INI text.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import INITSUP, alive, descendants, env, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """A prefix that starts initsup in a new session with a `sleep` in its process group.

    Yields (prefix, pid file).  A signal to initsup's own process group reaches the sleep;
    nothing initsup does may reach it.  The sleep is killed afterwards.
    """
    pid_file = tmp_path / "sentinel.pid"
    script = f'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {pid_file}; exec "$@"'
    yield ["setsid", "sh", "-c", script, "sh"], pid_file
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_crash_loop_past_1025_restarts_keeps_the_program(
    supervise: Start, sentinel: tuple[list[str], Path]
) -> None:
    """D1: 2.0 ** n overflowed at the 1,026th restart, leaving RUNNING with pid 0; a stop then
    signalled initsup's own process group and never finished.  Now the restarts go on, the
    stop finishes, and nothing in initsup's process group is signalled."""
    prefix, pid_file = sentinel
    s = supervise(
        prefix=prefix,
        ini="[program:crashy]\ncommand=/bin/false\nstartsecs=0\nautorestart=true\nbackoff_max=0\n",
    )
    exits = errors = 0
    while exits < 1100:  # raw lines: a schema check of each would take seconds here
        line = s.proc.readline(timeout=30)
        exits += '"event":"PROCESS_STATE_EXITED"' in line
        errors += '"event":"internal error' in line
    sentinel_pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
    assert s.stop(timeout=15) == 0
    assert errors == 0
    assert not any(str(r["event"]).startswith("internal error") for r in s.records)
    assert alive(sentinel_pid)


@pytest.mark.parametrize("option", ["startsecs=2200000", "stopwaitsecs=3000000"])
def test_deadlines_weeks_away_are_waited_for_in_steps(supervise: Start, option: str) -> None:
    """D3: a timer more than 24.8 days away overflowed epoll's timeout and killed PID 1
    (at start for startsecs, at the stop for stopwaitsecs).  Now both run, and a program
    that ends on SIGTERM stops at once: initsup exits 0."""
    s = supervise(ini=f"[program:slow]\ncommand=sleep 1000\n{option}\n")
    s.wait("PROCESS_STATE_STARTING", program="slow")
    if option.startswith("stopwaitsecs"):
        s.wait("PROCESS_STATE_RUNNING", program="slow")
    s.read_available(0.3)  # a pass of the loop with the far timer pending
    assert s.proc.popen.poll() is None
    assert s.stop(timeout=15) == 0
    assert s.events("slow")[-1] == "PROCESS_STATE_STOPPED"
    assert not any(str(r["event"]).startswith("internal error") for r in s.records)


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        ("command=sleep 1000\x00", "null"),
        ('command=sleep 1000\nenvironment=A="x\x00y"', "null"),
        ("command=sleep 1000\nuser=\N{SUPERSCRIPT TWO}", "\N{SUPERSCRIPT TWO}"),
    ],
    ids=["nul-command", "nul-environment", "user-2"],
)
def test_a_spawn_error_is_a_failed_start_not_a_dead_pid1(
    supervise: Start, option: str, reason: str
) -> None:
    """D4: these made PID 1 exit 1 with a traceback at start-up (and orphan its children).
    Now the program's start fails (BACKOFF, FATAL) with the reason, the others run on.
    (`initsup check` may refuse some of them at load: then initsup exits 2, never 1.)"""
    s = supervise(
        ini=f"[program:ok]\ncommand=sleep 1000\nstartsecs=0\n"
        f"[program:bad]\n{option}\nstartretries=0\n"
    )
    try:
        backoff = s.wait("PROCESS_STATE_BACKOFF", program="bad")
    except EOFError:
        assert s.proc.wait() == 2, "refused at load is fine; a crash is not"
        return
    assert reason in backoff["message"], backoff
    s.wait("PROCESS_STATE_FATAL", program="bad")
    s.wait("PROCESS_STATE_RUNNING", program="ok")
    assert s.stop() == 0
    assert not any(str(r["event"]).startswith("internal error") for r in s.records)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_log_directory_gone_before_the_start_fails_the_start(
    supervise: Start, tmp_path: Path, stream: str
) -> None:
    """D4: a log file in a missing directory was opened after the fork: PID 1 died and the
    child was orphaned.  A directory that disappears between load and start now makes an
    ordinary failed start naming the file; nothing is left running."""
    logs = tmp_path / "logs"
    logs.mkdir()
    s = supervise(
        ini=f"[program:bad]\ncommand=sleep 1000\nautostart=false\nstartretries=0\n"
        f"{stream}_logfile={logs}/a.log\n[program:ok]\ncommand=sleep 1000\nstartsecs=0\n"
    )
    s.wait("PROCESS_STATE_RUNNING", program="ok")
    logs.rmdir()
    result = subprocess.run(
        [*INITSUP, "ctl", "start", "bad"],
        env=env(INITSUP_SOCKET=s.socket),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    backoff = s.wait("PROCESS_STATE_BACKOFF", program="bad")
    assert f"{logs}/a.log" in backoff["message"], backoff
    assert "No such file or directory" in backoff["message"], backoff
    s.wait("PROCESS_STATE_FATAL", program="bad")
    assert s.stop() == 0
    assert not any(str(r["event"]).startswith("internal error") for r in s.records)
    assert not [p for p in descendants(s.pid) if p]


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _start_fds(pid: int) -> int:
    """initsup's open fds but sockets: what a start makes (pipes, /dev/null, log files).
    A control connection's socket is left out, since initsup closes it only once it has
    seen the client hang up, which may come after the client has exited."""
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass  # closed meanwhile
    return sum(not link.startswith("socket:") for link in links)


def test_running_out_of_fds_fails_starts_and_leaks_nothing(supervise: Start) -> None:
    """D4: EMFILE while making a child's pipes killed PID 1; now those starts fail, the
    programs that got their fds run, and a failed start leaves no fd open."""
    programs = "".join(
        f"[program:p{n:02}]\ncommand=sleep 1000\nstartsecs=0\nstartretries=0\n" for n in range(20)
    )
    s = supervise(prefix=["prlimit", "--nofile=30", "--"], ini=programs)
    fatal = s.wait("PROCESS_STATE_FATAL")
    backoff = [r for r in s.records if r["event"] == "PROCESS_STATE_BACKOFF"]
    assert "Too many open files" in backoff[0]["message"], backoff[0]
    assert fatal["program"] != "p00"
    s.read_available(0.5)
    running = [r["program"] for r in s.records if r["event"] == "PROCESS_STATE_RUNNING"]
    assert "p00" in running, "the programs started before the limit run"
    assert s.proc.popen.poll() is None
    assert _open_fds(s.pid) <= 30
    assert s.stop() == 0
    assert not any(str(r["event"]).startswith("internal error") for r in s.records)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")
def test_a_numeric_uid_without_passwd_entry_starts_as_that_uid(supervise: Start) -> None:
    """D5: user=54321 with no passwd entry failed every start (getpwuid); it now runs as
    uid 54321, gid 0 and no supplementary groups, as `docker run --user 54321` does."""
    s = supervise(
        ini="[program:anon]\ncommand=sh -c 'echo ids $(id -u) $(id -g) $(id -G); exec sleep 1000'"
        "\nuser=54321\nstartsecs=0\n"
    )
    line = s.wait_prefix("ids ")
    assert line["event"] == "ids 54321 0 0"
    assert s.stop() == 0


def test_a_program_in_backoff_at_shutdown_is_stopped_not_fatal(supervise: Start) -> None:
    """A program waiting to retry goes BACKOFF -> STOPPED when initsup shuts down, so
    listeners watching FATAL do not fire on an ordinary `docker stop`."""
    s = supervise(ini="[program:retrying]\ncommand=sh -c 'exit 1'\nstartsecs=1\nstartretries=100\n")
    s.wait("PROCESS_STATE_BACKOFF", program="retrying")
    assert s.stop() == 0
    assert s.events("retrying")[-1] == "PROCESS_STATE_STOPPED"
    assert "PROCESS_STATE_FATAL" not in s.events("retrying")
    stopped = s.wait("PROCESS_STATE_STOPPED", program="retrying")
    assert stopped["from_state"] == "BACKOFF"


def test_shutdown_follows_group_priority(supervise: Start) -> None:
    """[group:x] priority decides when its programs stop, as in supervisord: the group
    (priority 900) stops before the program of priority 500, although its own programs
    have priority 1 and 2; within the group the higher program priority is asked first."""
    loop = "while :; do sleep 0.05; done"
    slow = f"command=sh -c \"trap 'sleep 0.3; exit 0' TERM; echo ready; {loop}\"\n"
    s = supervise(
        ini=(
            f"[program:one]\n{slow}priority=1\n"
            f"[program:two]\n{slow}priority=2\n"
            f"[program:middle]\n{slow}priority=500\n"
            "[group:late]\nprograms=one,two\npriority=900\n"
        )
    )
    for name in ("one", "two", "middle"):
        s.wait("ready", program=name)
    assert s.stop() == 0
    order = [
        (r["event"][14:], r["program"])
        for r in s.records
        if r["event"] in ("PROCESS_STATE_STOPPING", "PROCESS_STATE_STOPPED")
    ]
    assert order[:2] == [("STOPPING", "two"), ("STOPPING", "one")]
    assert sorted(order[2:4]) == [("STOPPED", "one"), ("STOPPED", "two")]
    assert order[4:] == [("STOPPING", "middle"), ("STOPPED", "middle")]


def test_a_fifo_log_without_reader_fails_the_start_and_blocks_nothing(
    supervise: Start, tmp_path: Path
) -> None:
    """D9: opening a FIFO nobody reads blocked PID 1 forever (no reaping, no signals).
    Now that start fails with the reason and everything else runs."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    s = supervise(
        ini=f"[program:bad]\ncommand=sleep 1000\nstdout_logfile={fifo}\nstartretries=0\n"
        "[program:ok]\ncommand=sleep 1000\nstartsecs=0\n"
    )
    backoff = s.wait("PROCESS_STATE_BACKOFF", program="bad", timeout=10)
    assert "No such device or address" in backoff["message"], backoff
    s.wait("PROCESS_STATE_RUNNING", program="ok")
    assert s.stop() == 0


def test_a_fifo_log_whose_reader_stalls_never_blocks_pid1(supervise: Start, tmp_path: Path) -> None:
    """D9: writes to a FIFO log blocked the loop once its reader stopped reading.  Now the
    loop goes on (another program's output, a stop), and the drop is reported."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read
    try:
        s = supervise(
            ini=f"[program:flood]\ncommand=sh -c 'yes flood | head -c 8000000; exec sleep 1000'\n"
            f"stdout_logfile={fifo}\nstdout_logfile_maxbytes=0\nstartsecs=0\n"
            "[program:ticker]\ncommand=sh -c 'while :; do echo tick; sleep 0.05; done'\n"
            "startsecs=0\n"
        )
        s.wait_prefix(f"log file {fifo}: its reader does not keep up")
        s.wait("tick", program="ticker")
        assert s.stop() == 0
    finally:
        os.close(reader)


def test_dev_stdout_and_dev_stderr_logfiles_still_reach_the_stream(supervise: Start) -> None:
    """The common container settings keep working when initsup's stdout is a pipe."""
    s = supervise(
        ini="[program:both]\ncommand=sh -c 'echo out; echo err >&2; exec sleep 1000'\n"
        "stdout_logfile=/dev/stdout\nstderr_logfile=/dev/stderr\nstartsecs=0\n"
    )
    assert s.wait("out", program="both")["stream"] == "stdout"
    assert s.wait("err", program="both")["stream"] == "stderr"
    assert s.stop() == 0


@pytest.mark.parametrize("option", ["directory={gone}", "stdout_logfile={gone}/out.log"])
def test_failed_starts_leave_no_fd_open(supervise: Start, tmp_path: Path, option: str) -> None:
    """D4/D18: every fd a start opened (pipes, /dev/null, log files) is closed again when the
    start fails, before or after the fork: initsup's fd count stays where it was."""
    gone = tmp_path / "gone"
    gone.mkdir()
    s = supervise(
        ini=f"[program:bad]\ncommand=sleep 1000\nautostart=false\nstartretries=0\n"
        f"{option.format(gone=gone)}\n[program:ok]\ncommand=sleep 1000\nstartsecs=0\n"
    )
    s.wait("PROCESS_STATE_RUNNING", program="ok")
    gone.rmdir()
    s.ctl("status")  # the control server's first connection settles its own fds
    before = _start_fds(s.pid)
    for _ in range(3):
        assert s.ctl("start", "bad").returncode != 0
        s.wait("PROCESS_STATE_FATAL", program="bad")
    try:
        wait_for(lambda: _start_fds(s.pid) == before, timeout=5)
    except AssertionError:
        fds = {n: os.readlink(f"/proc/{s.pid}/fd/{n}") for n in os.listdir(f"/proc/{s.pid}/fd")}
        raise AssertionError(f"{before} fds before, now {fds}; records {s.records[-12:]}") from None
    assert s.stop() == 0


def test_a_fifo_log_reader_that_catches_up_gets_what_was_held_back(
    supervise: Start, tmp_path: Path
) -> None:
    """What a full FIFO did not take (within the bound) reaches its reader once it reads,
    in order, although the program writes nothing more."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        script = "for i in $(seq 1 20000); do echo line-$i; done; echo done >&2; exec sleep 1000"
        s = supervise(
            ini=f"[program:burst]\ncommand=sh -c '{script}'\nstdout_logfile={fifo}\n"
            "stdout_logfile_maxbytes=0\nstartsecs=0\n"
        )
        s.wait("done", program="burst")  # all written: most of it held back by initsup
        expected = "".join(f"line-{i}\n" for i in range(1, 20001)).encode()  # 228,894 bytes
        received = bytearray()

        def read_some() -> bool:
            try:
                received.extend(os.read(reader, 1 << 16))
            except BlockingIOError:
                pass
            return len(received) >= len(expected)

        wait_for(read_some, timeout=15)
        assert bytes(received) == expected
        assert s.stop() == 0
    finally:
        os.close(reader)
