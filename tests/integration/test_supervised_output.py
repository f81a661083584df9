"""Output in supervisor mode: JSON lines (merged structlog records), text, raw, log files
with supervisord's rotation, NONE, and a million lines through a stalled reader."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.helpers import INITSUP, PYTHON, Proc, env, kill_tree, proc_status, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]

STRUCTLOG_APP = """
import structlog
structlog.configure(processors=[
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.JSONRenderer(),
])
structlog.get_logger().warning("payment failed", order=42, amount=9.5)
"""


def test_structlog_records_are_merged_as_fields(tmp_path: Path, supervise: Start) -> None:
    """A real structlog app's JSON lines arrive as fields, not as an escaped string."""
    app = tmp_path / "app.py"
    app.write_text(STRUCTLOG_APP)
    s = supervise(ini=f"[program:shop]\ncommand={PYTHON} {app}\nstartsecs=0\nautorestart=false\n")
    record = s.wait("payment failed", program="shop")
    assert record["level"] == "warning"
    assert record["order"] == 42
    assert record["amount"] == 9.5
    assert record["stream"] == "stdout"
    assert record["logger"] == "shop"
    assert record["timestamp"].endswith("Z") or "+00:00" in record["timestamp"]
    assert s.stop() == 0


def test_streams_invalid_utf8_long_lines_and_no_final_newline(supervise: Start) -> None:
    """stdout and stderr lines, escaped bytes, split long lines and a last unterminated line."""
    script = (
        r"printf 'out\n'; printf 'err\n' >&2; printf 'bad \377\n'; "
        r"head -c 20000 /dev/zero | tr '\0' y; echo; printf 'tail'"
    )
    s = supervise(ini=f'[program:p]\ncommand=sh -c "{script}"\nstartsecs=0\nautorestart=false\n')
    s.wait("PROCESS_STATE_EXITED", program="p")
    s.wait("tail", program="p")
    assert s.stop() == 0
    lines = [r for r in s.records if r.get("stream")]
    assert {(r["event"], r["stream"]) for r in lines} >= {("out", "stdout"), ("err", "stderr")}
    assert any(r["event"] == "bad \\xff" for r in lines)
    parts = [r for r in lines if "part" in r]
    assert "".join(p["event"] for p in parts) == "y" * 20000
    assert parts[-1]["last"] is True


def test_redirect_stderr_sends_stderr_as_stdout(supervise: Start) -> None:
    """redirect_stderr=true delivers the program's stderr on its stdout stream."""
    s = supervise(
        ini="[program:r]\ncommand=sh -c 'echo oops >&2'\nredirect_stderr=true\nstartsecs=0\n"
        "autorestart=false\n"
    )
    record = s.wait("oops", program="r")
    assert record["stream"] == "stdout"
    assert s.stop() == 0


