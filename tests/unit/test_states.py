"""Process states: supervisord's numbers and groupings, and every transition, pair by pair."""

from __future__ import annotations

import itertools

import pytest

from initsup import states
from initsup.states import ProcessState

S = ProcessState

# The transition table written out by hand from supervisord's process.py (reference §4),
# not derived from states.ALLOWED_FROM.  "x" is a legal transition, "." one that must be
# refused (logged and ignored).
#
#   STOPPED -> STARTING                       (spawn)
#   EXITED/FATAL/BACKOFF -> STARTING          (restart, manual start, retry)
#   STARTING -> RUNNING/BACKOFF/STOPPING      (startsecs passed, quick exit, stop)
#   RUNNING -> STOPPING/EXITED                (stop, exit)
#   STOPPING -> STOPPED                       (the stopped process is reaped)
#   BACKOFF -> STOPPED/FATAL                  (stop during BACKOFF, give up)
#   EXITED -> FATAL                           (initsup's: max_tries refuses the restart)
#   any -> UNKNOWN                            (supervisord's kill error path)
TABLE = """
from/to   STOPPED STARTING RUNNING BACKOFF STOPPING EXITED FATAL UNKNOWN
STOPPED   .       x        .       .       .        .      .     x
STARTING  .       .        x       x       x        .      .     x
RUNNING   .       .        .       .       x        x      .     x
BACKOFF   x       x        .       .       .        .      x     x
STOPPING  x       .        .       .       .        .      .     x
EXITED    .       x        .       .       .        .      x     x
FATAL     .       x        .       .       .        .      .     x
UNKNOWN   .       .        .       .       .        .      .     x
"""


def _parse(table: str) -> dict[tuple[ProcessState, ProcessState], bool]:
    """The table as {(from, to): allowed}."""
    header, *rows = [line.split() for line in table.strip().splitlines()]
    columns = [ProcessState[name] for name in header[1:]]
    result = {}
    for from_name, *cells in rows:
        assert len(cells) == len(columns), f"row {from_name} has {len(cells)} cells"
        for to_state, cell in zip(columns, cells):
            assert cell in ("x", "."), f"bad cell {cell!r}"
            result[ProcessState[from_name], to_state] = cell == "x"
    return result


EXPECTED = _parse(TABLE)

PAIRS = list(itertools.product(ProcessState, ProcessState))


def test_expected_table_covers_every_pair() -> None:
    """The hand-written table has exactly one cell per (from, to) pair of states."""
    assert set(EXPECTED) == set(PAIRS)
    assert len(EXPECTED) == 64


@pytest.mark.parametrize(
    ("from_state", "to_state"), PAIRS, ids=[f"{a.name}->{b.name}" for a, b in PAIRS]
)
def test_transition_pair(from_state: ProcessState, to_state: ProcessState) -> None:
    """Each (from, to) pair is allowed exactly when the hand-written table says so."""
    assert states.allowed(from_state, to_state) is EXPECTED[from_state, to_state]


@pytest.mark.parametrize(
    ("state", "value"),
    [
        (S.STOPPED, 0),
        (S.STARTING, 10),
        (S.RUNNING, 20),
        (S.BACKOFF, 30),
        (S.STOPPING, 40),
        (S.EXITED, 100),
        (S.FATAL, 200),
        (S.UNKNOWN, 1000),
    ],
)
def test_numeric_values_are_supervisords(state: ProcessState, value: int) -> None:
    """Each state has supervisord's numeric code, as listeners and process info expect."""
    assert int(state) == value


def test_there_are_exactly_eight_states() -> None:
    """No state exists beyond supervisord's eight."""
    assert [s.name for s in ProcessState] == [
        "STOPPED",
        "STARTING",
        "RUNNING",
        "BACKOFF",
        "STOPPING",
        "EXITED",
        "FATAL",
        "UNKNOWN",
    ]


@pytest.mark.parametrize(
    ("group", "members"),
    [
        (states.STOPPED_STATES, {S.STOPPED, S.EXITED, S.FATAL, S.UNKNOWN}),
        (states.RUNNING_STATES, {S.RUNNING, S.BACKOFF, S.STARTING}),
        (states.SIGNALLABLE_STATES, {S.RUNNING, S.STARTING, S.STOPPING}),
    ],
    ids=["STOPPED_STATES", "RUNNING_STATES", "SIGNALLABLE_STATES"],
)
def test_state_groups(group: frozenset[ProcessState], members: set[ProcessState]) -> None:
    """supervisord's state groupings have exactly the documented members."""
    assert set(group) == members


def test_stopping_is_in_neither_stopped_nor_running_states() -> None:
    """STOPPING belongs to neither STOPPED_STATES nor RUNNING_STATES, as in supervisord."""
    assert S.STOPPING not in states.STOPPED_STATES
    assert S.STOPPING not in states.RUNNING_STATES
