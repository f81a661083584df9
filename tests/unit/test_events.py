"""Event payloads byte for byte as supervisord 4.3.0 sends them (reference §3.4), and the bus."""

from __future__ import annotations

from typing import Any

import pytest

from initsup import events
from initsup.events import Event, EventBus
from initsup.states import ProcessState

S = ProcessState

# (to_state, process name, from_state, keyword arguments, payload, its length or None)
PROCESS_STATE_PAYLOADS: list[
    tuple[ProcessState, str, ProcessState, dict[str, Any], str, int | None]
] = [
    (
        S.STARTING,
        "victim",
        S.STOPPED,
        {"tries": 0},
        "processname:victim groupname:victim from_state:STOPPED tries:0",
        62,
    ),
    (
        S.STARTING,
        "quick",
        S.BACKOFF,
        {"tries": 2},
        "processname:quick groupname:quick from_state:BACKOFF tries:2",
        None,
    ),
    (
        S.RUNNING,
        "crashmail",
        S.STARTING,
        {"pid": 19804},
        "processname:crashmail groupname:crashmail from_state:STARTING pid:19804",
        None,
    ),
    (
        S.BACKOFF,
        "quick",
        S.STARTING,
        {"tries": 1},
        "processname:quick groupname:quick from_state:STARTING tries:1",
        None,
    ),
    (
        S.STOPPING,
        "victim",
        S.RUNNING,
        {"pid": 20385},
        "processname:victim groupname:victim from_state:RUNNING pid:20385",
        None,
    ),
    (
        S.STOPPING,
        "victim",
        S.STARTING,
        {"pid": 20385},
        "processname:victim groupname:victim from_state:STARTING pid:20385",
        None,
    ),
    (
        S.STOPPED,
        "victim",
        S.STOPPING,
        {"pid": 20385},
        "processname:victim groupname:victim from_state:STOPPING pid:20385",
        None,
    ),
    (
        S.STOPPED,
        "victim",
        S.BACKOFF,
        {},
        "processname:victim groupname:victim from_state:BACKOFF pid:0",
        None,
    ),
    (
        S.EXITED,
        "victim",
        S.RUNNING,
        {"pid": 19811, "expected": False},
        "processname:victim groupname:victim from_state:RUNNING expected:0 pid:19811",
        None,
    ),
    (
        S.EXITED,
        "victim",
        S.RUNNING,
        {"pid": 19811, "expected": True},
        "processname:victim groupname:victim from_state:RUNNING expected:1 pid:19811",
        None,
    ),
    (
        S.FATAL,
        "quick",
        S.BACKOFF,
        {"tries": 3, "pid": 5},  # neither appears in a FATAL payload
        "processname:quick groupname:quick from_state:BACKOFF",
        52,
    ),
    (
        S.UNKNOWN,
        "x",
        S.RUNNING,
        {},
        "processname:x groupname:x from_state:RUNNING",
        None,
    ),
]


@pytest.mark.parametrize(
    ("to_state", "name", "from_state", "kwargs", "payload", "length"),
    PROCESS_STATE_PAYLOADS,
    ids=[f"{row[0].name}-from-{row[2].name}" for row in PROCESS_STATE_PAYLOADS],
)
def test_process_state_payload(
    to_state: ProcessState,
    name: str,
    from_state: ProcessState,
    kwargs: dict[str, Any],
    payload: str,
    length: int | None,
) -> None:
    """A PROCESS_STATE_* event carries supervisord's payload exactly, keys in its order."""
    event = events.process_state(to_state, name, name, from_state, **kwargs)
    assert event.name == f"PROCESS_STATE_{to_state.name}"
    assert event.payload == payload
    assert not event.payload.endswith("\n")
    if length is not None:
        assert len(event.payload) == length


def test_group_name_differs_from_process_name() -> None:
    """processname and groupname come from their own arguments (a [group:x] of programs)."""
    event = events.process_state(S.RUNNING, "web_01", "web", S.STARTING, pid=7)
    assert event.payload == "processname:web_01 groupname:web from_state:STARTING pid:7"


@pytest.mark.parametrize(
    ("running", "name"),
    [(True, "SUPERVISOR_STATE_CHANGE_RUNNING"), (False, "SUPERVISOR_STATE_CHANGE_STOPPING")],
)
def test_supervisor_state_change_payload_is_empty(running: bool, name: str) -> None:
    """SUPERVISOR_STATE_CHANGE_RUNNING/_STOPPING have an empty payload (len:0)."""
    event = events.supervisor_state(running)
    assert event.name == name
    assert event.payload == ""


