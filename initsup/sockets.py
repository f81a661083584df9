"""Which socket module initsup's own sockets use: `_socket` when it has what they need.

The public `socket` module is a layer over the built-in `_socket` (enums, selectors,
array): about 0.45 MiB of an idle initsup with 50 programs, for methods initsup never
calls.  Each user names the attributes and socket methods it needs; any doubt about
`_socket` (missing, different, broken) means the public module.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def module(names: tuple[str, ...], methods: tuple[str, ...] = ()) -> Any:
    """`_socket` when it has every one of names and its socket type every one of
    methods, else `socket`; None when neither can be imported."""
    for candidate in ("_socket", "socket"):
        try:
            found = __import__(candidate)
            if all(hasattr(found, n) for n in names) and all(
                hasattr(found.socket, m) for m in methods
            ):
                return found
        except Exception:  # a broken module is one initsup does not use
            continue
    return None