def _run_to_end(tmp_path: Path, ini: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    config = tmp_path / "c.ini"
    config.write_text(ini)
    return subprocess.run(
        [*INITSUP, "-c", str(config), *args], env=env(), capture_output=True, timeout=60
    )


def test_text_format_prefixes_lines_and_words_events(tmp_path: Path) -> None:
    """log_format=text: `name | line` for output, supervisord's words for lifecycle events."""
    result = _run_to_end(
        tmp_path,
        "[initsup]\nlog_format=text\n[program:hello]\ncommand=echo hi\nstartsecs=0\n"
        "autorestart=false\nessential=true\n",
    )
    assert result.returncode == 0
    out = result.stdout.decode().splitlines()
    assert "hello | hi" in out
    assert any(line.startswith("initsup | spawned: 'hello' with pid ") for line in out)
    assert "initsup | exited: hello (exit status 0; expected)" in out


def test_raw_format_keeps_bytes_and_streams(tmp_path: Path) -> None:
    """--log-format raw: stdout bytes unchanged; stderr and initsup's words on stderr."""
    result = _run_to_end(
        tmp_path,
        "[program:bytes]\ncommand=sh -c \"printf 'a\\\\377\\\\n'; printf 'b\\\\n' >&2\"\n"
        "startsecs=0\nautorestart=false\nessential=true\n",
        "--log-format",
        "raw",
    )
    assert result.returncode == 0
    assert result.stdout == b"a\xff\n"
    assert b"b\n" in result.stderr
    assert b"initsup | spawned: 'bytes'" in result.stderr


def test_log_files_rotate_like_supervisord(tmp_path: Path) -> None:
    """stdout_logfile with maxbytes and backups: the output is in the file and its backups."""
    log = tmp_path / "out.log"
    result = _run_to_end(
        tmp_path,
        f"[program:chatty]\ncommand=sh -c 'for i in $(seq 1 300); do echo line-$i; done'\n"
        f"stdout_logfile={log}\nstdout_logfile_maxbytes=1KB\nstdout_logfile_backups=2\n"
        "stderr_logfile=NONE\nstartsecs=0\nautorestart=false\nessential=true\n",
    )
    assert result.returncode == 0
    # How often it rotated depends on how the output was read (supervisord rotates after
    # a write that reaches maxbytes); what must hold for any reading is checked here.
    assert log.exists() and (tmp_path / "out.log.1").exists()
    assert not (tmp_path / "out.log.3").exists()
    names = [n for n in ("out.log.2", "out.log.1", "out.log") if (tmp_path / n).exists()]
    kept = "".join((tmp_path / n).read_text() for n in names)
    assert kept.endswith("line-300\n")
    numbers = [int(line[5:]) for line in kept.splitlines()]
    assert numbers == list(range(numbers[0], 301))  # the newest, in order, nothing missing
    assert b"line-1\n" not in result.stdout  # not on the stream as well


def test_stdout_none_discards(tmp_path: Path) -> None:
    """stdout_logfile=NONE sends the program's output nowhere."""
    result = _run_to_end(
        tmp_path,
        "[program:quiet]\ncommand=echo secret\nstdout_logfile=NONE\nstartsecs=0\n"
        "autorestart=false\nessential=true\n",
    )
    assert result.returncode == 0
    assert b"secret" not in result.stdout


def test_million_lines_through_a_stalled_reader(tmp_path: Path) -> None:
    """1,000,000 lines with a reader that stalls: none lost, in order, memory bounded."""
    count = 1_000_000
    writer = tmp_path / "writer.py"
    writer.write_text(
        f"import sys\nw = sys.stdout.write\nfor i in range({count}): w(f'{{i}}\\n')\n"
    )
    config = tmp_path / "c.ini"
    config.write_text(
        f"[program:flood]\ncommand={PYTHON} {writer}\nstartsecs=0\nautorestart=false\n"
        "essential=true\n"
    )
    proc = Proc([*INITSUP, "-c", str(config)], env=env())
    try:
        # Nobody reads: initsup fills its buffer, stops reading the program, which blocks.
        wait_for(lambda: proc_status(proc.pid)["State"].startswith("S"))
        time.sleep(0.5)  # only widens the window in which growth would show
        stalled = _rss_kib(proc.pid)
        stdout = proc.popen.stdout
        assert stdout is not None
        os.set_blocking(stdout.fileno(), True)
        peak, expected = stalled, 0
        for seen, raw in enumerate(stdout, 1):
            record = json.loads(raw)
            if record.get("stream") == "stdout":
                assert record["event"] == str(expected)
                expected += 1
            if seen % 50_000 == 0:
                peak = max(peak, _rss_kib(proc.pid))
        assert proc.wait(60) == 0
    finally:
        kill_tree(proc.pid)
        proc.kill()
    assert expected == count
    assert peak - stalled < 8 * 1024, f"RSS grew from {stalled} to {peak} KiB"
    assert stalled < 48 * 1024, f"RSS {stalled} KiB while stalled"


def _rss_kib(pid: int) -> int:
    try:
        return int(proc_status(pid)["VmRSS"].split()[0])
    except (OSError, KeyError):
        return 0


def test_runs_with_standard_fds_closed(tmp_path: Path) -> None:
    """Started with stdin, stdout and stderr closed, initsup still supervises and exits right."""
    config = tmp_path / "c.ini"
    config.write_text(
        "[program:job]\ncommand=sh -c 'echo out; echo err >&2; exit 4'\nstartsecs=0\n"
        "autorestart=false\nessential=true\n"
    )
    command = " ".join([*INITSUP, "-c", str(config)])
    result = subprocess.run(
        ["sh", "-c", f"exec {command} <&- >&- 2>&-"], env=env(), capture_output=True, timeout=30
    )
    assert result.returncode == 4
    single = subprocess.run(
        ["sh", "-c", f"exec {' '.join(INITSUP)} --log-format json -- sh -c 'exit 5' >&- 2>&-"],
        env=env(),
        timeout=30,
    )
    assert single.returncode == 5


# "started" goes out before the fork: were the child first, its unterminated words would
# run into the line and make it "last words without a newlinestarted".
LINGERING_CHILD = """
import os, sys
os.write(1, b"started\\n")
if os.fork() == 0:  # outlives the program, holding its stdout open
    with open(sys.argv[1], "w") as f:
        f.write(str(os.getpid()))
    os.write(1, b"last words without a newline")
    os.execvp("sleep", ["sleep", "60"])
os.execvp("sleep", ["sleep", "60"])
"""


def test_a_last_line_held_open_by_a_programs_child_is_written_at_exit(
    tmp_path: Path, supervise: Start
) -> None:
    """A program's child that outlives it keeps the pipe open: at initsup's exit, the
    unterminated line it wrote is still relayed."""
    app, pidfile = tmp_path / "app.py", tmp_path / "child.pid"
    app.write_text(LINGERING_CHILD)
    s = supervise(ini=f"[program:p]\ncommand={PYTHON} {app} {pidfile}\nstartsecs=0\n")
    s.wait("started", program="p")
    wait_for(lambda: pidfile.exists() and pidfile.read_text() != "")
    try:
        assert s.stop() == 0
        assert any(r.get("event") == "last words without a newline" for r in s.records)
    finally:
        try:
            os.kill(int(pidfile.read_text()), 9)
        except ProcessLookupError:
            pass
