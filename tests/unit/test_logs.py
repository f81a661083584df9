"""Unit tests for initsup.logs: timestamps, JSON and text rendering, child records, loggers."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from initsup.logs import (
    Logger,
    StderrSink,
    child_record,
    decode_line,
    line_renderer,
    message_renderer,
    messages_on_stdout,
    render_json,
    text_record,
    timestamp,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FIRST_KEYS = ["timestamp", "level", "event", "logger"]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe (read end, write end), both closed after the test."""
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        os.close(r)
        os.close(w)


# -- timestamp -------------------------------------------------------------------------


@pytest.mark.parametrize("wall", [0.0, 1.5, 1700000000.999999, 4102444800.0])
def test_timestamp_format(wall: float) -> None:
    """Timestamps are RFC 3339 UTC with exactly six fractional digits and a Z."""
    assert TIMESTAMP.match(timestamp(wall))


def test_timestamp_known_values() -> None:
    """Known epoch values render as the expected UTC date and time."""
    assert timestamp(0) == "1970-01-01T00:00:00.000000Z"
    assert timestamp(1700000000.5) == "2023-11-14T22:13:20.500000Z"
    assert timestamp(951782400.25) == "2000-02-29T00:00:00.250000Z"


def test_timestamp_microseconds_never_overflow() -> None:
    """A fraction just under one second stays within the same second."""
    assert timestamp(0.9999999) == "1970-01-01T00:00:00.999999Z"


# -- render_json -----------------------------------------------------------------------


def test_render_json_one_line() -> None:
    """A record renders as a single line of JSON ending in a newline, even with newlines in it."""
    data = render_json({"event": "two\nlines", "other": "a\r\nb"})
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1
    assert json.loads(data) == {"event": "two\nlines", "other": "a\r\nb"}


def test_render_json_keeps_key_order() -> None:
    """Keys come out in the record's order."""
    record = {"timestamp": "t", "level": "info", "event": "e", "logger": "initsup", "z": 1, "a": 2}
    assert list(json.loads(render_json(record))) == [*FIRST_KEYS, "z", "a"]


def test_render_json_unserialisable_falls_back_to_repr() -> None:
    """A value JSON cannot hold is rendered as its repr instead of failing."""

    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    decoded = json.loads(render_json({"event": "e", "thing": Thing(), "set": {1}}))
    assert decoded == {"event": "e", "thing": "<thing>", "set": "{1}"}


def test_render_json_non_ascii_is_utf8() -> None:
    """Non-ASCII text is written as UTF-8, not as \\u escapes."""
    data = render_json({"event": "café"})
    assert "café".encode() in data


# -- child_record ----------------------------------------------------------------------


def test_child_record_plain_text() -> None:
    """A plain line becomes an info record with the line as event and initsup's context."""
    record = child_record(b"hello world", "web", 42, "stdout")
    assert list(record)[:4] == FIRST_KEYS
    assert TIMESTAMP.match(record["timestamp"])
    assert record["level"] == "info"
    assert record["event"] == "hello world"
    assert record["logger"] == "web"
    assert record["program"] == "web"
    assert record["group"] == "web"
    assert record["pid"] == 42
    assert record["stream"] == "stdout"
    assert "part" not in record
    assert "last" not in record


def test_child_record_group() -> None:
    """An explicit group is used instead of the program name."""
    assert child_record(b"x", "web", 1, "stderr", group="frontend")["group"] == "frontend"


def test_child_record_merges_json_object() -> None:
    """A JSON-object line is merged: the child's event, level and fields are kept."""
    stamp = "2026-12-02T17:24:18.123456Z"
    line = b'{"event": "request", "level": "warning", "timestamp": "%s", "path": "/x", "n": 3}'
    record = child_record(line % stamp.encode(), "web", 7, "stdout")
    assert record["event"] == "request"
    assert record["level"] == "warning"
    assert record["timestamp"] == stamp
    assert record["path"] == "/x"
    assert record["n"] == 3
    assert record["logger"] == "web"
    assert list(record)[:4] == FIRST_KEYS


