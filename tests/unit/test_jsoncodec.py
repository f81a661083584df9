"""initsup.jsoncodec gives what the json package gives, byte for byte, and fails as it does."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from initsup import jsoncodec
from tests.helpers import env

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
    if value in (float("inf"), float("-inf")):
        with pytest.raises(ValueError):
            jsoncodec.dumps_record(value)  # RFC 8259: a record never holds them
        return
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
        "12345678901234567890",
        "[1e308, -1e308, 5e-324, 1e-400]",
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
        # RFC 8259: json.loads takes these, initsup does not (they cannot be written back)
        "NaN",
        "[Infinity]",
        '{"x": -Infinity}',
        "1e999",
        '{"x": [-1E400]}',
        # malformed documents that made the C scanner raise SystemError on 3.10/3.11
        "{oops}",
        "[1, 2",
        "{a: b}",
        "{'a': 1}",
        "1" * 5000,  # past int's digit limit
        # a repeated name: json.loads keeps the last value, losing the others
        '{"dup": 1, "dup": 2}',
        '{"a": {"b": 1, "b": 1}}',
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


def test_the_fallback_encoder_refuses_nan_when_asked() -> None:
    chunks = jsoncodec._fallback_encoder(",", ":", repr, allow_nan=False)
    with pytest.raises(ValueError):
        "".join(chunks(float("nan"), 0))


def test_loads_falls_back_to_json_when_the_c_scanner_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any failure of the C path but ValueError: the json package decides."""

    def broken(text: str, start: int) -> Any:
        raise SystemError("returned NULL without setting an exception")

    monkeypatch.setattr(jsoncodec, "_scan", broken)
    assert jsoncodec.loads('{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    for text in ["{oops}", '{"x": NaN}', "1e999", "[" * 100_000]:
        with pytest.raises(ValueError):
            jsoncodec.loads(text)


def test_a_c_codec_that_fails_to_build_means_the_json_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Broken:
        def make_scanner(self, context: object) -> Any:
            raise RuntimeError("no scanner")

        def make_encoder(self, *args: object) -> Any:
            raise RuntimeError("no encoder")

    monkeypatch.setattr(jsoncodec, "_json", Broken())
    assert jsoncodec._c_scanner() is None
    assert jsoncodec.encoder(",", ":")({"a": [1]}) == '{"a":[1]}'
    monkeypatch.setattr(jsoncodec, "_scan", None)
    assert jsoncodec.loads('{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError):
        jsoncodec.loads("{oops}")


_FRESH = """
import sys
{prelude}
from initsup import jsoncodec
from tests.helpers import env
assert "json" not in sys.modules or {prelude!r}
for text in ["{{oops}}", "{{", "[1, 2", "{{a: b}}", "{{'a': 1}}", '{{"x": NaN}}', "1e999"]:
    try:
        jsoncodec.loads(text)
    except ValueError:
        continue
    raise SystemExit("accepted " + text)
assert jsoncodec.loads('{{"a": [1, "b"]}}') == {{"a": [1, "b"]}}
assert jsoncodec.dumps_record({{"a": [1, "\u00e9"]}}) == '{{"a":[1,"\u00e9"]}}'
print("ok")
"""


@pytest.mark.parametrize("prelude", ["", "sys.modules['_json'] = None"], ids=["c", "no-c"])
def test_malformed_documents_are_value_errors_in_a_fresh_interpreter(prelude: str) -> None:
    """Before anything imports json (CPython 3.10/3.11's SystemError), and without _json."""
    result = subprocess.run(
        [sys.executable, "-c", _FRESH.format(prelude=prelude)],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_an_encoder_failing_at_run_time_hands_the_value_to_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A C encoder that fails as json's never does (SystemError, say): json encodes."""

    def failing(*args: object) -> Any:
        raise SystemError("returned NULL without setting an exception")

    class Broken:
        encode_basestring = staticmethod(json.dumps)

        def make_encoder(self, *args: object) -> Any:
            return failing

    monkeypatch.setattr(jsoncodec, "_json", Broken())
    encode = jsoncodec.encoder(",", ":", default=repr, allow_nan=False)
    assert encode({"a": [1, "é"], "o": object}) == json.dumps(
        {"a": [1, "é"], "o": object}, ensure_ascii=False, separators=(",", ":"), default=repr
    )
    with pytest.raises(ValueError):
        encode(float("nan"))
