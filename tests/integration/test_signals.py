"""Signal forwarding and the child's signal state (reference scenarios B1, B3-B6, tini T5-T9)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    INITSUP,
    PYTHON,
    Proc,
    alive,
    descendants,
    env,
    helper,
    proc_status,
    signal_set,
    started,
    wait_for,
)

FORWARDED = [
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGPIPE,
    signal.SIGALRM,
    signal.SIGTERM,
    signal.SIGCONT,
    signal.SIGWINCH,
    signal.SIGURG,
    signal.SIGPWR,
    signal.SIGTSTP,
    signal.SIGVTALRM,
    signal.SIGRTMIN,
    signal.SIGRTMAX,
]


def _ready(proc: Proc) -> dict[str, int]:
    line = proc.readline()
    assert line.startswith("ready "), line
    return {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}


def test_each_signal_reaches_the_child_as_itself() -> None:
    """Every forwardable signal sent to initsup arrives at the child with the same number (B1)."""
    with started([*INITSUP, "--", *helper("print_signals")]) as proc:
        _ready(proc)
        for signum in FORWARDED:
            os.kill(proc.pid, signum)
            assert proc.readline() == str(int(signum)), signal.Signals(signum).name


def test_job_control_tty_signals_are_not_forwarded() -> None:
    """TTIN and TTOU sent to initsup are dropped, as tini drops them (B1)."""
    with started([*INITSUP, "--", *helper("print_signals")]) as proc:
        _ready(proc)
        os.kill(proc.pid, signal.SIGTTIN)
        os.kill(proc.pid, signal.SIGTTOU)
        os.kill(proc.pid, signal.SIGUSR2)  # a marker: the next thing the child reports
        assert proc.readline() == str(int(signal.SIGUSR2))
        assert alive(proc.pid)


def test_child_has_its_own_process_group() -> None:
    """The child leads a process group of its own, in initsup's session (B4)."""
    with started([*INITSUP, "--", *helper("print_signals")]) as proc:
        info = _ready(proc)
        assert info["pgid"] == info["pid"]
        assert info["pgid"] != os.getpgid(proc.pid)
        assert os.getsid(info["pid"]) == os.getsid(proc.pid)


def _group_script() -> list[str]:
    # The child ignores USR1 and waits on a grandchild that has USR1 at its default.
    # (dash cannot un-ignore a signal ignored on entry, so env resets it for the sleep.)
    return ["sh", "-c", "trap '' USR1; env --default-signal=USR1 sleep 1000 & echo $!; wait"]


def _usr1_at_default(pid: int) -> bool:
    # Until env has run, the background job is a forked sh that still ignores USR1.
    status = proc_status(pid)
    return signal.SIGUSR1 not in signal_set(status["SigIgn"]) and "sleep" in status["Name"]


@pytest.mark.parametrize("how", ["-g", "env"])
def test_group_forwarding_kills_the_grandchild(how: str) -> None:
    """With -g (or INITSUP_KILL_PROCESS_GROUP=1) USR1 reaches the whole group (B3, tini T6)."""
    args = ["-g", "--", *_group_script()] if how == "-g" else ["--", *_group_script()]
    extra = {"INITSUP_KILL_PROCESS_GROUP": "1"} if how == "env" else {}
    with started([*INITSUP, *args], env=env(**extra)) as proc:
        grandchild = int(proc.readline())
        wait_for(lambda: _usr1_at_default(grandchild))
        os.kill(proc.pid, signal.SIGUSR1)
        assert proc.wait(10) == 0
        wait_for(lambda: not alive(grandchild))


def test_without_group_forwarding_nothing_exits() -> None:
    """Without -g, USR1 goes to the child only, which ignores it: everything keeps running (B3)."""
    with started([*INITSUP, "--", *_group_script()]) as proc:
        grandchild = int(proc.readline())
        wait_for(lambda: _usr1_at_default(grandchild))
        os.kill(proc.pid, signal.SIGUSR1)
        os.kill(proc.pid, signal.SIGUSR1)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.popen.wait(0.5)
        assert alive(grandchild)


def test_child_starts_with_clean_signal_state() -> None:
    """The child blocks nothing and ignores none of PIPE, XFSZ, TTIN, TTOU (B5)."""
    result = subprocess.run(
        [*INITSUP, "--", "cat", "/proc/self/status"], env=env(), capture_output=True, timeout=30
    )
    lines = dict(line.split(":", 1) for line in result.stdout.decode().splitlines())
    assert signal_set(lines["SigBlk"].strip()) == set()
    ignored = signal_set(lines["SigIgn"].strip())
    for signum in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTTIN, signal.SIGTTOU):
        assert signum not in ignored


def test_inherited_signal_state_passes_through() -> None:
    """Ignores and blocks initsup inherited reach the child unchanged (tini T8, B5)."""
    launcher = helper(
        "launcher", "--ignore", "SIGTTOU,SIGSEGV,SIGINT", "--block", "SIGTTIN,SIGILL,SIGTERM", "--"
    )
    result = subprocess.run(
        [*launcher, *INITSUP, "--", "cat", "/proc/self/status"],
        env=env(),
        capture_output=True,
        timeout=30,
    )
    lines = dict(line.split(":", 1) for line in result.stdout.decode().splitlines())
    ignored = signal_set(lines["SigIgn"].strip())
    blocked = signal_set(lines["SigBlk"].strip())
    assert {signal.SIGTTOU, signal.SIGSEGV, signal.SIGINT} <= ignored
    assert {signal.SIGTTIN, signal.SIGILL, signal.SIGTERM} <= blocked
    assert signal.SIGPIPE not in ignored
    assert signal.SIGXFSZ not in ignored


