"""The model of a notifier: a [notify:NAME] section (or INITSUP_NOTIFY_<NAME>) checked once.

A module of its own only for size: model.py holds the rest of the configuration model.
"""

from __future__ import annotations

from initsup.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The events a notifier alerts on when its events= is not given: unexpected exits (an
# expected one alerts only with expected=true) and FATAL.
DEFAULT_ALERT_EVENTS = frozenset({"PROCESS_STATE_EXITED", "PROCESS_STATE_FATAL"})
# Where a pod's service account credentials are mounted (in-cluster clients' default).
SERVICEACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


class NotifierConfig(Value):
    """A [notify:NAME] section (or INITSUP_NOTIFY_<NAME>): where alerts go, which events
    make one, and how often."""

    __slots__ = (
        "alarm_interval",
        "api",
        "batch",
        "ca_file",
        "events",
        "expected",
        "headers",
        "kind",
        "labels",
        "name",
        "password",
        "programs",
        "queue",
        "rate_limit",
        "retries",
        "sender",
        "serviceaccount",
        "stderr_lines",
        "subject",
        "timeout",
        "tls",
        "to",
        "token",
        "token_file",
        "url",
        "username",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        url: str = "",
        *,
        events: frozenset[str] = DEFAULT_ALERT_EVENTS,
        programs: frozenset[str] = frozenset(),
        expected: bool = False,
        to: list[str] | None = None,
        sender: str = "",
        subject: str = "",
        headers: dict[str, str] | None = None,
        token: str | None = None,
        token_file: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: str = "auto",
        ca_file: str | None = None,
        api: str = "v1",
        serviceaccount: str = SERVICEACCOUNT,
        labels: dict[str, str] | None = None,
        alarm_interval: float = 0.0,
        rate_limit: int = 0,
        batch: float = 0.0,
        timeout: float = 5.0,
        retries: int = 3,
        queue: int = 100,
        stderr_lines: int = 20,
    ) -> None:
        self.name = name
        self.kind = kind  # webhook, slack, mail, alertmanager or kubernetes
        # http(s)://... for the HTTP kinds (alertmanager: its base URL, /api/v2/alerts
        # added), smtp://host:port or smtps://host:port for mail; kubernetes: the API
        # server, "" when KUBERNETES_SERVICE_HOST/_PORT did not say (then it sends nothing)
        self.url = url
        self.events = events  # event names (supertypes included) that make an alert
        self.programs = programs  # program names alerted on; empty: every program
        self.expected = expected  # alert on exits exitcodes= expects too
        self.to = to or []  # mail: recipients
        self.sender = sender  # mail: From (from=); "" : initsup@<hostname>
        self.subject = subject  # mail: subject prefix; "": initsup's
        self.headers = headers or {}  # HTTP kinds: extra request headers
        self.token = token  # a bearer token (token_env='s variable, read at load)
        self.token_file = token_file  # a bearer token read from this file at each send
        self.username = username  # mail: SMTP AUTH; HTTP kinds: basic auth
        self.password = password
        self.tls = tls  # mail: auto (STARTTLS when offered), starttls (required), none
        self.ca_file = ca_file  # certificates to trust instead of the system's
        self.api = api  # kubernetes: "v1" (core Event) or "events.k8s.io/v1"
        self.serviceaccount = serviceaccount  # kubernetes: token, ca.crt, namespace here
        self.labels = labels or {}  # alertmanager: labels added to every alert
        # meetbill/supervise's alarm_interval: one alert per program per this many
        # seconds, the others counted (`suppressed`); 0: every event alerts
        self.alarm_interval = alarm_interval
        self.rate_limit = rate_limit  # at most this many sends a minute; 0: no limit
        self.batch = batch  # collect alerts this many seconds into one send; 0: off
        self.timeout = timeout  # seconds one send may take
        self.retries = retries  # further attempts of a send that failed
        self.queue = queue  # sends waiting at most; past it the oldest is dropped
        self.stderr_lines = stderr_lines  # last lines of stderr carried by an alert

    def as_dict(self) -> dict[str, Any]:
        """Every field, the secrets hidden (`initsup check --json` output lands in logs)."""
        shown = super().as_dict()
        for key in ("token", "password"):
            if shown[key] is not None:
                shown[key] = "(set)"
        # A Slack webhook's path is its secret; any URL's query may hold a key.
        scheme, sep, rest = self.url.partition("://")
        host, slash, path = rest.partition("/")
        if self.kind == "slack" and path:
            shown["url"] = f"{scheme}{sep}{host}/(hidden)"
        elif "?" in path:
            shown["url"] = f"{scheme}{sep}{host}{slash}{path.partition('?')[0]}?(hidden)"
        return shown
