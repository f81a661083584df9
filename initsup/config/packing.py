"""The forked reader's answer: a Config (or the error that stopped it) as marshal-able data.

marshal, not pickle or json: it is built in (nothing to import at start-up), fast, and
cannot run code when the parent reads it, which matters because the parent is PID 1.
It takes only plain values, so model objects travel as tagged tuples of their fields and
are rebuilt without their __init__.  One answer of one of four kinds crosses the pipe:
`ok` (config, warnings), `usage` (one line), `config` (problems, warnings) or `failed`
(one line: anything else the child raised).  The parent accepts nothing else: a child
killed mid-answer, or one that is not initsup's, is a configuration error, never a crash.
"""

from __future__ import annotations

import marshal

from initsup import model
from initsup.errors import ConfigError, UsageError
from initsup.values import Value

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_PACKED = "\0initsup.model"  # marks a packed model Value: no configuration value is this string
_CLASSES = {cls.__name__: cls for cls in Value.__subclasses__()}  # for unpack


def answer(load: Callable[[], tuple[model.Config, list[str]]]) -> bytes:
    """In the reading child: load()'s result, or what went wrong, marshalled."""
    result: tuple[str, Any]
    try:
        result = ("ok", pack(load()))
    except UsageError as exc:
        result = ("usage", str(exc))
    except ConfigError as exc:  # the warnings too: they often explain a problem
        result = ("config", (list(exc.problems), list(exc.warnings)))
    except Exception as exc:  # anything else: the parent reports it
        result = ("failed", f"{type(exc).__name__}: {exc}")
    return marshal.dumps(result)


def decode(data: bytes) -> tuple[model.Config, list[str]]:
    """In the parent: the configuration the child sent, or the error it reported."""
    try:
        kind, value = marshal.loads(data)
        if kind == "ok":
            config, warnings = unpack(value)
            if isinstance(config, model.Config) and isinstance(warnings, list):
                return config, warnings
        elif kind == "usage" and isinstance(value, str) and value:
            raise UsageError(value)
        elif kind == "config" and isinstance(value, tuple) and len(value) == 2:
            problems, warnings = ([str(line) for line in part] for part in value)
            if problems and all(problems):
                raise ConfigError(problems, warnings)
        elif kind == "failed" and isinstance(value, str) and value:
            raise ConfigError([value])
    except (UsageError, ConfigError):
        raise
    except Exception as exc:  # a child killed mid-answer, or not initsup's child at all
        why = f"{type(exc).__name__}: {exc}"
        raise ConfigError([f"reading the configuration failed: {why}"]) from None
    raise ConfigError(["reading the configuration failed: an answer of no known kind"])


def pack(value: object) -> Any:
    """value with every model object in it turned into marshal-able tuples (see unpack)."""
    if isinstance(value, Value):
        fields = tuple(pack(getattr(value, n)) for n in value.__slots__)
        return (_PACKED, type(value).__name__, fields)
    if isinstance(value, list):
        return [pack(v) for v in value]
    if isinstance(value, tuple):
        return tuple(pack(v) for v in value)
    if isinstance(value, dict):
        return {k: pack(v) for k, v in value.items()}
    if isinstance(value, int) and type(value) not in (int, bool):
        return int(value)  # a signal's IntEnum: marshal takes exact ints only
    return value


def unpack(value: object) -> Any:
    """The model objects pack() was given, rebuilt without calling their __init__."""
    if isinstance(value, tuple):
        if len(value) == 3 and value[0] == _PACKED:
            cls = _CLASSES[value[1]]
            made = cls.__new__(cls)
            for name, field in zip(cls.__slots__, value[2]):
                setattr(made, name, unpack(field))
            return made
        return tuple(unpack(v) for v in value)
    if isinstance(value, list):
        return [unpack(v) for v in value]
    if isinstance(value, dict):
        return {k: unpack(v) for k, v in value.items()}
    return value