@pytest.mark.parametrize("log_format", ["inherit", "raw"])
def test_exec_failure_reported_with_a_parent_ignored_signal(
    tmp_path: Path, log_format: str
) -> None:
    """With a parent-ignored signal an exec error still gives 126: relaying, initsup
    catches that signal, so the child is started through fork (to ignore it again);
    inheriting, initsup only blocks it, and posix_spawn keeps it ignored."""
    no_shebang = tmp_path / "no-shebang"
    no_shebang.write_text("echo hi\n")
    no_shebang.chmod(0o755)
    launcher = helper("launcher", "--ignore", "SIGINT", "--")
    command = [*INITSUP, "--log-format", log_format, "--", str(no_shebang)]
    result = subprocess.run([*launcher, *command], env=env(), capture_output=True, timeout=30)
    assert result.returncode == 126
    assert result.stderr.decode().strip().endswith("Exec format error")


@pytest.mark.parametrize("log_format", ["inherit", "json"])
def test_initsup_handles_signals_its_parent_blocked(log_format: str) -> None:
    """What initsup's parent blocked still reaches initsup and is forwarded, whether it
    waits for signals (inherit) or runs its loop (json)."""
    launcher = helper("launcher", "--block", "SIGTERM,SIGUSR1", "--")
    command = [
        *INITSUP,
        "--log-format",
        log_format,
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]
    with started([*launcher, *command]) as proc:
        assert "ready" in proc.readline()
        # The child gets the parent's mask back (as under tini), so the TERM initsup
        # forwards waits, pending, in the child.
        (child,) = wait_for(lambda: descendants(proc.pid))
        wait_for(lambda: "sleep" in proc_status(child)["Name"])
        os.kill(proc.pid, signal.SIGTERM)
        wait_for(lambda: signal.SIGTERM in signal_set(proc_status(child)["ShdPnd"]))
        assert alive(proc.pid)


def test_parent_death_signal_is_forwarded() -> None:
    """With -p SIGUSR1, killing initsup's parent makes the child receive USR1 (B6, tini T9)."""
    parent_code = (
        "import subprocess, sys; "
        f"p = subprocess.Popen({[*INITSUP, '-p', 'SIGUSR1', '--', *helper('print_signals')]!r}); "
        "p.wait()"
    )
    with started([PYTHON, "-c", parent_code]) as parent:
        info = _ready(parent)
        initsup_pid = info["ppid"]
        os.kill(parent.pid, signal.SIGKILL)
        try:
            assert parent.readline() == str(int(signal.SIGUSR1))
        finally:
            os.kill(initsup_pid, signal.SIGKILL)
            os.kill(info["pid"], signal.SIGKILL)


def test_verbose_logs_forwarded_signals() -> None:
    """-v logs each forwarded signal on stderr by name."""
    with started([*INITSUP, "-v", "--", *helper("print_signals", "--exit-on", "10")]) as proc:
        _ready(proc)
        os.kill(proc.pid, signal.SIGUSR1)
        assert proc.wait() == 0
        assert proc.popen.stderr is not None
        err = proc.popen.stderr.read().decode()
        assert re.search(r"forwarded SIGUSR1 to pid \d+", err), err


def test_without_sigwait_signals_go_through_the_loop() -> None:
    """An interpreter without sigwait still forwards every signal: initsup falls back to
    its loop (a fresh interpreter, as a user's, with sigwait removed before initsup runs)."""
    code = (
        "import sys, signal, _signal; del _signal.sigwait, signal.sigwait; import runpy; "
        f"sys.argv = ['initsup', '--', *{helper('print_signals')!r}]; "
        "runpy.run_module('initsup', run_name='__main__', alter_sys=True)"
    )
    with started([PYTHON, "-c", code]) as proc:
        _ready(proc)
        for signum in (signal.SIGUSR1, signal.SIGRTMIN + 1, signal.SIGHUP):
            os.kill(proc.pid, signum)
            assert proc.readline() == str(int(signum))


@pytest.mark.parametrize("log_format", ["inherit", "raw"])
def test_how_initsup_takes_signals_in_each_output_mode(log_format: str) -> None:
    """Inheriting output, initsup installs no handler: it takes the signals it forwards
    with sigwait (blocked, except while it waits, so SigBlk cannot show it); relaying, it
    catches them for its loop and blocks nothing."""
    command = [*INITSUP, "--log-format", log_format, "--", *helper("print_signals")]
    with started(command) as proc:
        _ready(proc)
        status = proc_status(proc.pid)
        blocked, caught = signal_set(status["SigBlk"]), signal_set(status["SigCgt"])
        waited = {signal.SIGUSR1, signal.SIGTERM, signal.SIGCHLD, signal.SIGRTMIN}
        if log_format == "inherit":
            assert not waited & caught
        else:
            assert waited <= caught
        assert not blocked
        os.kill(proc.pid, signal.SIGUSR1)  # and either way it is forwarded
        assert proc.readline() == str(int(signal.SIGUSR1))
