"""initsup.jsoncodec gives what the json package gives, byte for byte, and fails as it does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from initsup import jsoncodec

VALUES: list[Any] = [
    {},
    [],
    "",
    "plain",
    'quote " backslash \\ newline \n tab \t nul \x00 bell \x07',
    "non-ASCII: é ü 日本語 🙂",
    "a lone surrogate \udc80",
    0,
    -17,
    2**70,
    1.5,
    -0.0,
    1e300,
    float("inf"),
    float("-inf"),
    True,
    False,
    None,
    {"timestamp": "2026-12-02T17:24:18.123456Z", "level": "info", "event": "x", "pid": 7},
    {"nested": {"list": [1, [2, [3, {"k": None}]]], "empty": {}}, "n": 1},
    {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
    ("tuple", "as", "list"),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_dumps_matches_json(value: Any) -> None:
    assert jsoncodec.dumps(value) == json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_dumps_record_matches_compact_json(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
    assert jsoncodec.dumps_record(value) == expected


def test_nan_is_written_as_json_writes_it() -> None:
    assert jsoncodec.dumps({"x": float("nan")}) == '{"x": NaN}'


def test_records_hold_anything_through_repr() -> None:
    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    record = {"value": Odd(), "set": {1}}
    assert jsoncodec.dumps_record(record) == '{"value":"<odd>","set":"{1}"}'


def test_dumps_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsoncodec.dumps({"x": object()})
    with pytest.raises(TypeError):
        jsoncodec.dumps({("tuple", "key"): 1})


def test_a_cycle_ends_in_recursion_error_not_a_crash() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        jsoncodec.dumps(cycle)
    assert jsoncodec.dumps([1]) == "[1]"  # and the encoder still works afterwards


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '  {"a": [1, 2.5, -3e2, true, false, null, "é"]}  \n',
        '"\\u00e9\\ud83d\\ude42\\n"',
        "[NaN, Infinity, -Infinity]",
        "12345678901234567890",
        '{"dup": 1, "dup": 2}',
        '{"event": "x", "nested": {"deep": [[[]]]}}',
        "\t\r\n 7 \t\r\n",
    ],
)
def test_loads_matches_json(text: str) -> None:
    got, expected = jsoncodec.loads(text), json.loads(text)
    assert repr(got) == repr(expected)  # repr: NaN != NaN, but both print nan
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "{",
        "{hello}",
        '{"a": 1} trailing',
        '{"a": 1}{"b": 2}',
        "\ufeff{}",
        "'single'",
        '{"a": 1,}',
        '"control \x01 character"',
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=repr,
)
def test_loads_refuses_what_json_refuses_with_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        jsoncodec.loads(text)


def test_encode_string_is_jsons_string_escape() -> None:
    text = 'say "hi"\n\té\x1f'
    assert jsoncodec.encode_string(text) == json.dumps(text, ensure_ascii=False)


def test_the_fallback_encoder_gives_the_same_text() -> None:
    chunks = jsoncodec._fallback_encoder(",", ":", repr)
    for value in VALUES:
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
        assert "".join(chunks(value, 0)) == expected
