"""JSON for a long-running supervisor: the C codec that the json package itself runs on.

`json` imports `re` for its decoder's patterns, and the two stay in every supervisor's
memory for code that never runs: json's speed comes from its C half, `_json`, which every
CPython has.  This module drives `_json` directly and gives what
`json.dumps(value, ensure_ascii=False, ...)` and a strict `json.loads(text)` give, byte
for byte.  Measured on CPython 3.11 (December 2026): `import json` adds 23 modules and
about 1.3 MiB of peak RSS to a fresh interpreter, and `json.loads` takes 1.2 us where the
scanner here takes 0.8 us for a typical structlog line, so the C path is kept.

It is kept only where it works: without `_json`, or when `_json` fails in any way but a
ValueError for malformed input, the json package does the work.  That matters: on CPython
3.10 and 3.11 the C scanner builds its error from json.decoder without importing it, so
until something imports `json` a malformed document raises SystemError.  The first
malformed document a supervisor meets may so import `json` after all; well-formed input,
which is nearly all of it, never does.
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
_INF = float("inf")


def encoder(
    item_separator: str = ", ",
    key_separator: str = ": ",
    default: Callable[[Any], Any] | None = None,
    allow_nan: bool = True,
) -> Callable[[Any], str]:
    """`json.dumps` with ensure_ascii=False and these separators, default and allow_nan.

    Without json's check for circular containers: what initsup encodes is built from
    parsed JSON and plain values and has no cycles, and were one there, the C encoder
    would end it with a RecursionError.
    """
    chunks = _c_encoder(item_separator, key_separator, default, allow_nan)
    if chunks is None:
        fallback = _fallback_encoder(item_separator, key_separator, default, allow_nan)
        return lambda value: "".join(fallback(value, 0))
    c_chunks = chunks

    def encode(value: Any) -> str:
        try:
            return "".join(c_chunks(value, 0))
        except (ValueError, TypeError, RecursionError):
            raise  # what json.dumps raises too: NaN refused, no default, a cycle
        except Exception:  # the C encoder failed in a way json's never does: use json
            fallback = _fallback_encoder(item_separator, key_separator, default, allow_nan)
            return "".join(fallback(value, 0))

    return encode


def _c_encoder(
    item_separator: str,
    key_separator: str,
    default: Callable[[Any], Any] | None,
    allow_nan: bool,
) -> Callable[[Any, int], Any] | None:
    if _json is None:
        return None
    try:
        return _json.make_encoder(
            None,  # markers: no circular check
            default or _not_serializable,
            _json.encode_basestring,
            None,  # indent
            key_separator,
            item_separator,
            False,  # sort_keys
            False,  # skipkeys
            allow_nan,
        )
    except Exception:  # an unusual _json: the json package does the same work
        return None


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _fallback_encoder(
    item_separator: str,
    key_separator: str,
    default: Callable[[Any], Any] | None,
    allow_nan: bool = True,
) -> Callable[[Any, int], Any]:
    import json

    fallback = json.JSONEncoder(
        ensure_ascii=False,
        check_circular=False,
        separators=(item_separator, key_separator),
        default=default,
        allow_nan=allow_nan,
    )
    return lambda value, _level: fallback.iterencode(value, _one_shot=True)


def _finite(text: str) -> float:
    """A JSON number as a float; ValueError past the float range (1e999), which JSON
    output could only write back as the non-standard Infinity."""
    value = float(text)
    if value in (_INF, -_INF):
        raise ValueError(f"number out of range: {text}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose names are unique (RFC 8259 says they should be): a dict would keep
    only the last value of a repeated name, and the others would be lost unseen."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("JSON object with a repeated name")
    return value


class _ScannerContext:
    """What the C scanner reads from json.JSONDecoder: strict RFC 8259 numbers."""

    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(_unique)
    parse_float = staticmethod(_finite)
    parse_int = int
    parse_constant = staticmethod(_no_constant)


def _c_scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    if _json is None:
        return None
    try:
        # typeshed types the context as a scanner; the C code reads only the attributes.
        return _json.make_scanner(_ScannerContext())  # type: ignore[arg-type]
    except Exception:  # an unusual _json: the json package does the same work
        return None


def _public_loads(text: str) -> Any:
    """The json package's decoder, with the same strict rules as the C scanner here."""
    import json

    try:
        return json.loads(
            text, object_pairs_hook=_unique, parse_float=_finite, parse_constant=_no_constant
        )
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _string_encoder() -> Callable[[str], str]:
    if _json is not None and callable(getattr(_json, "encode_basestring", None)):
        return _json.encode_basestring
    import json.encoder

    return json.encoder.py_encode_basestring


encode_string = _string_encoder()
"""A str as a JSON string literal, non-ASCII characters kept as they are."""

_scan = _c_scanner()

dumps = encoder()
"""`json.dumps(value, ensure_ascii=False)`."""

dumps_record = encoder(",", ":", default=repr, allow_nan=False)
"""A log record on one line: compact, and values JSON cannot hold as their repr.

ValueError for NaN and infinities, which RFC 8259 parsers reject: a record never holds
them (logs.render_json writes such a value as its repr)."""


def loads(text: str) -> Any:
    """The value of one JSON document, as `json.loads` gives it, but strict: ValueError
    for malformed input, for what RFC 8259 does not allow (NaN, Infinity, -Infinity, and
    numbers past the float range such as 1e999, which could only be written back as
    Infinity) and for an object with a repeated name (whose values but the last would be
    lost).  Nothing but ValueError for any text.

    Nesting too deep for the interpreter's recursion limit is a ValueError too, so that a
    hostile document is just malformed input to the caller.
    """
    if text.startswith("\ufeff"):
        raise ValueError("JSON text starts with a UTF-8 byte order mark")
    if _scan is None:
        return _public_loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError:
        raise
    except Exception:
        # CPython 3.10 and 3.11 build the scanner's error from json.decoder without
        # importing it: until something imports json, a malformed document raises
        # SystemError.  Whatever went wrong in the C path, the json package decides.
        return _public_loads(text)
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value
