"""Stopping everything: the drain, then shutdown tiers, then SIGKILL on a second request.

As supervisord, groups stop in reverse order of their priority (a [group:x]'s own, else
its program's), those of one priority together; within a group its programs' priorities
only order the requests, all sent at once.  initsup adds two things:

- dependencies (depends_on=): a program stops before what it depends on, its tier
  coming first whatever the priorities say;
- the drain ([initsup] drain=SECONDS): from the first shutdown signal the container is
  no longer ready (/readyz turns 503), but programs are stopped only after the drain,
  so load balancers stop sending first.  A second shutdown signal ends the drain and
  stops at once; a third kills.
"""

from __future__ import annotations

from initsup.states import STOPPED_STATES, ProcessState
from initsup.waits import stopped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from initsup.logs import Logger
    from initsup.loop import Timer
    from initsup.model import GroupConfig
    from initsup.pools import Pools
    from initsup.process import Process
    from initsup.waits import Waits

    class Host(Protocol):
        processes: dict[str, Process]
        groups: dict[str, GroupConfig]
        waits: Waits
        logger: Logger
        pools: Pools | None  # listener pools: None without an [eventlistener:x]

        def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...
        def depths(self) -> dict[str, int]: ...  # program -> dependency depth


# The longest listeners are given to take the events waiting for them before they are
# stopped themselves: enough for a listener that keeps up, short against a grace period.
LISTENER_GRACE = 2.0


class Stopping:
    """The stops of one supervisor: stop_all's tiers, the drain, the kill."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._drain: Timer | None = None
        self._done: Callable[[], None] | None = None  # what comes after the drain
        self.stopping = False  # stop_all's tiers are under way (drain over)

    @property
    def draining(self) -> bool:
        return self._drain is not None

    def drain_then_stop(self, seconds: float, done: Callable[[], None]) -> None:
        """Wait seconds, then stop everything and call done()."""
        if seconds <= 0:
            self.stop_all(done)
            return
        self._host.logger.info(
            f"draining for {seconds:g} s before stopping programs (readiness fails from now)",
            drain=seconds,
        )
        self._done = done
        self._drain = self._host.call_later(seconds, self._end_drain)

    def _end_drain(self) -> None:
        self._drain = None
        done, self._done = self._done, None
        if done is not None:
            self.stop_all(done)

    def again(self, reason: str, stop_loop: Callable[[], None]) -> None:
        """A second shutdown request: end a drain, or kill whatever is still stopping."""
        if self._drain is not None:
            self._drain.cancel()
            self._host.logger.warning(f"{reason} while draining: stopping programs now")
            self._end_drain()
            return
        self._host.logger.warning(f"{reason} while shutting down: killing every program now")
        for process in self._host.processes.values():
            process.kill_now()
        self._host.waits.recheck_soon()
        if not self._host.waits.waiting:
            stop_loop()

    def stop_all(self, done: Callable[[], None]) -> None:
        """Stop every program in shutdown tiers, then done()."""
        self.stopping = True
        for process in self._host.processes.values():
            if process.state == ProcessState.EXITED:
                process.stop()  # calls off a pending restart
        self._stop_next_tier(done)

    def _stop_next_tier(self, done: Callable[[], None]) -> None:
        remaining = [p for p in self._host.processes.values() if p.state not in STOPPED_STATES]
        if not remaining:
            self.stopping = False
            done()
            return
        depths = self._host.depths()
        rank = {p: (depths.get(p.config.program, 0), self._group_priority(p)) for p in remaining}
        top = max(rank.values())
        tier = [p for p in remaining if rank[p] == top]
        tier.sort(key=lambda p: (p.config.priority, p.name), reverse=True)
        pools = self._host.pools
        listening = {p.group for p in tier if pools is not None and pools.is_listener(p)}
        if pools is not None and listening:
            # Listeners hear of the stops before theirs (a crash notifier, a dashboard's
            # agent still answering the shutdown it asked for), within LISTENER_GRACE.
            pools.when_heard(listening, LISTENER_GRACE, lambda: self._stop_tier(tier, done))
        else:
            self._stop_tier(tier, done)

    def _stop_tier(self, tier: list[Process], done: Callable[[], None]) -> None:
        waits = self._host.waits
        waits.all_settled(tier, stopped, lambda: self._stop_next_tier(done))
        for process in tier:
            process.stop()
        waits.recheck_soon()  # in a later pass: BACKOFF ones are stopped already

    def _group_priority(self, process: Process) -> int:
        group = self._host.groups.get(process.group)
        return group.priority if group is not None else process.config.priority
