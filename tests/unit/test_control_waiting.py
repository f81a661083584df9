"""A request that waits for processes (start, stop, restart) fails as a request: an error
answer and a close, never an exception into the supervisor that called it back."""

from __future__ import annotations

from typing import Any

from initsup import control


class _Sup:
    def __init__(self) -> None:
        self.watchers: list[Any] = []


class _Connection:
    def __init__(self) -> None:
        self.sup = _Sup()
        self.cleanups: list[Any] = []
        self.failed: list[tuple[str, str, Exception]] = []

    def fail(self, event: str, what: str, exc: Exception) -> None:
        self.failed.append((event, what, exc))

    def out(self, text: str) -> None:
        raise AssertionError("no answer lines expected")


def test_a_failing_report_is_the_requests_failure() -> None:
    """report() raising while the supervisor tells of a change: the request fails, the
    watcher is removed, the supervisor's call returns normally."""
    c = _Connection()
    process = object()
    settled = {"now": False}

    def report(p: Any) -> tuple[str, int]:
        raise RuntimeError("boom")

    waiting = control._Waiting(
        c,  # type: ignore[arg-type]
        [process],  # type: ignore[list-item]
        lambda p: settled["now"],
        report,
        lambda code: None,
    )
    assert c.sup.watchers == [waiting._changed]
    settled["now"] = True
    for watcher in list(c.sup.watchers):
        watcher(process)  # must not raise
    assert [what for _, what, _ in c.failed] == ["failed"]
    assert c.sup.watchers == []
