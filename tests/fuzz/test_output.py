"""Bytes in, records out: the relay's line handling and renderers in json, text and raw.

A program's output, in any chunking, through `line_handlers` (what PipeRelay runs): nothing
lost (the lines, split long lines and a last line without newline reassemble to the input,
invalid UTF-8 escaped as docs/logging.md says), nothing invented, and in json every record
strict JSON (RFC 8259) valid against docs/log-record.schema.json.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from initsup.logs import CONTEXT_KEYS, MOVED_SUFFIX, line_renderer
from initsup.output import line_handlers
from tests.supervised import SCHEMA

VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
PLAIN_KEYS = {"timestamp", "level", "event", "logger", "program", "group", "pid", "stream"}
TIMESTAMP = re.compile(SCHEMA["properties"]["timestamp"]["pattern"])
INITSUP_KEYS = {"timestamp", "level", "event", "logger", *CONTEXT_KEYS}

# JSON objects as programs print them, drawn from parts (cheap to generate: 100,000
# examples in minutes), with the keys the schema constrains and values of every type.
_KEYS = [*sorted(SCHEMA["properties"]), "x", "", "é", "pid_original", "event_original"]
_VALUES = [
    "0", "-1", "7", "1.5", "-0.0", "1e308", "12345678901234567890", "true", "false", "null",
    '""', '"x"', '"info"', '"initsup"', '"PROCESS_STATE_EXITED"', '"PROCESS_GROUP_ADDED"',
    '"SIGTERM"', '"RUNNING"', '"2026-12-02T17:24:18.123456Z"', '"2026-12-02 17:24:18"',
    '"\\ud800"', '"\\n\\u0000"', '"é 🙂"', "[]", '[1, "a", [null]]', '{"a": {"b": 1}}',
    "NaN", "-Infinity", "1e999",
]  # fmt: skip
_PAIRS = [f'"{k}": {v}' for k in _KEYS for v in _VALUES]
_OBJECTS = st.lists(st.integers(0, len(_PAIRS) - 1), max_size=4).map(
    lambda picks: ("{" + ", ".join(_PAIRS[i] for i in picks) + "}").encode()
)
_NOT_JSON = st.sampled_from(
    [b"{oops}", b"{", b"[1, 2", b"{a: b}", b"{'a': 1}", b'{"x": NaN}', b'{"y": 1e999}', b"{}"]
)
_LINES = st.one_of(st.binary(max_size=40), _OBJECTS, _NOT_JSON)


@st.composite
def _output(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A program's whole output, and the chunks a pipe delivers it in."""
    lines = draw(st.lists(_LINES, max_size=6))
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    if draw(st.booleans()):
        data += b"\n"
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    return data, chunks


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


def _relay(fmt: str, chunks: list[bytes], max_line: int) -> bytes:
    writer = _Writer()
    render = line_renderer(fmt, "p", "g", 7, "stdout")
    on_data, on_eof = line_handlers(render, writer, max_line)  # type: ignore[arg-type]
    for chunk in chunks:
        on_data(chunk)
    on_eof()
    return bytes(writer.data)


