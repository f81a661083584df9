"""The base of the configuration model's classes: equality by content, repr, a dict view.

Kept apart from model.py so that model classes can live in more than one module
(model_notify.py) and still be one family: config/packing.py rebuilds every subclass.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Value:
    """Equality, repr and a dict view over __slots__, for every class of the model.

    config/packing.py sends subclasses through the forked reader's pipe field by field.
    """

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable values compared by content

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def as_dict(self) -> dict[str, Any]:
        """Every field, for `initsup check --json`."""
        return {n: _plain(getattr(self, n)) for n in self.__slots__}


def _plain(value: object) -> object:
    if isinstance(value, Value):
        return value.as_dict()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