def test_child_record_context_keys_win() -> None:
    """program, group, pid and stream are always initsup's, whatever the child's JSON says."""
    line = b'{"event": "e", "program": "evil", "group": "g", "pid": 1, "stream": "nope"}'
    record = child_record(line, "web", 7, "stderr")
    assert record["program"] == "web"
    assert record["group"] == "web"
    assert record["pid"] == 7
    assert record["stream"] == "stderr"
    # ...and the child's own values are kept under another name.
    assert record["program_original"] == "evil"
    assert record["group_original"] == "g"
    assert record["pid_original"] == 1
    assert record["stream_original"] == "nope"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timestamp", "T"),
        ("timestamp", 1733400000.5),
        ("timestamp", "2026-12-02T17:24:18.123456+00:00"),
        ("timestamp", "2026-12-02T17:24:18.123456Z\n"),
        ("level", None),
        ("level", 30),
        ("event", 5),
        ("event", ["a"]),
        ("logger", {"name": "x"}),
        ("exception", 1),
        ("message", False),
        ("from_state", "NOWHERE"),
        ("tries", -1),
        ("tries", True),
        ("expected", "yes"),
        ("exit_code", 1.5),
        ("exit_code", -3),
        ("signal", "TERM"),
        ("delay", -1),
        ("delay", "soon"),
        ("part", 1),
        ("last", True),
    ],
)
def test_child_record_keeps_invalid_values_under_another_name(key: str, value: Any) -> None:
    """A value the record schema does not allow for its key is moved, not dropped."""
    line = json.dumps({key: value, "other": 1}).encode()
    record = child_record(line, "web", 7, "stdout")
    assert record[key + "_original"] == value
    assert record.get(key) != value
    assert record["other"] == 1
    if key == "event":
        assert record["event"] == ""


def test_child_record_moved_names_never_overwrite() -> None:
    """A moved value takes the next free name: the program's own keys stay as they are."""
    line = b'{"pid": 1, "pid_original": 2, "pid_original_original": 3}'
    record = child_record(line, "web", 7, "stdout")
    assert record["pid"] == 7
    assert record["pid_original"] == 2
    assert record["pid_original_original"] == 3
    assert record["pid_original_original_original"] == 1


def _refuse(name: str) -> Any:
    """parse_constant for strict (RFC 8259) parsing: NaN and infinities are errors."""
    raise ValueError(name)


@pytest.mark.parametrize(
    "line",
    [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b'{"x": 1e999}', b'{"x": -1e400}'],
)
def test_child_record_non_rfc_json_is_text(line: bytes) -> None:
    """NaN, infinities and numbers past the float range are not JSON: the line is text."""
    record = child_record(line, "web", 7, "stdout")
    assert record["event"] == line.decode()
    assert "x" not in record
    assert json.loads(render_json(record), parse_constant=_refuse)["event"] == line.decode()


def test_render_json_never_writes_nan_or_infinity() -> None:
    """initsup's own non-finite values are written as their repr: strict JSON only."""
    data = render_json({"event": "e", "a": float("nan"), "b": [float("inf")], "c": 1})
    assert json.loads(data, parse_constant=_refuse) == {
        "event": "e",
        "a": "nan",
        "b": "[inf]",
        "c": 1,
    }


def test_render_json_survives_a_failing_repr() -> None:
    """A value whose repr fails costs that value, not the record."""

    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert json.loads(render_json({"event": "e", "bad": Bad()})) == {
        "event": "e",
        "bad": "<unrenderable Bad>",
    }


def test_child_record_json_without_event() -> None:
    """A JSON object without an event gets an empty event, not the raw line."""
    record = child_record(b'{"msg": "hi"}', "web", 7, "stdout")
    assert record["event"] == ""
    assert record["msg"] == "hi"


def test_child_record_json_child_logger_kept() -> None:
    """A child's own logger name is kept."""
    record = child_record(b'{"event": "e", "logger": "app.db"}', "web", 7, "stdout")
    assert record["logger"] == "app.db"


def test_child_record_json_trailing_whitespace() -> None:
    """A JSON object followed by whitespace (a CR, say) is still merged."""
    record = child_record(b'{"event": "e", "k": 1} \r', "web", 7, "stdout")
    assert record["event"] == "e"
    assert record["k"] == 1