def _input_lines(data: bytes) -> list[bytes]:
    """The lines a program wrote: a last line without newline counts, an empty tail not."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _object(line: bytes) -> dict[str, Any] | None:
    """What the line is as strict JSON, if an object (Python's json as the oracle)."""
    text = line.decode("utf-8", "backslashreplace")
    if not (text[:1] == "{" and text.rstrip()[-1:] == "}"):
        return None
    try:
        value = json.loads(
            text, parse_constant=_refuse, parse_float=_finite, object_pairs_hook=_unique
        )
    except (ValueError, RecursionError):
        return None
    return _shown(value) if isinstance(value, dict) else None


def _shown(value: Any) -> Any:
    """A value as a record shows it: a lone surrogate as the text of its escape."""
    if isinstance(value, str):
        return "".join(map(_char_shown, value))
    if isinstance(value, list):
        return [_shown(item) for item in value]
    if isinstance(value, dict):
        return {_shown(k): _shown(v) for k, v in value.items()}
    return value


def _char_shown(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if 0xD800 <= code <= 0xDFFF else char


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("a repeated name: merging would lose a value")
    return dict(pairs)


def _finite(text: str) -> float:
    value = float(text)
    if abs(value) == float("inf"):
        raise ValueError(text)  # 1e999: only Infinity could write it back
    return value


def _check_merged(record: dict[str, Any], fields: dict[str, Any]) -> None:
    """Every value of the line is in the record, under its name or a moved one; no more."""
    for key, value in fields.items():
        names = [key + MOVED_SUFFIX * n for n in range(len(record))]
        assert any(n in record and record[n] == value for n in names), (key, record)
    for key in record:
        base = key
        while base.endswith(MOVED_SUFFIX) and base not in fields:
            base = base[: -len(MOVED_SUFFIX)]
        assert base in fields or key in INITSUP_KEYS, (key, record)


@given(_output(), st.integers(4, 48))  # a character (4 bytes at most) fits in a part
def test_json_records_are_the_lines_strict_and_valid(
    output: tuple[bytes, list[bytes]], max_line: int
) -> None:
    data, chunks = output
    out = _relay("json", chunks, max_line).split(b"\n")
    assert out.pop() == b""
    # Strict: UTF-8 with no lone surrogate (which serde rejects), no NaN or Infinity.
    records = [json.loads(line.decode("utf-8"), parse_constant=_refuse) for line in out]
    assert json.dumps(records, ensure_ascii=False).encode("utf-8")
    for record in records:
        assert list(record)[:4] == ["timestamp", "level", "event", "logger"]
        assert (record["program"], record["group"], record["pid"]) == ("p", "g", 7)
    plain: list[dict[str, Any]] = []
    for line in _input_lines(data):
        text = line.decode("utf-8", "backslashreplace")
        if len(line) > max_line:
            parts: list[dict[str, Any]] = []
            while not parts or not parts[-1]["last"]:
                parts.append(records.pop(0))
            assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
            assert "".join(p["event"] for p in parts) == text
            plain += parts
            continue
        record = records.pop(0)
        assert "part" not in record
        fields = _object(line)
        if fields is None:
            assert record["event"] == text
            plain.append(record)
        else:
            _check_merged(record, fields)
            VALIDATOR.validate(record)
    assert records == []  # nothing invented
    for i, record in enumerate(plain):
        # Plain records differ from one another only in their strings: jsonschema (slow)
        # validates the first, the rest get the checks the schema makes of those strings.
        if i == 0:
            VALIDATOR.validate(record)
        assert set(record) - {"part", "last"} == PLAIN_KEYS
        assert TIMESTAMP.fullmatch(record["timestamp"]) and record["level"] == "info"
        assert isinstance(record["event"], str) and record["stream"] == "stdout"
        assert record["logger"] == "p" and record.get("last", True) in (True, False)


@given(_output(), st.integers(4, 48))  # a character (4 bytes at most) fits in a part
def test_raw_is_the_bytes_as_they_came(output: tuple[bytes, list[bytes]], max_line: int) -> None:
    data, chunks = output
    lines = _input_lines(data)
    expected = b"".join(line + b"\n" for line in lines)
    if data and not data.endswith(b"\n"):
        expected = expected[:-1] + b"\n"  # the last line is ended when the stream ends
    assert _relay("raw", chunks, max_line) == expected


@given(_output(), st.integers(4, 48))  # a character (4 bytes at most) fits in a part
def test_text_lines_are_the_lines_prefixed(
    output: tuple[bytes, list[bytes]], max_line: int
) -> None:
    data, chunks = output
    out = _relay("text", chunks, max_line).split(b"\n")
    assert out.pop() == b""
    assert all(line.startswith(b"p | ") for line in out)
    pieces = [line[4:] for line in out]
    expected: list[bytes] = []
    for line in _input_lines(data):
        # A long line comes out in parts, each on a line of its own.
        rest = line
        while len(rest) > max_line:
            cut = len(pieces[len(expected)])
            assert 0 < cut <= max_line
            expected.append(rest[:cut])
            rest = rest[cut:]
        expected.append(rest)
    assert pieces == expected
