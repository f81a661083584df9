"""Hostile program output in supervisor mode: lines that look like JSON but are not, JSON
that strict parsers reject or that would break the record schema, and faults in the JSON
path.  Every line a program writes arrives, in order, as one record valid against the
schema (tests/supervised.py validates each record it reads)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import INITSUP, ROOT, env
from tests.supervised import SCHEMA, Record, Supervised

Start = Callable[..., Supervised]

# Lines that start like JSON and are not: on CPython 3.10/3.11, before initsup imported
# `json`, each made _json's scanner raise SystemError, and the whole read was lost.
NOT_JSON = [
    "{oops}",
    "{",
    "[1, 2",
    "{a: b}",
    "{'a': 1, 'b': [2]}",
    '{"a": 1,}',
    '{"a": 1} {"b": 2}',
    '{"x": NaN}',
    '{"x": Infinity, "y": -Infinity}',
    '{"big": 1e999}',
    '{"dup": 1, "dup": 2}',
]

# A sitecustomize that makes the C codec unimportable: the public json module must do.
NO_C_JSON = "import sys\nsys.modules['_json'] = None\n"

# A sitecustomize that breaks the JSON parser for lines holding "boom": a renderer fault
# the relay must survive by degrading that one line to a plain record.
BROKEN_PARSER = """
import initsup.jsoncodec as codec

_loads = codec.loads


def loads(text):
    if "boom" in text:
        raise RuntimeError("injected fault")
    return _loads(text)


codec.loads = loads
"""


def _site(tmp_path: Path, code: str) -> dict[str, str]:
    """Variables that run code at the start of every Python process (a sitecustomize)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(code)
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def _program_lines(s: Supervised, last: str) -> list[Record]:
    s.wait(last, program="p")
    return [r for r in s.records if r.get("stream") == "stdout"]


def _printing(tmp_path: Path, lines: list[str]) -> str:
    """An INI whose one program writes lines (in one write, so one read) and then sleeps."""
    data = tmp_path / "lines.txt"
    data.write_text("".join(line + "\n" for line in lines))
    return (
        f"[program:p]\ncommand=sh -c 'cat {data}; exec sleep 100'\nstartsecs=0\nautorestart=false\n"
    )


@pytest.mark.parametrize("site", [None, NO_C_JSON], ids=["c-codec", "no-c-codec"])
def test_lines_that_look_like_json_arrive_as_text_with_their_neighbours(
    tmp_path: Path, supervise: Start, site: str | None
) -> None:
    """Each malformed or non-strict JSON line is one text record; nothing around it is lost."""
    lines = ["line-1", *NOT_JSON, "line-last"]
    variables = _site(tmp_path, site) if site else {}
    s = supervise(ini=_printing(tmp_path, lines), variables=variables)
    records = _program_lines(s, "line-last")
    assert [r["event"] for r in records] == lines
    assert not [r for r in s.records if r["level"] == "error"]
    assert s.stop() == 0


def test_a_fault_in_the_json_path_degrades_one_line_only(tmp_path: Path, supervise: Start) -> None:
    """A line whose rendering fails arrives as a plain record; its neighbours are merged."""
    lines = ['{"event": "before"}', '{"event": "boom"}', "plain boom", '{"event": "after"}']
    s = supervise(ini=_printing(tmp_path, lines), variables=_site(tmp_path, BROKEN_PARSER))
    records = _program_lines(s, "after")
    assert [r["event"] for r in records] == ["before", '{"event": "boom"}', "plain boom", "after"]
    assert s.stop() == 0


def test_json_lines_never_break_the_record_schema(tmp_path: Path, supervise: Start) -> None:
    """Values the schema forbids for a key are kept under `<key>_original`; NaN, Infinity
    and 1e999 make a line text.  Every record is strict JSON, valid against the schema."""
    lines = [
        '{"event": 5, "timestamp": [1], "level": null}',
        '{"event": "PROCESS_STATE_EXITED", "logger": ["initsup"], "pid": "x", "stream": 3}',
        '{"event": "e", "exit_code": -1, "signal": 9, "part": 0, "last": "no", "delay": -2}',
        '{"event": "kept", "timestamp": "2026-12-02T17:24:18.123456Z", "logger": "app.db"}',
        '{"x": NaN, "y": 1e999}',
        "PROCESS_STATE_EXITED is what a program may print too",
        "line-last",
    ]
    s = supervise(ini=_printing(tmp_path, lines))
    first, second, third, kept, text, state, _ = _program_lines(s, "line-last")
    assert first["event"] == ""
    assert (first["event_original"], first["timestamp_original"]) == (5, [1])
    assert first["level_original"] is None and first["level"] == "info"
    assert second["event"] == "PROCESS_STATE_EXITED"
    assert (second["logger"], second["logger_original"]) == ("p", ["initsup"])
    assert (second["pid_original"], second["stream_original"]) == ("x", 3)
    assert second["stream"] == "stdout"
    assert third["event"] == "e" and "part" not in third
    assert [third[k + "_original"] for k in ("exit_code", "signal", "part", "last", "delay")] == [
        -1,
        9,
        0,
        "no",
        -2,
    ]
    assert (kept["timestamp"], kept["logger"]) == ("2026-12-02T17:24:18.123456Z", "app.db")
    assert text["event"] == '{"x": NaN, "y": 1e999}'
    assert state["event"] == lines[-2]
    assert s.stop() == 0


@pytest.mark.parametrize("site", [None, NO_C_JSON], ids=["c-codec", "no-c-codec"])
def test_single_command_mode_keeps_every_line(tmp_path: Path, site: str | None) -> None:
    """`--log-format json -- COMMAND`: the same relay, the same guarantee."""
    lines = ["line-1", *NOT_JSON, '{"event": "merged"}', "line-last"]
    data = tmp_path / "lines.txt"
    data.write_text("".join(line + "\n" for line in lines))
    variables = _site(tmp_path, site) if site else {}
    result = subprocess.run(
        [*INITSUP, "--log-format", "json", "--", "cat", str(data)],
        env=env(**variables),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    for record in records:
        jsonschema.validate(record, SCHEMA)
    assert [r["event"] for r in records if r.get("stream")] == [*lines[:-2], "merged", "line-last"]