@pytest.mark.parametrize(
    ("added", "name"), [(True, "PROCESS_GROUP_ADDED"), (False, "PROCESS_GROUP_REMOVED")]
)
def test_group_change_payload_has_trailing_newline(added: bool, name: str) -> None:
    """PROCESS_GROUP_ADDED/_REMOVED payloads end in a newline, unlike token sets (len 19)."""
    event = events.group_change("recorder", added)
    assert event.name == name
    assert event.payload == "groupname:recorder\n"
    assert len(event.payload) == 19
    assert event.fields == {"group": "recorder"}


def test_json_fields_carry_program_group_from_state_and_extras() -> None:
    """The JSON fields hold program, group, from_state, the payload's keys and the extras."""
    event = events.process_state(
        S.EXITED,
        "victim",
        "grp",
        S.RUNNING,
        pid=19811,
        expected=False,
        extra={"exit_code": 137, "signal": "SIGKILL", "message": "exited: victim"},
        level="warning",
    )
    assert event.fields == {
        "program": "victim",
        "group": "grp",
        "from_state": "RUNNING",
        "expected": False,
        "pid": 19811,
        "exit_code": 137,
        "signal": "SIGKILL",
        "message": "exited: victim",
    }
    assert event.fields["expected"] is False  # a JSON boolean, not the payload's 0
    assert event.level == "warning"


@pytest.mark.parametrize(
    ("to_state", "kwargs", "keys"),
    [
        (S.STARTING, {"tries": 2}, {"tries": 2}),
        (S.BACKOFF, {"tries": 1}, {"tries": 1}),
        (S.RUNNING, {"pid": 9}, {"pid": 9}),
        (S.STOPPING, {"pid": 9}, {"pid": 9}),
        (S.STOPPED, {"pid": 9}, {"pid": 9}),
        (S.EXITED, {"pid": 9, "expected": True}, {"pid": 9, "expected": True}),
        (S.FATAL, {"tries": 4}, {}),
    ],
    ids=lambda v: v.name if isinstance(v, ProcessState) else None,
)
def test_json_fields_per_state(
    to_state: ProcessState, kwargs: dict[str, Any], keys: dict[str, Any]
) -> None:
    """Each state's JSON fields hold the same extra keys as its payload, and no others."""
    event = events.process_state(to_state, "p", "g", S.STARTING, **kwargs)
    assert event.fields == {"program": "p", "group": "g", "from_state": "STARTING", **keys}
    assert event.level == "info"


def test_event_repr_names_event_and_payload() -> None:
    """An event's repr shows its name and payload."""
    assert repr(Event("TICK_5", "when:1795405680", {})) == "Event('TICK_5', 'when:1795405680')"


def test_bus_delivers_to_every_subscriber_in_order() -> None:
    """Each event reaches every subscriber in subscription order, events in publish order."""
    bus = EventBus()
    seen: list[tuple[str, str]] = []
    bus.subscribe(lambda e: seen.append(("first", e.name)))
    bus.subscribe(lambda e: seen.append(("second", e.name)))
    bus.publish(events.group_change("a", added=True))
    bus.publish(events.supervisor_state(running=True))
    assert seen == [
        ("first", "PROCESS_GROUP_ADDED"),
        ("second", "PROCESS_GROUP_ADDED"),
        ("first", "SUPERVISOR_STATE_CHANGE_RUNNING"),
        ("second", "SUPERVISOR_STATE_CHANGE_RUNNING"),
    ]


def test_bus_subscriber_sees_only_later_events() -> None:
    """A subscriber gets the events published after it subscribed, never earlier ones."""
    bus = EventBus()
    bus.publish(events.supervisor_state(running=True))
    seen: list[Event] = []
    bus.subscribe(seen.append)
    bus.publish(events.supervisor_state(running=False))
    assert [e.name for e in seen] == ["SUPERVISOR_STATE_CHANGE_STOPPING"]


def test_bus_without_subscribers_accepts_events() -> None:
    """Publishing with nobody subscribed is a no-op, not an error."""
    EventBus().publish(events.supervisor_state(running=True))