@pytest.mark.parametrize(
    "line", [b"[1,2]", b'"x"', b"{bad", b"{bad}", b"42", b"null", b"{}x", b' {"a": 1}']
)
def test_child_record_non_object_json_is_text(line: bytes) -> None:
    """A line that is not exactly a JSON object stays text, as the event."""
    record = child_record(line, "web", 7, "stdout")
    assert record["event"] == line.decode()
    assert record["level"] == "info"
    assert set(record) == {*FIRST_KEYS, "program", "group", "pid", "stream"}


def test_child_record_too_deeply_nested_json_is_text() -> None:
    """An object nested past the recursion limit is malformed input, kept whole as text."""
    line = b'{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    record = child_record(line, "web", 7, "stdout")
    assert record["event"] == line.decode()
    assert json.loads(render_json(record))["event"] == line.decode()


def test_child_record_invalid_utf8_escaped() -> None:
    """Invalid UTF-8 is kept as \\xff escapes in the text, never dropped."""
    record = child_record(b"caf\xc3\xa9 \xff\xfe", "web", 7, "stdout")
    assert record["event"] == "café \\xff\\xfe"
    assert json.loads(render_json(record))["event"] == "café \\xff\\xfe"


def test_decode_line_escapes() -> None:
    """decode_line turns invalid bytes into backslash escapes."""
    assert decode_line(b"a\xffb") == "a\\xffb"
    assert decode_line("ü".encode()) == "ü"


def test_child_record_split_line_parts() -> None:
    """A split line carries part and last; a part is never parsed as JSON."""
    first = child_record(b'{"event": "x"}', "web", 7, "stdout", part=1, last=False)
    assert first["event"] == '{"event": "x"}'
    assert first["part"] == 1
    assert first["last"] is False
    final = child_record(b"tail", "web", 7, "stdout", part=3, last=True)
    assert final["part"] == 3
    assert final["last"] is True
    assert list(final)[-2:] == ["part", "last"]


# -- text format -----------------------------------------------------------------------


def test_text_renderer() -> None:
    """A child's line in text format is `program | line` plus a newline, bytes untouched."""
    assert line_renderer("text", "web", "web", 1, "stdout")(b"hello", 0, True) == b"web | hello\n"
    assert line_renderer("text", "web", "web", 1, "stdout")(b"\xff", 0, True) == b"web | \xff\n"
    assert (
        line_renderer("text", "caf\u00e9", "g", 1, "stdout")(b"", 0, True) == "café | \n".encode()
    )


def test_raw_renderer_keeps_bytes_and_ends_only_whole_lines() -> None:
    """The raw renderer adds the newline back only to the last piece of a line."""
    raw = line_renderer("raw", "web", "web", 1, "stdout")
    assert raw(b"\xffab", 0, True) == b"\xffab\n"
    assert raw(b"part", 1, False) == b"part"


def test_text_record_info() -> None:
    """An info record in text format is `initsup | event`: the fields are for JSON only."""
    record = {
        "timestamp": "t",
        "level": "info",
        "event": "started",
        "logger": "initsup",
        "pid": 3,
        "command": "sleep",
    }
    assert text_record(record) == b"initsup | started\n"


def test_text_record_appends_traceback() -> None:
    """A record carrying an exception shows its traceback under the event."""
    record = {"level": "error", "event": "boom", "exception": "Traceback...\nValueError\n"}
    assert text_record(record) == b"initsup | error: boom\nTraceback...\nValueError\n"


def test_text_record_level_prefix_and_no_extras() -> None:
    """Other levels prefix the event with `level: `; no extras means no trailing space."""
    record = {"timestamp": "t", "level": "warning", "event": "careful", "logger": "initsup"}
    assert text_record(record) == b"initsup | warning: careful\n"


def test_text_record_defaults() -> None:
    """A record without level or logger is treated as info from initsup."""
    assert text_record({"event": "e"}) == b"initsup | e\n"


# -- Logger ----------------------------------------------------------------------------


def test_logger_threshold_hides_debug_at_info() -> None:
    """At level info, debug records are dropped and the rest are written."""
    records: list[dict[str, Any]] = []
    log = Logger(records.append, "info")
    log.debug("hidden")
    log.info("shown", pid=3)
    log.warning("warn")
    log.error("err")
    assert [r["event"] for r in records] == ["shown", "warn", "err"]
    assert [r["level"] for r in records] == ["info", "warning", "error"]
    assert not log.enabled("debug")
    assert log.enabled("info")


