"""JSON for a long-running supervisor: the C codec that the json package itself runs on.

`json` imports `re` for its decoder's patterns, and the two stay in every supervisor's
memory (about 0.45 MiB) for code that never runs: json's speed comes from its C half,
`_json`, which every CPython has.  This module drives `_json` directly and gives what
`json.dumps(value, ensure_ascii=False, ...)` and `json.loads(text)` give, byte for byte.
Where `_json` is missing (another interpreter), it uses the json package instead.

The C decoder builds its error, json.decoder.JSONDecodeError, by importing json.decoder:
the first malformed document a supervisor meets imports `json` after all.  Well-formed
input, which is nearly all of it, never does.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # not CPython: the json package, which falls back to pure Python
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"  # JSON's whitespace, which may surround a document
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


def encoder(
    item_separator: str = ", ",
    key_separator: str = ": ",
    default: Callable[[Any], Any] | None = None,
) -> Callable[[Any], str]:
    """`json.dumps` with ensure_ascii=False and these separators and default.

    Without json's check for circular containers: what initsup encodes is built from
    parsed JSON and plain values and has no cycles, and were one there, the C encoder
    would end it with a RecursionError.
    """
    chunks: Callable[[Any, int], Any]
    if _json is not None:
        chunks = _json.make_encoder(
            None,  # markers: no circular check
            default or _not_serializable,
            _json.encode_basestring,
            None,  # indent
            key_separator,
            item_separator,
            False,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan
        )
    else:
        chunks = _fallback_encoder(item_separator, key_separator, default)
    return lambda value: "".join(chunks(value, 0))


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _fallback_encoder(
    item_separator: str, key_separator: str, default: Callable[[Any], Any] | None
) -> Callable[[Any, int], Any]:
    import json

    fallback = json.JSONEncoder(
        ensure_ascii=False,
        check_circular=False,
        separators=(item_separator, key_separator),
        default=default,
    )
    return lambda value, _level: fallback.iterencode(value, _one_shot=True)


class _ScannerContext:
    """What the C scanner reads from json.JSONDecoder: json.loads's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def _scanner() -> Callable[[str, int], tuple[Any, int]]:
    if _json is not None:
        # typeshed types the context as a scanner; the C code reads only the attributes.
        return _json.make_scanner(_ScannerContext())  # type: ignore[arg-type]
    import json

    return json.JSONDecoder().scan_once


def _string_encoder() -> Callable[[str], str]:
    if _json is not None:
        return _json.encode_basestring
    import json.encoder

    return json.encoder.py_encode_basestring


encode_string = _string_encoder()
"""A str as a JSON string literal, non-ASCII characters kept as they are."""

_scan = _scanner()

dumps = encoder()
"""`json.dumps(value, ensure_ascii=False)`."""

dumps_record = encoder(",", ":", default=repr)
"""A log record on one line: compact, and values JSON cannot hold as their repr."""


def loads(text: str) -> Any:
    """The value of one JSON document, as `json.loads` gives it; ValueError if malformed.

    Nesting too deep for the interpreter's recursion limit is a ValueError too, so that a
    hostile document is just malformed input to the caller.
    """
    if text.startswith("\ufeff"):
        raise ValueError("JSON text starts with a UTF-8 byte order mark")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value
