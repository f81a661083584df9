"""Exit codes of single-command mode (reference scenarios C1-C5, tini T1, T2, T10)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import INITSUP, PYTHON, Proc, env, run


def _codes(argv_for: list[list[str]]) -> list[int]:
    """Run many initsup command lines, a few at a time; return their exit codes in order."""

    def one(args: list[str]) -> int:
        return subprocess.run([*INITSUP, *args], env=env(), timeout=60).returncode

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, argv_for))


def test_every_exit_code_passes_through() -> None:
    """Exit codes 0..255 of the command are initsup's own (C1)."""
    codes = _codes([["--", "sh", "-c", f"exit {c}"] for c in range(256)])
    assert codes == list(range(256))


def test_remap_inclusive_maps_each_code_to_zero() -> None:
    """`-e c` turns exit code c into 0, for every c in 0..255 (tini T1)."""
    codes = _codes([["-e", str(c), "--", "sh", "-c", f"exit {c}"] for c in range(256)])
    assert codes == [0] * 256


def test_remap_exclusive_leaves_other_codes() -> None:
    """With -e for all 255 other codes, code c still comes through unchanged (tini T2)."""
    samples = [0, 1, 2, 42, 127, 128, 254, 255]
    argv = []
    for c in samples:
        remaps = [f"-e{o}" for o in range(256) if o != c]
        argv.append([*remaps, "sh", "-c", f"exit {c}"])  # no `--`: options end at `sh`
    assert _codes(argv) == samples


@pytest.mark.parametrize(
    ("script", "expected"),
    [("kill -TERM $$", 143), ("kill -KILL $$", 137), ("kill -USR1 $$", 138)],
)
def test_death_by_signal_is_128_plus_signal(script: str, expected: int) -> None:
    """A command killed by signal N makes initsup exit 128+N (C2)."""
    assert run(["--", "sh", "-c", script]).returncode == expected


@pytest.mark.parametrize(("signum", "expected"), [(signal.SIGUSR1, 138), (signal.SIGUSR2, 140)])
def test_signal_sent_to_initsup_kills_command(signum: int, expected: int) -> None:
    """USR1/USR2 sent to initsup reach a command that keeps their default action (C2, T5)."""
    proc = Proc([*INITSUP, "--", "sh", "-c", "echo ready; exec sleep 100"])
    try:
        assert proc.readline() == "ready"
        os.kill(proc.pid, signum)
        assert proc.wait() == expected
    finally:
        proc.kill()


def test_remap_143_turns_term_death_into_zero() -> None:
    """`-e 143` makes a SIGTERM death exit 0, while `-e 3` leaves exit 4 alone (C4)."""
    assert run(["-e", "143", "--", "sh", "-c", "kill -TERM $$"]).returncode == 0
    assert run(["-e", "3", "--", "sh", "-c", "exit 4"]).returncode == 4


def test_missing_command_exits_127_with_message() -> None:
    """A command that does not exist gives 127 and one line on stderr (C3)."""
    result = run(["--", "/nonexistent"])
    assert result.returncode == 127
    assert result.stderr.decode().strip() == (
        "initsup: error: cannot run '/nonexistent': No such file or directory"
    )


def test_missing_command_on_path_exits_127() -> None:
    """A bare name found nowhere on PATH gives 127 (C3)."""
    result = run(["--", "no-such-command-anywhere"])
    assert result.returncode == 127
    assert b"no-such-command-anywhere" in result.stderr


def test_not_executable_exits_126(tmp_path: Path) -> None:
    """A file without execute permission, or a directory, gives 126 (C3)."""
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    for target in (str(script), str(tmp_path)):
        result = run(["--", target])
        assert result.returncode == 126, result.stderr
        assert result.stderr.count(b"\n") == 1


def test_exec_format_error_exits_126(tmp_path: Path) -> None:
    """An executable file that is neither a binary nor a #! script gives 126, as docker run does."""
    no_shebang = tmp_path / "no-shebang"
    no_shebang.write_text("echo hi\n")
    no_shebang.chmod(0o755)
    result = run(["--", str(no_shebang)])
    assert result.returncode == 126
    assert result.stderr.decode().strip().endswith("Exec format error")


def test_usage_errors_exit_2() -> None:
    """No command, an unknown option, or a bad -e value is a usage error: exit 2 (C5)."""
    bad: list[list[str]] = [
        [],
        ["--yolo"],
        ["-z"],
        ["-e", "300", "true"],
        ["-e"],
        ["--log-format", "xml", "true"],
    ]
    for args in bad:
        result = run(args)
        assert result.returncode == 2, args
        assert b"usage: initsup" in result.stderr, args


def test_help_and_version_exit_0() -> None:
    """-h and --version print to stdout and exit 0 (C5)."""
    helped = run(["-h"])
    assert helped.returncode == 0
    assert helped.stdout.startswith(b"usage: initsup")
    version = run(["--version"])
    assert version.returncode == 0
    assert version.stdout.startswith(b"initsup ")


def test_options_end_at_the_command() -> None:
    """Words after the command are the command's own, even when they look like options."""
    result = run(["sh", "-c", "echo $0 $1", "-g", "-e"])
    assert result.returncode == 0
    assert result.stdout == b"-g -e\n"


def test_main_child_exit_does_not_wait_for_descendants() -> None:
    """initsup exits with the command's code at once though a background child lives on (A6)."""
    script = "sleep 1000 >/dev/null 2>&1 & echo $!; exit 3"
    result = run(["--", "sh", "-c", script], timeout=20)
    assert result.returncode == 3
    orphan = int(result.stdout.split()[0])
    try:
        os.kill(orphan, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_python_module_and_console_script_agree() -> None:
    """`initsup.cli.main`, which the console script calls, returns the command's code."""
    result = subprocess.run(
        [
            PYTHON,
            "-c",
            "from initsup.cli import main; raise SystemExit(main(['sh', '-c', 'exit 5']))",
        ],
        env=env(),
        timeout=30,
    )
    assert result.returncode == 5
