"""initsup as `ENTRYPOINT ["initsup"]` with one command after `--`, as tini is used.

Each test runs on every base (Python 3.9, 3.11 and 3.13) and looks only from outside.
Programs print "ready" before the test signals the container: a signal that reaches PID 1
before initsup has its handlers would be dropped by the kernel, as for any PID 1.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.docker.engine import Box

BIN = "/opt/initsup-tests/bin"
TRAP_TERM = "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done"


def test_docker_stop_ends_with_the_childs_own_status(run: Callable[..., Box], image: str) -> None:
    box = run(image, ["--", "sh", "-c", TRAP_TERM])
    box.wait_logs("ready")
    box.stop(timeout=10)
    # 3 is the child's own answer to SIGTERM; 137 would mean docker had to SIGKILL.
    assert box.exit_code() == 3
    assert "got TERM" in box.logs()


def test_docker_stop_of_a_child_killed_by_sigterm_gives_143(
    run: Callable[..., Box], image: str
) -> None:
    box = run(image, ["--", "sh", "-c", "echo ready; exec sleep 1000"])
    box.wait_logs("ready")
    box.stop(timeout=10)
    assert box.exit_code() == 128 + 15


def test_docker_kill_usr1_reaches_the_child(run: Callable[..., Box], image: str) -> None:
    box = run(image, ["--", "python3", f"{BIN}/print_signals.py", "--exit-on", "10"])
    box.wait_logs("ready")
    box.container.kill("SIGUSR1")
    # The child prints the signal's number, then exits 0 on it; initsup exits with it.
    assert box.exit_code() == 0
    assert "\n10\n" in box.logs()


def test_a_thousand_orphans_leave_no_zombie(run: Callable[..., Box], image: str) -> None:
    box = run(image, ["--", "python3", f"{BIN}/orphan_maker.py", "1000", "60", "--stay"])
    box.wait_logs("orphans reaped", timeout=90)
    assert "all 1000 orphans reaped" in box.logs()
    assert box.zombies() == []
    box.stop(timeout=10)
    assert box.exit_code() == 128 + 15


def test_initsup_is_pid_1_and_the_child_its_child(run: Callable[..., Box], image: str) -> None:
    box = run(image, ["--", "sh", "-c", "echo ready ppid=$PPID pid=$$; exec sleep 1000"])
    assert "ready ppid=1 pid=" in box.wait_logs("ready")
    code, comm = box.exec("cat", "/proc/1/cmdline")
    assert code == 0
    assert "initsup" in comm


def test_docker_run_t_gives_the_child_the_terminal(run: Callable[..., Box], image: str) -> None:
    script = "test -t 0 && test -t 1 && echo on a terminal; echo ready; exec sleep 1000"
    box = run(image, ["--", "sh", "-c", script], tty=True, stdin_open=True)
    assert "on a terminal" in box.wait_logs("ready")
    box.stop(timeout=10)
    assert box.exit_code() == 128 + 15
