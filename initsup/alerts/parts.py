"""What every notifier format is made of: the Format interface, an alert's words, an HTTP job.

formats.py (webhook, Slack, mail), alertmanager.py and kubernetes.py each turn Alerts into
courier jobs; they share this module so that a Slack message, a mail and a Kubernetes
Event word one crash the same way, and so that every HTTP job carries the notifier's
headers, credentials, timeout and CA file alike.  It sits below those three (formats.make
imports the other two), which is why the base class is not in formats.py itself.

Everything here is pure computation on plain values; nothing raises for any Alert: a
program's name and its stderr come from outside and may hold newlines, quotes,
undecodable bytes (as surrogates) or a megabyte of text.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from initsup.alerts.alert import Alert
    from initsup.model_notify import NotifierConfig

    Job = dict[str, Any]  # a courier job: {"kind": "http", ...} or {"kind": "smtp", ...}

# Events that tell of things getting better: Kubernetes' "Normal" type, Slack's check mark.
GOOD_EVENTS = frozenset({"PROCESS_STATE_RUNNING", "PROCESS_HEALTHY", "PROCESS_READY"})
# Events whose story is an exit: their exit code and signal say how it went.
EXIT_EVENTS = frozenset(
    {"PROCESS_STATE_EXITED", "PROCESS_STATE_FATAL", "PROCESS_STATE_BACKOFF", "ESSENTIAL_EXIT"}
)
# The most characters of a stderr tail any alert carries, its last ones kept: the hub cuts
# the tails it makes to this; cut here again because the formats take an Alert from
# anyone, and one line may be a megabyte.
TAIL_CHARS = 4096
# Characters that would break a one-line text (a mail header, a summary) apart.
_BREAKS = {c: " " for c in [*range(32), 127, 0x85, 0x2028, 0x2029]}


class Format:
    """One notifier kind's requests: the jobs that tell of alerts, and their follow-ups."""

    batches = False  # several alerts may go in one send
    resolves = False  # resolved() may send: a recovery is worth making an Alert for

    def __init__(
        self, notifier: NotifierConfig, environ: Mapping[str, str], wall: Callable[[], float]
    ) -> None:
        self.notifier = notifier
        self.environ = environ
        self.wall = wall  # the wall clock, for times the alert does not give

    def jobs(self, alerts: list[Alert]) -> list[Job]:
        """The jobs that tell of these firing alerts (several only when batching)."""
        raise NotImplementedError

    def resolved(self, alert: Alert) -> list[Job]:
        """The jobs that tell of a recovery; none but Alertmanager's have any."""
        return []

    def answered(self, job: Job, reply: dict[str, Any]) -> list[Job]:
        """Follow-ups a job's reply calls for (Kubernetes'); none otherwise."""
        return []


def clean(text: str) -> str:
    """`text` encodable as UTF-8: a lone surrogate (an undecodable byte, as
    surrogateescape holds it) is written as text, `\\xff` or `\\ud800`, as initsup's
    log records write them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(map(_surrogate_as_text, text))


def _surrogate_as_text(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    return char


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line (control characters and line breaks as spaces), cut to `limit`."""
    text = clean(text).translate(_BREAKS)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tail(alert: Alert, lines: int) -> str:
    """The last `lines` lines of the alert's stderr tail, at most TAIL_CHARS of them."""
    if lines <= 0 or not alert.stderr_tail:
        return ""
    kept = "\n".join(alert.stderr_tail.rstrip("\n").split("\n")[-lines:])
    return clean(kept[-TAIL_CHARS:])


def last_line(alert: Alert) -> str:
    """The last line the program wrote to stderr that holds more than spaces, or ""."""
    for line in reversed(alert.stderr_tail[-TAIL_CHARS:].split("\n")):
        if line.strip():
            return one_line(line.strip(), 300)
    return ""


def what(alert: Alert) -> str:
    """What happened, in words after the program's name: "exited unexpectedly"."""
    event = alert.event
    if event == "PROCESS_STATE_EXITED":
        if alert.expected is None:
            return "exited"
        return "exited (expected)" if alert.expected else "exited unexpectedly"
    if event == "PROCESS_STATE_FATAL":
        if alert.from_state in (None, "BACKOFF", "STARTING"):
            return "failed to start too many times"  # fatalmailbatch's words
        return "crashed too many times (no more restarts)"  # max_tries gave up
    words = {
        "ESSENTIAL_EXIT": "ended, and it is essential: the container stops",
        "PROCESS_UNHEALTHY": "is unhealthy",
        "PROCESS_HEALTHY": "is healthy again",
        "PROCESS_READY": "is ready",
        "PROCESS_NOT_READY": "is not ready",
        "PROCESS_STATE_RUNNING": "is running",
        "PROCESS_STATE_BACKOFF": "failed to start, retrying",
    }.get(event)
    if words:
        return words
    if event.startswith("PROCESS_STATE_"):
        return "is " + event[len("PROCESS_STATE_") :]
    return one_line(alert.message or event, 120)


def told_by_exit(alert: Alert) -> bool:
    """Whether the alert's story is an exit (then its exit code and signal tell how); a
    health or readiness alert may carry an earlier run's exit, which is not its story."""
    return alert.event in EXIT_EVENTS


