"""supervisord's events: names, payloads byte for byte, and the bus that carries them.

An event has supervisord's name (`PROCESS_STATE_EXITED`), supervisord's payload (the text
a listener reads after the header), and JSON fields for initsup's stdout stream, which
carry the same facts plus what a log pipeline wants and a listener would not expect
(`exit_code`, `signal`, a human `message`).
"""

from __future__ import annotations

from collections.abc import Callable

from initsup.states import ProcessState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# supervisord's event types, each with its parent: subscribing to a type means subscribing
# to every type below it (PROCESS_STATE gets every PROCESS_STATE_*, EVENT gets all).
# EVENT_BUFFER_OVERFLOW is not here: supervisord 3.0 removed it.
EVENT_TYPES: dict[str, str | None] = {
    "EVENT": None,
    "PROCESS_STATE": "EVENT",
    **{f"PROCESS_STATE_{s.name}": "PROCESS_STATE" for s in ProcessState},
    "REMOTE_COMMUNICATION": "EVENT",
    "PROCESS_LOG": "EVENT",
    "PROCESS_LOG_STDOUT": "PROCESS_LOG",
    "PROCESS_LOG_STDERR": "PROCESS_LOG",
    "PROCESS_COMMUNICATION": "EVENT",
    "PROCESS_COMMUNICATION_STDOUT": "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDERR": "PROCESS_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE": "EVENT",
    "SUPERVISOR_STATE_CHANGE_RUNNING": "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_STOPPING": "SUPERVISOR_STATE_CHANGE",
    "TICK": "EVENT",
    "TICK_5": "TICK",
    "TICK_60": "TICK",
    "TICK_3600": "TICK",
    "PROCESS_GROUP": "EVENT",
    "PROCESS_GROUP_ADDED": "PROCESS_GROUP",
    "PROCESS_GROUP_REMOVED": "PROCESS_GROUP",
}

# initsup's own events a notifier can ask for: not supervisord's, so no listener gets them.
OWN_EVENTS = (
    "PROCESS_READY",
    "PROCESS_NOT_READY",
    "PROCESS_HEALTHY",
    "PROCESS_UNHEALTHY",
    "ESSENTIAL_EXIT",
)


def is_a(name: str, kind: str) -> bool:
    """Whether event type name is kind or one of its subtypes."""
    current: str | None = name
    while current is not None:
        if current == kind:
            return True
        current = EVENT_TYPES.get(current)
    return False


class Event:
    """One event: its name, its supervisord payload, and its JSON fields."""

    __slots__ = ("fields", "level", "name", "payload", "serial", "to_stream")

    def __init__(
        self,
        name: str,
        payload: str,
        fields: dict[str, Any],
        level: str = "info",
        to_stream: bool = True,
    ) -> None:
        self.name = name
        self.payload = payload
        self.fields = fields
        self.level = level
        self.serial: int | None = None  # given once, by the first pool that accepts it
        # PROCESS_LOG repeats output lines the stream already has, and TICK would wake an
        # idle stream: those go to listener pools only.
        self.to_stream = to_stream

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {self.payload!r})"


def _tokens(pairs: list[tuple[str, object]]) -> str:
    # A token set: space-separated key:value pairs, no trailing newline (events.py).
    return " ".join(f"{key}:{value}" for key, value in pairs)


def process_state(
    to_state: ProcessState,
    process: str,
    group: str,
    from_state: ProcessState,
    *,
    tries: int = 0,
    pid: int = 0,
    expected: bool = False,
    extra: dict[str, Any] | None = None,
    level: str = "info",
) -> Event:
    """A PROCESS_STATE_<to_state> event with supervisord's payload for that state."""
    pairs: list[tuple[str, object]] = [
        ("processname", process),
        ("groupname", group),
        ("from_state", from_state.name),
    ]
    if to_state in (ProcessState.STARTING, ProcessState.BACKOFF):
        pairs.append(("tries", tries))
    elif to_state == ProcessState.EXITED:
        pairs += [("expected", int(expected)), ("pid", pid)]
    elif to_state in (ProcessState.RUNNING, ProcessState.STOPPING, ProcessState.STOPPED):
        pairs.append(("pid", pid))
    fields: dict[str, Any] = {"program": process, "group": group}
    fields.update((k, v) for k, v in pairs[2:])
    if to_state == ProcessState.EXITED:
        fields["expected"] = expected
    fields.update(extra or {})
    return Event(f"PROCESS_STATE_{to_state.name}", _tokens(pairs), fields, level)


def essential_exit(process: str, group: str, state: str, exit_code: int) -> Event:
    """ESSENTIAL_EXIT: an essential program ended for good, so initsup ends (initsup's own
    event: notifiers and the stream get it, listener pools do not)."""
    fields = {
        "program": process,
        "group": group,
        "state": state,
        "exit_code": exit_code,
        "message": f"essential program {process} ended ({state}): initsup exits {exit_code}",
    }
    return Event("ESSENTIAL_EXIT", "", fields, level="warning")


def supervisor_state(running: bool) -> Event:
    """SUPERVISOR_STATE_CHANGE_RUNNING or _STOPPING; their payload is empty."""
    name = "SUPERVISOR_STATE_CHANGE_" + ("RUNNING" if running else "STOPPING")
    return Event(name, "", {})


def group_change(group: str, added: bool) -> Event:
    """PROCESS_GROUP_ADDED or _REMOVED; unlike token sets, this payload ends in a newline."""
    name = "PROCESS_GROUP_" + ("ADDED" if added else "REMOVED")
    return Event(name, f"groupname:{group}\n", {"group": group})


def process_log(process: str, group: str, pid: int, channel: str, data: str) -> Event:
    """PROCESS_LOG_STDOUT/_STDERR: a header line, a newline, then the data as read."""
    payload = f"processname:{process} groupname:{group} pid:{pid} channel:{channel}\n{data}"
    name = f"PROCESS_LOG_{channel.upper()}"
    return Event(name, payload, {"program": process, "group": group, "pid": pid}, to_stream=False)


def process_communication(process: str, group: str, pid: int, channel: str, data: str) -> Event:
    """PROCESS_COMMUNICATION_STDOUT/_STDERR: what a program wrote between capture tokens."""
    payload = f"processname:{process} groupname:{group} pid:{pid}\n{data}"
    name = f"PROCESS_COMMUNICATION_{channel.upper()}"
    return Event(name, payload, {"program": process, "group": group, "pid": pid, "data": data})


def remote_communication(kind: str, data: str) -> Event:
    """REMOTE_COMMUNICATION, as supervisord's sendRemoteCommEvent(type, data) makes it."""
    return Event("REMOTE_COMMUNICATION", f"type:{kind}\n{data}", {"type": kind, "data": data})


def tick(period: int, when: int) -> Event:
    """TICK_<period>, `when` being the start of the period in epoch seconds."""
    return Event(f"TICK_{period}", f"when:{when}", {"when": when}, to_stream=False)


class EventBus:
    """Delivers every published event to every subscriber, in subscription order."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Call callback(event) for each event published from now on."""
        self._subscribers.append(callback)

    def publish(self, event: Event) -> None:
        """Hand event to every subscriber."""
        for callback in self._subscribers:
            callback(event)
