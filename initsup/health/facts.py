"""What is known of one process's health and readiness: the facts front ends read.

The monitor (health/monitor.py) keeps one Facts per process and changes it; everything
else only reads it: `ctl status`, `ctl health`, XML-RPC descriptions, the Kubernetes
endpoints (through health/verdicts.py).
"""

from __future__ import annotations

OUTPUT_TAIL = 4096  # bytes of a check's output kept, as Docker keeps


class Result:
    """One run of one check."""

    __slots__ = ("detail", "duration", "ok", "output")

    def __init__(self, ok: bool, detail: str, output: str = "", duration: float = 0.0) -> None:
        self.ok = ok
        # a few words: "exit 0", "exit 1", "HTTP 200", "HTTP 503", "connected",
        # "connection refused", "timed out after 5 s", "could not run: ..."
        self.detail = detail
        self.output = output  # the tail of a command's output or the start of a body
        self.duration = duration  # seconds the check took

    def __repr__(self) -> str:
        return f"Result({self.ok!r}, {self.detail!r}, {self.output!r}, {self.duration!r})"


class Facts:
    """One process's health and readiness, as known now."""

    __slots__ = (
        "check",
        "ever_ready",
        "failures",
        "healthy",
        "last",
        "reached",
        "ready",
        "status",
        "waiting_for",
    )

    def __init__(self, check: str | None) -> None:
        self.check = check  # "command", "http", "tcp", "notify", or None: RUNNING is ready
        self.ready = False  # ready now (alive, and its check passed or READY=1 came)
        self.ever_ready = False  # ready at least once since initsup started it (startup)
        self.healthy: bool | None = None  # None: no check, or no verdict yet
        self.failures = 0  # consecutive failed checks (counted outside the start period)
        self.last: Result | None = None  # the latest check's result
        self.status = ""  # sd_notify's STATUS=, as the program last said it
        # while its start waits: "db (not ready: HTTP 503)"-like reasons, one per dependency
        self.waiting_for: list[str] = []
        # state names reached since the process was added (dependent_startup_wait_for)
        self.reached: set[str] = set()

    def words(self) -> str:
        """A few words for `ctl status` and XML-RPC descriptions: "" when nothing to say."""
        if self.waiting_for:
            return "waiting for " + ", ".join(self.waiting_for)
        parts = []
        last = self.last
        if self.check is not None:
            if self.healthy is False:
                detail = f": {last.detail}" if last is not None else ""
                parts.append(f"unhealthy ({self.failures} failed checks{detail})")
            elif self.ready:
                parts.append("ready")
            elif last is not None and not last.ok:  # a check ran during this run
                parts.append(f"not ready: {last.detail}")
        if self.status:
            parts.append(self.status)
        return ", ".join(parts)
