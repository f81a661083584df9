"""Where a control command's answer goes (the Reply), and the answers every command shares.

A command writes its answer to a Reply line by line (the control socket's connection is
one; the `POST /initsup/ctl` route's is another) and never to a socket.  The helpers here
word what supervisorctl says alike for every command: a usage error followed by the
command's help, a name that means no process, and the loop that handles names one at a
time as supervisorctl does.
"""

from __future__ import annotations

from initsup.control import api

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Protocol

    class Reply(Protocol):
        """Where a command's answer goes, line by line, then its exit code."""

        def out(self, text: str) -> None: ...  # a line for stdout
        def err(self, text: str) -> None: ...  # a line for stderr
        def data(self, text: str) -> None: ...  # text to write as it is (tail)
        def json(self, value: Any) -> None: ...  # a value to print as JSON
        def finish(self, code: int) -> None: ...  # the exit code: the answer is complete
        def fail(self, event: str, what: str, exc: BaseException) -> None: ...  # log, answer
        def when_gone(self, forget: Callable[[], None]) -> None: ...  # on the client's end
        def stream(self, forget: Callable[[], None]) -> None: ...  # answer until it goes

    # each(name, answered): handle one name, then answered(exit code, 0 for success).
    Each = Callable[[str, Callable[[int], None]], None]


_NO_SUCH = {
    api.NO_SUCH_GROUP: "no such group",
    api.NO_SUCH_PROCESS: "no such process",
    api.AMBIGUOUS: "ambiguous: use GROUP:NAME",
}


def miss(reason: tuple[str, str]) -> str:
    """supervisorctl's line for a name that means no process."""
    name, why = reason
    return f"{name}: ERROR ({_NO_SUCH[why]})"


def usage(reply: Reply, error: str, command: str, code: int = 1) -> None:
    """A usage error as supervisorctl answers it: the error line, the command's help."""
    from initsup.control.helptext import help_lines  # the texts wait for a usage error

    reply.out(error)
    for line in help_lines(command):
        reply.out(line)
    reply.finish(code)


def in_turn(names: Iterable[str], each: Each, then: Callable[[int], None]) -> None:
    """Handle names one at a time, each once the one before is answered, as supervisorctl
    calls the server once per name; then(code) with the last error's code (0: none).

    A loop, not a chain of callbacks: names answered at once (a miss, a signal) do not
    nest, however many a request holds.
    """
    pending = iter(names)
    code = 0
    phase = ""  # "calling": inside each(); "answered": it answered at once; "waiting"

    def answered(result: int) -> None:
        nonlocal code, phase
        code = result or code
        if phase == "calling":
            phase = "answered"  # at once: the loop below goes on
        else:
            advance()  # later, from the loop: go on from here

    def advance() -> None:
        nonlocal phase
        for name in pending:
            phase = "calling"
            each(name, answered)
            if phase != "answered":
                phase = "waiting"
                return
        then(code)

    advance()


FOLLOW_HEAD = 1024  # what `-f` shows of the past before following: supervisord's /logtail


def byte_count(modifier: str | None) -> int | None:
    """-BYTES's count (1600 without one), None for -f; ValueError for anything else.

    Only ASCII digits: int() would take "²" and "_" too.
    """
    if modifier is None:
        return 1600
    what = modifier[1:]
    if what == "f":
        return None
    if modifier.startswith("-") and what.isascii() and what.isdigit():
        return int(what)
    raise ValueError(modifier)