def how(alert: Alert) -> str:
    """How it ended, in supervisord's words ("terminated by SIGSEGV (core dumped)",
    "exit status 3"), or a health check's detail; "" when there is neither."""
    if told_by_exit(alert):
        if alert.signal:
            core = " (core dumped)" if alert.core_dumped else ""
            return f"terminated by {one_line(alert.signal, 20)}{core}"
        if alert.exit_code is not None:
            return f"exit status {alert.exit_code}"
    return one_line(alert.detail, 200)


def where(alert: Alert) -> str:
    """Where it runs: "pod ns/web-0 on node-1", or "host web-0" outside a pod."""
    name, namespace, node = (alert.pod.get(k) for k in ("name", "namespace", "node"))
    if name:
        text = f"pod {namespace}/{name}" if namespace else f"pod {name}"
        return one_line(f"{text} on {node}" if node else text)
    return one_line(f"host {alert.hostname}") if alert.hostname else ""


def title(alert: Alert) -> str:
    """The alert's subject in one line: "web (group web) exited unexpectedly"."""
    return f"{one_line(alert.program, 100)} (group {one_line(alert.group, 100)}) {what(alert)}"


def facts(alert: Alert) -> list[str]:
    """The summary's facts after the title: how, the restarts, where."""
    found = [how(alert)]
    if alert.restarts:
        found.append(f"restart {alert.restarts}")
    found.append(where(alert))
    return [fact for fact in found if fact]


def summary(alert: Alert) -> str:
    """One line that says it all: "web (group web) exited unexpectedly: terminated by
    SIGSEGV (core dumped), restart 4, pod ns/web-0 on node-1 (+2 suppressed)"."""
    found = facts(alert)
    text = title(alert) + (": " + ", ".join(found) if found else "")
    return text + suppressed(alert)


def suppressed(alert: Alert) -> str:
    """ " (+N suppressed)" when alarm_interval held N alerts back before this one."""
    return f" (+{alert.suppressed} suppressed)" if alert.suppressed > 0 else ""


def details(alert: Alert) -> list[str]:
    """The alert's facts, one "name: value" line each, for a mail or a description."""
    lines = [f"event: {alert.event}", f"time: {rfc3339(alert.time)}"]
    if alert.pid:
        lines.append(f"pid: {alert.pid}")
    ended = how(alert)
    if ended and told_by_exit(alert) and (alert.signal or alert.exit_code is not None):
        code = f" (exit code {alert.exit_code})" if alert.signal and alert.exit_code else ""
        lines.append(f"exit: {ended}{code}")
    elif ended:
        lines.append(f"detail: {ended}")
    lines.append(f"restarts: {alert.restarts}")
    if alert.suppressed:
        lines.append(f"suppressed: {alert.suppressed} alerts held back before this one")
    place = where(alert)
    if place:
        lines.append(f"where: {place}")
    if alert.pod.get("uid"):
        lines.append(f"pod uid: {one_line(alert.pod['uid'] or '')}")
    if alert.hostname:
        lines.append(f"host: {one_line(alert.hostname)}")
    return lines


def camel(event: str) -> str:
    """An event's name in CamelCase: PROCESS_NOT_READY -> ProcessNotReady."""
    return "".join(word.capitalize() for word in event.split("_") if word)


def cut_bytes(text: str, limit: int) -> str:
    """`text` in at most `limit` bytes of UTF-8 (Kubernetes counts bytes), "..." if cut."""
    data = clean(text).encode("utf-8")
    if len(data) <= limit:
        return clean(text)
    return data[: limit - 3].decode("utf-8", "ignore") + "..."


def rfc3339(wall: float) -> str:
    """RFC 3339 in UTC to the second, with a `Z`: 2026-12-06T07:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(wall)))


def rfc3339_micro(wall: float) -> str:
    """RFC 3339 in UTC to the microsecond, with a `Z` (Kubernetes' MicroTime)."""
    seconds = int(wall)
    micros = min(int((wall - seconds) * 1_000_000), 999_999)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def dumps(value: Any) -> str:
    """Compact JSON of plain values (strings already cleaned), without the json package."""
    from initsup.jsoncodec import encoder

    return encoder(",", ":", allow_nan=False)(value)


def http_job(
    notifier: NotifierConfig,
    method: str,
    url: str,
    body: str,
    content_type: str = "application/json",
    *,
    token_file: str | None = None,
    ca_file: str | None = None,
) -> Job:
    """A courier job for one HTTP request with the notifier's headers and credentials.

    The notifier's own headers come after initsup's, so headers= may replace any of them;
    a bearer token (token, or token_file read at each send) is the courier's to add.
    `token_file` replaces the notifier's ("" for none); `ca_file` stands in for an unset one.
    """
    from initsup import __version__

    headers = {"Content-Type": content_type, "User-Agent": f"initsup/{__version__}"}
    if notifier.username is not None or notifier.password is not None:
        headers["Authorization"] = basic_auth(notifier.username or "", notifier.password or "")
    headers.update(notifier.headers)
    return {
        "kind": "http",
        "method": method,
        "url": url,
        "headers": headers,
        "body": body,
        "timeout": notifier.timeout,
        "ca_file": ca_file or notifier.ca_file,
        "token": notifier.token,
        "token_file": notifier.token_file if token_file is None else token_file or None,
    }


def basic_auth(username: str, password: str) -> str:
    """The Authorization header's value of HTTP basic auth (RFC 7617, UTF-8)."""
    import binascii

    pair = f"{username}:{password}".encode("utf-8", "surrogateescape")
    return "Basic " + binascii.b2a_base64(pair, newline=False).decode("ascii")
