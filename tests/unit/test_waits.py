"""Waits: the one place anything waits for processes to change or settle.

A request that waits for processes (start, stop, restart) fails as a request: an error
answer and a close, never an exception into the supervisor that called it back.  Shutdown
tiers and reload swaps pass their barrier in a later loop pass, never inside a transition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from initsup.waits import Waits


class _Soon:
    """A stand-in for loop.call_later(0, ...): callbacks run when the test says."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, callback: Callable[[], None]) -> None:
        self.pending.append(callback)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for callback in pending:
            callback()


def test_a_failing_report_is_the_requests_failure() -> None:
    """report() raising while the supervisor tells of a change: the request fails, the
    watcher is removed, the supervisor's call returns normally."""
    waits = Waits(_Soon())
    process: Any = object()
    settled = {"now": False}
    failed: list[BaseException] = []

    def report(p: Any) -> tuple[str, int]:
        raise RuntimeError("boom")

    waits.each_settled([process], lambda p: settled["now"], report, _no_answer, failed.append)
    assert len(waits._watchers) == 1
    settled["now"] = True
    waits.changed(process)  # must not raise
    assert [str(exc) for exc in failed] == ["boom"]
    assert waits._watchers == []


def test_each_settled_answers_in_the_order_asked() -> None:
    """Reports are taken as each process settles; done gets them in the order given."""
    waits = Waits(_Soon())
    a: Any = object()
    b: Any = object()
    settled: set[int] = set()
    answers: list[list[str]] = []
    names = {id(a): "a", id(b): "b"}
    waits.each_settled(
        [a, b],
        lambda p: id(p) in settled,
        lambda p: names[id(p)],
        answers.append,
        _no_error,
    )
    settled.add(id(b))
    waits.changed(b)
    assert answers == []
    settled.add(id(a))
    waits.changed(a)
    assert answers == [["a", "b"]]
    assert waits._watchers == []


def test_each_settled_of_nothing_is_done_at_once() -> None:
    """An empty list is answered at once, and forgetting it is harmless."""
    waits = Waits(_Soon())
    answers: list[list[object]] = []
    forget = waits.each_settled([], lambda p: True, lambda p: p, answers.append, _no_error)
    assert answers == [[]]
    forget()
    assert waits._watchers == []


def test_forget_stops_the_wait() -> None:
    """A client that leaves: its wait hears nothing more."""
    waits = Waits(_Soon())
    process: Any = object()
    answers: list[list[object]] = []
    forget = waits.each_settled([process], lambda p: True, lambda p: p, answers.append, _no_error)
    assert answers == [[process]]  # already settled: answered at once
    forget()  # harmless after the answer, too
    settled = {"now": False}
    forget = waits.each_settled(
        [process], lambda p: settled["now"], lambda p: p, answers.append, _no_error
    )
    forget()
    settled["now"] = True
    waits.changed(process)
    assert answers == [[process]]


def test_all_settled_is_checked_in_a_later_pass() -> None:
    """A barrier's done() runs from call_soon, once, when all are settled at one check."""
    soon = _Soon()
    waits = Waits(soon)
    a: Any = object()
    b: Any = object()
    settled: set[int] = set()
    done: list[str] = []
    waits.all_settled([a, b], lambda p: id(p) in settled, lambda: done.append("done"))
    assert waits.waiting
    assert soon.pending == []  # checked after a change, or when asked to
    settled.add(id(a))
    waits.changed(a)
    soon.run()
    assert done == []
    settled.add(id(b))
    waits.changed(b)
    assert done == []  # never in the middle of the transition
    soon.run()
    assert done == ["done"]
    assert not waits.waiting
    waits.changed(b)
    assert soon.pending == []


def test_settled_already_needs_recheck_soon() -> None:
    """Processes settled from the start pass at the check recheck_soon() asks for."""
    soon = _Soon()
    waits = Waits(soon)
    done: list[str] = []
    waits.all_settled([object()], lambda p: True, lambda: done.append("done"))  # type: ignore[list-item]
    waits.recheck_soon()
    assert done == []
    soon.run()
    assert done == ["done"]


def test_recheck_soon_coalesces() -> None:
    """Many changes in one pass make one check."""
    soon = _Soon()
    waits = Waits(soon)
    process: Any = object()
    waits.all_settled([process], lambda p: False, lambda: None)
    for _ in range(5):
        waits.changed(process)
    waits.recheck_soon()
    assert len(soon.pending) == 1


def test_watchers_hear_every_change_until_forgotten() -> None:
    """watch() callbacks run synchronously on each change; forget removes them."""
    waits = Waits(_Soon())
    process: Any = object()
    heard: list[object] = []
    forget = waits.watch(heard.append)
    waits.changed(process)
    forget()
    forget()
    waits.changed(process)
    assert heard == [process]


def _no_answer(reports: list[Any]) -> None:
    raise AssertionError("no answer expected")


def _no_error(exc: BaseException) -> None:
    raise AssertionError(f"no error expected: {exc!r}")
