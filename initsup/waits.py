"""Waiting for processes to change or settle: the one place anything waits on them.

Three kinds of waiters, all told of every state transition of every process through
`changed()`, which the supervisor calls after each one:

- watchers (`watch`), called at once with the process that changed: the listener pools
  (a listener that became RUNNING may take an event) and anything else that follows
  states;
- barriers (`all_settled`): shutdown tiers and reload swaps wait until every process of
  a set has stopped.  They are checked in a later loop pass (after changes, or when
  recheck_soon() asks), never in the middle of a transition, because what they then do
  (stop the next tier, swap a group) must not run inside the Process that is still
  changing state;
- per-process reports (`each_settled`): a `ctl start/stop/restart` answer takes each
  process's line as it settles (a restart's start must see the state the stop left),
  then answers once all have, in the order they were named.  Any error in that is the
  request's, handed to on_error, never an exception into the supervisor.
"""

from __future__ import annotations

from initsup.states import STOPPED_STATES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from initsup.process import Process

    R = TypeVar("R")
    Settled = Callable[[Process], bool]


class Waits:
    """Every watcher and wait on the processes of one supervisor."""

    def __init__(self, call_soon: Callable[[Callable[[], None]], object]) -> None:
        self._call_soon = call_soon  # runs a callback in a later loop pass
        self._watchers: list[Callable[[Process], None]] = []
        self._barriers: list[tuple[list[Process], Settled, Callable[[], None]]] = []
        self._check_pending = False

    def changed(self, process: Process) -> None:
        """Tell every waiter that process has changed state (after each transition)."""
        for watcher in list(self._watchers):
            watcher(process)
        if self._barriers:
            self.recheck_soon()  # after this transition has finished, not in its middle

    def watch(self, callback: Callable[[Process], None]) -> Callable[[], None]:
        """Call callback(process) on every change, synchronously; returns `forget`."""
        self._watchers.append(callback)

        def forget() -> None:
            if callback in self._watchers:
                self._watchers.remove(callback)

        return forget

    # -- barriers: shutdown tiers and reload swaps -------------------------------------

    def all_settled(
        self, processes: list[Process], settled: Settled, done: Callable[[], None]
    ) -> None:
        """Call done() once, in a later pass, when every process is settled at one check.

        Checks come after a change of any process, or at recheck_soon(): a caller that
        asks processes to stop calls it after its requests (some may settle at once
        without any change, being stopped already)."""
        self._barriers.append((processes, settled, done))

    @property
    def waiting(self) -> bool:
        """Whether some barrier has not been passed yet."""
        return bool(self._barriers)

    def recheck_soon(self) -> None:
        """Re-check the barriers in a later pass (after a batch of requests that may have
        settled some processes at once, e.g. a SIGKILL to every program)."""
        if not self._check_pending:
            self._check_pending = True
            self._call_soon(self._check)

    def _check(self) -> None:
        self._check_pending = False
        barriers, self._barriers = self._barriers, []
        for processes, settled, done in barriers:
            if all(settled(p) for p in processes):
                done()
            else:
                self._barriers.append((processes, settled, done))

    # -- per-process reports: control's answers ----------------------------------------

    def each_settled(
        self,
        processes: list[Process],
        settled: Settled,
        report: Callable[[Process], R],
        done: Callable[[list[R]], None],
        on_error: Callable[[BaseException], None],
    ) -> Callable[[], None]:
        """Take report(p) when each process first settles (inside `changed`); once all
        have, done(reports in the order of processes).  An empty list is done at once.
        An exception from settled, report or done forgets the wait and goes to
        on_error.  Returns `forget` (for a client that leaves before the answer)."""
        order = list(processes)
        if not order:
            done([])
            return _nothing
        reports: dict[int, R] = {}

        def settle(process: Process) -> None:
            if process not in order or id(process) in reports:
                return
            if not settled(process):
                return
            reports[id(process)] = report(process)
            if len(reports) < len(order):
                return
            forget()
            done([reports[id(p)] for p in order])

        def changed(process: Process) -> None:
            # Called by the supervisor after a transition: a failure here is the
            # waiter's, never the supervisor's.
            try:
                settle(process)
            except Exception as exc:
                forget()
                on_error(exc)

        forget = self.watch(changed)
        for process in order:  # some may have settled already
            changed(process)
        return forget


def _nothing() -> None:
    pass


def stopped(process: Process) -> bool:
    """The settled state of shutdown tiers, reload swaps and `ctl stop`: stopped for now."""
    return process.state in STOPPED_STATES
