"""What every XML-RPC method shares: supervisord's faults, answers that come later, the
method table's entries, and the few conversions its values need.

supervisord's clients switch on the fault codes and print the fault strings, so both are
supervisord's own (its `Faults` and `RPCError`): code 10 is BAD_NAME and its string
`BAD_NAME: web`.  Kept apart from the dispatcher (control/xmlrpc.py) so the method
modules can use them without importing the dispatcher that imports them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.process import Process

    # finish(value or Fault): how a method that answers later gives its one answer.
    Finish = Callable[[Any], None]

# supervisord's fault codes by name (supervisor/xmlrpc.py's Faults).
FAULTS = {
    "UNKNOWN_METHOD": 1,
    "INCORRECT_PARAMETERS": 2,
    "BAD_ARGUMENTS": 3,
    "SIGNATURE_UNSUPPORTED": 4,
    "SHUTDOWN_STATE": 6,
    "BAD_NAME": 10,
    "BAD_SIGNAL": 11,
    "NO_FILE": 20,
    "NOT_EXECUTABLE": 21,
    "FAILED": 30,
    "ABNORMAL_TERMINATION": 40,
    "SPAWN_ERROR": 50,
    "ALREADY_STARTED": 60,
    "NOT_RUNNING": 70,
    "SUCCESS": 80,
    "ALREADY_ADDED": 90,
    "STILL_RUNNING": 91,
    "CANT_REREAD": 92,
}

MAXINT = 2**31 - 1  # XML-RPC's <int> is 32 bits signed; Python's marshaller refuses more
MININT = -(2**31)

# Characters XML 1.0 cannot carry at all: a program's output may hold any of them (ANSI
# colours start with ESC), and a response holding one is unreadable to every client.
NOT_XML = {
    **{c: "\ufffd" for c in range(32) if c not in (9, 10, 13)},
    0xFFFE: "\ufffd",
    0xFFFF: "\ufffd",
}


class Fault(Exception):
    """supervisord's RPCError: a fault code and `NAME` or `NAME: detail` as its string."""

    def __init__(self, name: str, detail: object = None) -> None:
        self.code = FAULTS[name]
        self.text = name if detail is None else f"{name}: {detail}"
        super().__init__(self.text)


class Later:
    """An answer that comes later: run(finish) starts the work, and the work calls
    finish(value or Fault) once, now or when the processes concerned have settled."""

    __slots__ = ("run",)

    def __init__(self, run: Callable[[Finish], None]) -> None:
        self.run = run


class Method:
    """One entry of the method table: the function, what it takes, what it returns.

    `params` are XML-RPC type names checked before the call ('string', 'int',
    'boolean', 'array', 'struct'; 'signal' is a string or an int, 'any' is checked by
    the method); the last `optional` of them may be left out.  `guarded` methods fault
    SHUTDOWN_STATE while initsup shuts down or restarts, as supervisord's do.
    """

    __slots__ = ("function", "guarded", "help", "optional", "params", "returns")

    def __init__(
        self,
        function: Callable[..., Any],
        returns: str,
        params: tuple[str, ...],
        help: str,
        optional: int = 0,
        guarded: bool = True,
    ) -> None:
        self.function: Callable[..., Any] = function  # function(host, *params)
        self.returns = returns
        self.params = params
        self.help = help
        self.optional = optional
        self.guarded = guarded

    def signature(self) -> list[str]:
        """[return type, parameter types...] as system.methodSignature gives it."""
        return [self.returns, *("string" if p in ("signal", "any") else p for p in self.params)]


def once(finish: Finish) -> Finish:
    """finish, called at most once: later calls (a wait that settles after the answer
    went out another way) are dropped."""
    done: list[bool] = []

    def first(outcome: Any) -> None:
        if not done:
            done.append(True)
            finish(outcome)

    return first


def capped(value: float) -> int:
    """An int within XML-RPC's range (supervisord's capped_int: timestamps after 2038)."""
    return max(MININT, min(MAXINT, int(value)))


def text(data: bytes) -> str:
    """Output bytes as a string any XML-RPC client can read: UTF-8 (a broken sequence,
    as at the ring's cut, becomes U+FFFD) without the characters XML forbids."""
    return data.decode("utf-8", "replace").translate(NOT_XML)


def group_result(process: Process, outcome: object) -> dict[str, Any]:
    """One process's entry of a group answer: SUCCESS and OK, or the fault's code and
    string (supervisord's make_allfunc)."""
    if isinstance(outcome, Fault):
        status, description = outcome.code, outcome.text
    else:
        status, description = FAULTS["SUCCESS"], "OK"
    return {
        "name": process.name,
        "group": process.group,
        "status": status,
        "description": description,
    }
