"""One alert: the facts every notifier's message is made from.

The hub makes an Alert from an event and what the supervisor knows of the program then
(its last exit, whether that dumped core, its restarts, the last lines of its stderr)
and from where initsup runs (the hostname, and the pod from the Downward API's
POD_NAME, POD_NAMESPACE, NODE_NAME and POD_UID).  Every format reads only these fields,
so a webhook, a mail and a Kubernetes Event never tell different stories about one crash.
`as_dict` is the webhook's body for one alert (docs/alert.schema.json).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# The Downward API variables a pod's alerts name it by (docs/alerts.md shows the env).
POD_VARIABLES = {
    "name": "POD_NAME",
    "namespace": "POD_NAMESPACE",
    "node": "NODE_NAME",
    "uid": "POD_UID",
}


def pod(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The pod initsup runs in, from the Downward API's variables (None where unset)."""
    return {key: environ.get(var) or None for key, var in POD_VARIABLES.items()}


def hostname() -> str:
    """The host's name, as socket.gethostname() says it, without importing socket."""
    return os.uname().nodename


class Alert:
    """One event worth telling someone, with the program's facts at that moment."""

    __slots__ = (
        "core_dumped",
        "detail",
        "event",
        "exit_code",
        "expected",
        "firing",
        "from_state",
        "group",
        "hostname",
        "message",
        "pid",
        "pod",
        "program",
        "restarting",
        "restarts",
        "signal",
        "state",
        "stderr_tail",
        "suppressed",
        "time",
    )

    def __init__(
        self,
        event: str,
        program: str,
        group: str,
        *,
        time: float,
        state: str = "",
        from_state: str | None = None,
        pid: int | None = None,
        exit_code: int | None = None,
        signal: str | None = None,
        core_dumped: bool = False,
        expected: bool | None = None,
        restarts: int = 0,
        restarting: bool | None = None,
        stderr_tail: str = "",
        message: str = "",
        detail: str = "",
        host: str = "",
        pod_fields: dict[str, str | None] | None = None,
        suppressed: int = 0,
        firing: bool = True,
    ) -> None:
        self.event = event  # PROCESS_STATE_EXITED, PROCESS_UNHEALTHY, ESSENTIAL_EXIT...
        self.program = program  # the process's name
        self.group = group
        self.time = time  # wall clock (time.time()) of the event
        self.state = state  # the program's state then: EXITED, FATAL, RUNNING...
        self.from_state = from_state  # the state it left, for PROCESS_STATE_* events
        self.pid = pid  # the pid that ended (or runs), None when there is none
        self.exit_code = exit_code  # the shell's code: the exit code, or 128 + signal
        self.signal = signal  # the signal that ended it (SIGSEGV), None for an exit
        self.core_dumped = core_dumped
        self.expected = expected  # the exit was one exitcodes= expects; None: no exit
        self.restarts = restarts  # automatic restarts of the program so far
        self.restarting = restarting  # after an exit: whether a restart is coming; else None
        self.stderr_tail = stderr_tail  # the last lines it wrote to stderr
        self.message = message  # initsup's words for the event, as in its record
        self.detail = detail  # a health check's detail ("HTTP 503"), else ""
        self.hostname = host
        self.pod = pod_fields if pod_fields is not None else pod({})
        self.suppressed = suppressed  # alerts held back by alarm_interval before this one
        self.firing = firing  # a problem (True) or the recovery from one (False)

    @property
    def namespec(self) -> str:
        """`name`, or `group:name` when they differ (supervisorctl's way)."""
        return self.program if self.group == self.program else f"{self.group}:{self.program}"

    def as_dict(self) -> dict[str, Any]:
        """The webhook body of this alert (docs/alert.schema.json)."""
        return {
            "event": self.event,
            "program": self.program,
            "group": self.group,
            "time": self.time,
            "state": self.state,
            "from_state": self.from_state,
            "pid": self.pid,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "core_dumped": self.core_dumped,
            "expected": self.expected,
            "restarts": self.restarts,
            "restarting": self.restarting,
            "stderr_tail": self.stderr_tail,
            "message": self.message,
            "detail": self.detail,
            "hostname": self.hostname,
            "pod": dict(self.pod),
            "suppressed": self.suppressed,
            "firing": self.firing,
        }