def test_logger_debug_level_shows_debug() -> None:
    """At level debug, debug records are written too."""
    records: list[dict[str, Any]] = []
    log = Logger(records.append, "debug")
    log.debug("visible")
    assert [r["event"] for r in records] == ["visible"]
    assert log.enabled("debug")


def test_logger_record_shape() -> None:
    """A record starts with timestamp, level, event and logger=initsup, then the fields."""
    records: list[dict[str, Any]] = []
    Logger(records.append).info("started", pid=3, command=["a", "b"])
    (record,) = records
    assert list(record) == [*FIRST_KEYS, "pid", "command"]
    assert TIMESTAMP.match(record["timestamp"])
    assert record["logger"] == "initsup"
    assert record["pid"] == 3


def test_logger_exception_has_traceback() -> None:
    """Logger.exception writes an error record with the exception's full traceback."""
    records: list[dict[str, Any]] = []
    log = Logger(records.append)

    def failing() -> None:
        raise ValueError("bad value")

    try:
        failing()
    except ValueError as exc:
        log.exception("internal error", exc=exc)
    (record,) = records
    assert record["level"] == "error"
    assert record["event"] == "internal error"
    text = record["exception"]
    assert text.startswith("Traceback (most recent call last):")
    assert "in failing" in text
    assert text.rstrip().endswith("ValueError: bad value")


def test_logger_internal_error_names_where_and_carries_on() -> None:
    """A bug the loop survived: one error record naming where, with the traceback."""
    records: list[dict[str, Any]] = []
    try:
        raise ValueError("bad value")
    except ValueError as exc:
        Logger(records.append).internal_error("Session.reap", exc)
    (record,) = records
    assert record["level"] == "error"
    assert record["event"] == "internal error in Session.reap; initsup carries on"
    assert record["exception"].rstrip().endswith("ValueError: bad value")


@pytest.mark.parametrize(
    ("log_format", "on_stdout"),
    [("json", True), ("text", True), ("raw", False), ("inherit", False)],
)
def test_messages_on_stdout_by_format(log_format: str, on_stdout: bool) -> None:
    """initsup's own records join the programs' on stdout only in the formatted modes."""
    assert messages_on_stdout(log_format) is on_stdout


@pytest.mark.parametrize(
    ("log_format", "render"),
    [("json", render_json), ("text", text_record), ("raw", text_record)],
)
def test_message_renderer_by_format(log_format: str, render: object) -> None:
    """initsup's own records are JSON lines in json, `initsup | ...` lines otherwise."""
    assert message_renderer(log_format) is render


def test_logger_unknown_level() -> None:
    """An unknown level name is a KeyError, not silently accepted."""
    with pytest.raises(KeyError):
        Logger(lambda record: None, "loud")


# -- StderrSink ------------------------------------------------------------------------


def test_stderr_sink_writes_plain_line(pipe: tuple[int, int]) -> None:
    """StderrSink writes `initsup: event` lines to its fd."""
    r, w = pipe
    sink = StderrSink(w)
    Logger(sink).info("started sleep as pid 3", pid=3)
    assert os.read(r, 1000) == b"initsup: started sleep as pid 3\n"


def test_stderr_sink_level_prefix(pipe: tuple[int, int]) -> None:
    """Levels other than info are written before the event."""
    r, w = pipe
    sink = StderrSink(w)
    sink({"timestamp": "t", "level": "error", "event": "cannot run 'x'", "logger": "initsup"})
    assert os.read(r, 1000) == b"initsup: error: cannot run 'x'\n"


def test_stderr_sink_survives_closed_reader() -> None:
    """A sink whose reader has gone loses the line without raising."""
    r, w = os.pipe()
    try:
        os.close(r)
        StderrSink(w)({"level": "info", "event": "lost"})
    finally:
        os.close(w)


