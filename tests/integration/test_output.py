"""Relaying the command's output: inherited by default, or as JSON, text or raw lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import jsonschema

from tests.helpers import INITSUP, PYTHON, ROOT, env, proc_status, started, wait_for

SCHEMA = json.loads((ROOT / "docs" / "log-record.schema.json").read_text())


def _records(stdout: bytes) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in stdout.decode().splitlines()]
    for record in records:
        jsonschema.validate(record, SCHEMA)
        assert list(record)[:4] == ["timestamp", "level", "event", "logger"]
    return records


def _json_run(script: str) -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(
        [*INITSUP, "--log-format", "json", "--", "sh", "-c", script],
        env=env(),
        capture_output=True,
        timeout=60,
    )
    return result.returncode, _records(result.stdout)


def test_default_output_is_inherited_unchanged() -> None:
    """By default the command writes to initsup's own stdout and stderr directly, as under tini."""
    result = subprocess.run(
        [*INITSUP, "--", "sh", "-c", "echo out; echo err >&2; ls -l /proc/self/fd/1"],
        env=env(),
        capture_output=True,
        timeout=30,
    )
    assert result.stdout.startswith(b"out\n")
    assert result.stderr == b"err\n"
    assert b"pipe:" in result.stdout


def test_json_lines_carry_program_stream_and_pid() -> None:
    """Each output line becomes one JSON record with program, stream and pid."""
    code, records = _json_run("echo hello; echo oops >&2; exit 4")
    assert code == 4
    by_stream = {r["stream"]: r for r in records}
    assert by_stream["stdout"]["event"] == "hello"
    assert by_stream["stderr"]["event"] == "oops"
    assert by_stream["stdout"]["program"] == by_stream["stdout"]["logger"] == "sh"
    assert by_stream["stdout"]["pid"] == by_stream["stderr"]["pid"] > 0


def test_json_object_lines_are_merged() -> None:
    """A line that is a JSON object keeps its own fields instead of being escaped into a string."""
    line = '{"event": "user logged in", "level": "warning", "user": "ann", "n": 3}'
    _, records = _json_run(f"echo '{line}'")
    (record,) = records
    assert record["event"] == "user logged in"
    assert record["level"] == "warning"
    assert record["user"] == "ann"
    assert record["n"] == 3
    assert record["stream"] == "stdout"


def test_invalid_utf8_and_missing_newline_lose_nothing() -> None:
    """Invalid UTF-8 is escaped and a last line without newline still arrives."""
    _, records = _json_run(r"printf 'caf\303\251 \377\376 end\n'; printf 'tail'")
    assert [r["event"] for r in records] == ["café \\xff\\xfe end", "tail"]


def test_long_line_is_split_into_marked_parts() -> None:
    """A line longer than the limit arrives as numbered parts that join to the original."""
    _, records = _json_run("head -c 40000 /dev/zero | tr '\\0' x; echo; echo short")
    parts = [r for r in records if "part" in r]
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
    assert [p["last"] for p in parts] == [False] * (len(parts) - 1) + [True]
    assert "".join(p["event"] for p in parts) == "x" * 40000
    assert records[-1]["event"] == "short"
    assert "part" not in records[-1]


def test_text_format_prefixes_each_line() -> None:
    """--log-format text writes `program | line` for both streams."""
    result = subprocess.run(
        [*INITSUP, "--log-format", "text", "--", "sh", "-c", "echo a; echo b >&2"],
        env=env(),
        capture_output=True,
        timeout=30,
    )
    assert sorted(result.stdout.splitlines()) == [b"sh | a", b"sh | b"]


def test_raw_format_relays_bytes_unchanged() -> None:
    """--log-format raw passes stdout and stderr bytes through untouched."""
    result = subprocess.run(
        [*INITSUP, "--log-format", "raw", "--", "sh", "-c", r"printf 'a\377'; printf 'b' >&2"],
        env=env(),
        capture_output=True,
        timeout=30,
    )
    assert result.stdout == b"a\xff"
    assert result.stderr == b"b"


def test_every_line_arrives_through_a_slow_reader_with_bounded_memory(tmp_path: Path) -> None:
    """200,000 lines through a reader that stalls first: none lost, in order, memory bounded."""
    count = 200_000
    writer = f"import sys\nfor i in range({count}): sys.stdout.write(f'line {{i}}\\n')\n"
    script = tmp_path / "writer.py"
    script.write_text(writer)
    with started([*INITSUP, "--log-format", "json", "--", PYTHON, str(script)]) as proc:
        # Nobody reads yet: initsup's buffer fills, it stops reading the child, the child blocks.
        wait_for(lambda: proc_status(proc.pid).get("State", "").startswith("S"))
        rss_stalled = _rss_kib(proc.pid)
        stdout = proc.popen.stdout
        assert stdout is not None
        os.set_blocking(stdout.fileno(), True)
        data = stdout.read()
        assert proc.wait(60) == 0
    events = [json.loads(line)["event"] for line in data.splitlines()]
    assert events == [f"line {i}" for i in range(count)]
    assert rss_stalled < 64 * 1024, f"initsup RSS {rss_stalled} KiB while stalled"


def _rss_kib(pid: int) -> int:
    return int(proc_status(pid)["VmRSS"].split()[0])


def test_output_written_just_before_exit_is_flushed() -> None:
    """Output the command writes right before it exits is all relayed before initsup exits."""
    code, records = _json_run("seq 1 5000; exit 0")
    assert code == 0
    assert [r["event"] for r in records] == [str(i) for i in range(1, 5001)]


def test_initsup_messages_are_json_in_json_mode() -> None:
    """initsup's own messages (here: a failed exec) are JSON records with logger initsup."""
    result = subprocess.run(
        [*INITSUP, "--log-format", "json", "--", "/nonexistent"],
        env=env(),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 127
    (record,) = _records(result.stdout)
    assert record["logger"] == "initsup"
    assert record["level"] == "error"
    assert "/nonexistent" in record["event"]


def test_signals_still_forwarded_while_relaying() -> None:
    """Relaying output does not change signal forwarding: TERM still ends the command."""
    with started(
        [*INITSUP, "--log-format", "json", "--", "sh", "-c", "echo up; exec sleep 1000"]
    ) as proc:
        assert json.loads(proc.readline())["event"] == "up"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait() == 143
