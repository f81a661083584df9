"""Properties of reloads: whatever the order of SIGHUPs, `ctl reread`/`update`, reloadConfig's
diffs, restarts, finished reads and applies and a shutdown, one reload runs at a time,
SIGHUPs coalesce, every ctl request is answered once, in order, and every restart ends in
one new start; and whatever bytes the configuration's reader
sends back, the parent gets a configuration or a ConfigError, never anything else."""

from __future__ import annotations

import marshal
import types
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from initsup import events, model
from initsup import reload as reloads
from initsup.config import packing
from initsup.errors import ConfigError, UsageError

OPS = st.lists(
    st.sampled_from(
        [
            "hup",
            "reread",
            "update",
            "diff",
            "restart",
            "read ok",
            "read bad",
            "read slow",
            "applied",
            "timers",
        ]
    ),
    max_size=40,
)


class _Harness:
    """A stand-in Supervisor and loop around a real Reloads, driven one step at a time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.shutting_down = False
        self.restarting = False
        self.restarts = 0  # restarts asked
        self.restarted_with: list[object] = []  # each restart's new start: config or None
        self.configured: list[object] = []
        self.groups: dict[str, object] = {}
        self.timers: list[Callable[[], None]] = []
        self.watches: list[Any] = []  # every read started, the last one current
        self.applies: list[Callable[[list[str]], None]] = []  # applies not yet finished
        self.answers: list[tuple[int, list[str], list[str]]] = []
        self.refused = 0
        self.subscribers: list[Callable[[events.Event], None]] = []
        self.bus = types.SimpleNamespace(subscribe=self.subscribers.append)
        self.clock = 0.0  # moves on by a second at each "timers" step
        self.loop = types.SimpleNamespace(
            call_later=self._timer, call_at=self._timer, clock=lambda: self.clock
        )
        self.logger = types.SimpleNamespace(error=self._error, warning=lambda _: None)
        self.owners = types.SimpleNamespace(add=lambda pid, owner: None, forget=lambda *_: None)
        harness = self

        class Watch:
            def __init__(self, loader: object, loop: object, done: Any, failed: Any) -> None:
                assert not harness.busy(), "a second read while one runs or applies"
                self.loader, self.done, self.failed, self.over = loader, done, failed, False
                harness.watches.append(self)

            def cancel(self) -> None:
                self.over = True

        monkeypatch.setattr(reloads, "Watch", Watch)
        monkeypatch.setattr(reloads, "apply", lambda host, diff, done: host.apply(diff, done))
        reader = lambda: types.SimpleNamespace(pid=0, status=0)  # noqa: E731
        self.reloads = reloads.Reloads(self, reader)  # type: ignore[arg-type]

    def _timer(self, _: float, callback: Callable[[], None]) -> Any:
        timer = types.SimpleNamespace(cancelled=False)
        timer.cancel = lambda: setattr(timer, "cancelled", True)
        self.timers.append(lambda: None if timer.cancelled else callback())
        return timer

    def _error(self, message: str) -> None:
        assert message.startswith(("reload refused: ", "restart refused: "))
        self.refused += 1

    def busy(self) -> bool:
        return bool(self.applies) or any(not w.over for w in self.watches)

    def apply(self, diff: object, done: Callable[[list[str]], None]) -> None:
        assert not self.applies, "a second apply while one runs"
        self.applies.append(done)

    def answer(self, number: int) -> Callable[[list[str], list[str]], None]:
        return lambda lines, problems: self.answers.append((number, lines, problems))

    def diff_answer(self, number: int) -> Callable[[object, list[str]], None]:
        return lambda names, problems: self.answers.append((number, [], problems))

    def finish_read(self, how: str) -> None:
        watch = next((w for w in self.watches if not w.over), None)
        if watch is None:
            return
        watch.over = True
        if how == "read slow":
            watch.failed("reading the configuration took longer than 30 s")
            return
        config = types.SimpleNamespace(groups=[])
        if how == "read ok":
            watch.loader = types.SimpleNamespace(pid=0, status=0, result=lambda: (config, []))
        else:
            watch.loader = types.SimpleNamespace(pid=0, status=0, result=_bad)
        watch.done(watch.loader)

    def run_timers(self, advance: float = 1.0) -> None:
        self.clock += advance
        timers, self.timers = self.timers, []
        for timer in timers:
            timer()

    def restart(self) -> None:
        """Supervisor.restart with every program stopped at once."""
        if self.restarting or self.shutting_down:
            return
        self.restarts += 1
        self.restarting = self.shutting_down = True
        for subscriber in self.subscribers:
            subscriber(events.supervisor_state(running=False))
        self.reloads.restart_read()

    def restarted(self, config: object) -> None:
        assert self.restarting, "a new start with no restart under way"
        self.restarted_with.append(config)
        self.restarting = self.shutting_down = False

    def shutdown(self) -> None:
        self.restarting = False
        self.shutting_down = True
        for subscriber in self.subscribers:
            subscriber(events.supervisor_state(running=False))


def _bad() -> tuple[model.Config, list[str]]:
    raise ConfigError(["r.ini: [program:a] startsecs = soon: not a number"])


@given(ops=OPS)
@example(ops=["update", "read ok", "restart"])  # a shutdown overtakes a queued restart
def test_one_reload_at_a_time_and_every_request_answered(ops: list[str]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        h = _Harness(monkeypatch)
        asked = hups = 0
        for op in ops:
            if op == "hup":
                hups += 1
                h.reloads.ask(None, apply=True)
            elif op in ("reread", "update"):
                h.reloads.ask(h.answer(asked), apply=op == "update")
                asked += 1
            elif op == "diff":
                h.reloads.ask_diff(h.diff_answer(asked))
                asked += 1
            elif op == "restart":
                h.restart()
            elif op.startswith("read"):
                h.finish_read(op)
            elif op == "applied" and h.applies:
                h.applies.pop()([])
            elif op == "timers":
                h.run_timers()
            queued = h.reloads._queue
            assert sum(reloads._is_sighup(r) for r in queued) <= 1  # SIGHUPs coalesce
        # Shutting down answers what waits; an apply still running finishes on its own.
        h.shutdown()
        reads = len(h.watches)
        while h.applies or h.timers:
            if h.applies:
                h.applies.pop()([])
            h.run_timers()
        assert [number for number, _, _ in h.answers] == list(range(asked))
        assert not h.reloads._queue and h.reloads._current is None
        assert len(h.watches) <= asked + hups + h.restarts
        assert len(h.watches) == reads  # no read starts once shutting down
        assert len(h.restarted_with) <= h.restarts  # one new start each, or the shutdown


def test_sighups_taken_at_one_wake_up_are_one_reload() -> None:
    """Three SIGHUPs handled in one pass start one read, at the end of the pass; one more
    during that read is one reload after it, a second after its end."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        h = _Harness(monkeypatch)
        for _ in range(3):
            h.reloads.ask(None, apply=True)
        assert h.watches == []
        h.run_timers()
        assert len(h.watches) == 1
        h.reloads.ask(None, apply=True)
        h.reloads.ask(None, apply=True)
        h.finish_read("read ok")
        h.applies.pop()([])
        h.run_timers(advance=0.5)
        assert len(h.watches) == 1  # not yet: a second after the last one's end
        h.run_timers(advance=0.5)
        assert len(h.watches) == 2
        assert not h.reloads._queue


# -- what comes back through the pipe ---------------------------------------------------

# What a reader can send: an answer of any shape, whole or cut off where it was killed.
# (Not arbitrary bytes: marshal trusts the sizes it reads and would allocate gigabytes
# for a made-up one, which no reader of initsup's writes.)
ANSWERS = st.builds(
    lambda kind, value, cut: marshal.dumps((kind, value))[:cut],
    st.sampled_from(["ok", "usage", "config", "failed", "other"]),
    st.recursive(
        st.none() | st.integers() | st.text(max_size=8) | st.binary(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner, inner),
        max_leaves=8,
    ),
    st.integers(min_value=0, max_value=200),
)


@given(data=ANSWERS)
def test_any_answer_is_a_configuration_or_a_configuration_error(data: bytes) -> None:
    try:
        config, warnings = packing.decode(data)
    except (ConfigError, UsageError) as exc:
        assert str(exc)
        return
    assert isinstance(config, model.Config) and isinstance(warnings, list)