@pytest.mark.parametrize(
    "line",
    [
        b"plain",
        b"",
        b'quote " and \\ backslash',
        b"tab\tnewline-free \x01 ctrl",
        b"caf\xc3\xa9 \xff\xfe",
        b'{"event": "merged", "n": 1}',
        b"{not json",
        b"\xf0\x9f\x98\x80 emoji",
    ],
)
def test_fast_json_renderer_matches_the_general_path(line: bytes) -> None:
    """JsonLineRenderer renders every line exactly as render_json(child_record(...)) does."""
    from initsup.logs import JsonLineRenderer

    fast = json.loads(JsonLineRenderer("web", "grp", 42, "stderr")(line, 0, True))
    slow = json.loads(render_json(child_record(line, "web", 42, "stderr", "grp")))
    assert list(fast) == list(slow)
    fast.pop("timestamp")
    slow.pop("timestamp")
    assert fast == slow


def test_fast_json_renderer_parts_take_the_general_path() -> None:
    """A part of a split line carries part and last, as child_record gives them."""
    from initsup.logs import JsonLineRenderer

    record = json.loads(JsonLineRenderer("web", "web", 1, "stdout")(b"abc", 2, False))
    assert (record["part"], record["last"], record["event"]) == (2, False, "abc")


BLOCK_LINES = [
    b"plain",
    b"",
    b'quote " and \\ backslash',
    b'a quote then n: "n "',
    b"tab\tnewline-free \x01 ctrl \r",
    b"caf\xc3\xa9 \xff\xfe truncated \xe2\x82",
    b"\xf0\x9f\x98\x80 emoji",
    b" {indented, not an object",
]


@pytest.mark.parametrize("merged", [False, True])
def test_json_block_renders_each_line_as_the_line_path_does(merged: bool) -> None:
    """block() gives, line for line, what __call__ gives (but for the one timestamp)."""
    from initsup.logs import JsonLineRenderer

    lines = BLOCK_LINES + ([b'{"event": "merged", "n": 1}'] if merged else [])
    renderer = JsonLineRenderer("web", "grp", 42, "stderr")
    block = renderer.block(b"\n".join(lines) + b"\n")
    assert block.endswith(b"\n") and block.count(b"\n") == len(lines)
    for rendered, line in zip(block.split(b"\n"), lines):
        one, other = json.loads(rendered), json.loads(renderer(line, 0, True))
        assert list(one) == list(other)
        one.pop("timestamp")
        other.pop("timestamp")
        assert one == other


@pytest.mark.parametrize("fmt", ["text", "raw"])
def test_text_and_raw_blocks_are_the_lines_rendered_one_by_one(fmt: str) -> None:
    renderer = line_renderer(fmt, "caf\u00e9", "g", 1, "stdout")
    data = b"\n".join(BLOCK_LINES) + b"\n"
    assert renderer.block(data) == b"".join(renderer(line, 0, True) for line in BLOCK_LINES)


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"event": "x", "name": "a\udcffb"}, {"event": "x", "name": "a\\xffb"}),
        (
            {"event": "lone \ud800 high", "k": ["\udfff"]},
            {"event": "lone \\ud800 high", "k": ["\\udfff"]},
        ),
        ({"event": "pair \U0001f642"}, {"event": "pair \U0001f642"}),
    ],
)
def test_render_json_writes_no_lone_surrogate(
    fields: dict[str, Any], shown: dict[str, Any]
) -> None:
    """Strict UTF-8 out: an undecodable byte (U+DCFF) is the text \\xff, a lone surrogate the
    text of its escape, as RFC 8259 parsers such as serde's reject lone surrogates."""
    data = render_json(fields)
    assert json.loads(data.decode("utf-8")) == shown


def test_merged_lone_surrogate_escape_is_kept_as_text() -> None:
    """A program's JSON escape of a lone surrogate comes out as the escape's text."""
    data = render_json(child_record(b'{"event": "e", "s": "\\ud800"}', "web", 7, "stdout"))
    assert json.loads(data.decode("utf-8"))["s"] == "\\ud800"


def test_a_program_name_with_an_undecodable_byte_gives_strict_utf8() -> None:
    """The fast path too: a name from a non-UTF-8 variable (INITSUP_PROGRAM_X\\xff)."""
    render = line_renderer("json", "x\udcff", "x\udcff", 7, "stdout")
    for data in (render(b"line", 0, True), render.block(b"a\nb\n"), render(b"p", 1, False)):
        for line in data.splitlines():
            assert json.loads(line.decode("utf-8"))["program"] == "x\\xff"
