"""supervisord's process states, and every transition between them in one table.

The numbers are supervisord's (`supervisor/states.py`), so anything that reads them (the
`state` field of process info, listeners comparing with 20) sees the same values.
"""

from __future__ import annotations

import enum


class ProcessState(enum.IntEnum):
    """The state of one supervised process."""

    STOPPED = 0
    STARTING = 10
    RUNNING = 20
    BACKOFF = 30
    STOPPING = 40
    EXITED = 100
    FATAL = 200
    UNKNOWN = 1000


S = ProcessState

# to-state <- the from-states it may be entered from.  Anything else is a bug: it is
# logged and ignored, never allowed to crash PID 1.  supervisord's table but for one
# addition of initsup's: EXITED -> FATAL, the give-up policy (max_tries,
# max_tries_if_coredumped) refusing the restart an exit after RUNNING asks for.
ALLOWED_FROM: dict[ProcessState, frozenset[ProcessState]] = {
    S.STARTING: frozenset({S.STOPPED, S.EXITED, S.FATAL, S.BACKOFF}),
    S.RUNNING: frozenset({S.STARTING}),
    S.BACKOFF: frozenset({S.STARTING}),
    S.STOPPING: frozenset({S.STARTING, S.RUNNING}),
    S.EXITED: frozenset({S.RUNNING}),
    S.STOPPED: frozenset({S.STOPPING, S.BACKOFF}),
    S.FATAL: frozenset({S.BACKOFF, S.EXITED}),
    S.UNKNOWN: frozenset(ProcessState),
}

# supervisord's groupings (rpcinterface and supervisorctl use them).
STOPPED_STATES = frozenset({S.STOPPED, S.EXITED, S.FATAL, S.UNKNOWN})
RUNNING_STATES = frozenset({S.RUNNING, S.BACKOFF, S.STARTING})
SIGNALLABLE_STATES = frozenset({S.RUNNING, S.STARTING, S.STOPPING})


def allowed(from_state: ProcessState, to_state: ProcessState) -> bool:
    """Whether the table permits from_state -> to_state."""
    return from_state in ALLOWED_FROM[to_state]
