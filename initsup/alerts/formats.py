"""Each notifier kind's requests: `make` picks the Format; webhook, Slack and mail are here.

A Format turns Alerts into courier jobs (JSON objects that courier.py sends), so the
outbox never needs to know what a Slack message or a mail looks like.  Alertmanager's and
Kubernetes' formats keep state between sends (firing alerts, Event series) and live in
modules of their own; what all of them share is in parts.py.

- webhook: POST of one alert's facts (Alert.as_dict) as JSON, or of a batch of them;
  docs/alert.schema.json is the body's JSON Schema.
- slack: an incoming webhook's {"text", "blocks"} in Slack's mrkdwn.
- mail: crashmail's mail (crashmailbatch's, batched) as an RFC 5322 message for SMTP.

With batch= set, a notifier's body is always the batched one (a webhook's "alerts" list,
crashmailbatch's mail), even for one alert, so its receiver sees one shape.  Pure
computation: no sockets, no children.  The `email` package (about 20 ms to import) is
imported by the mail format's first jobs() call, never at start.
"""

from __future__ import annotations

import time

from initsup.alerts.alert import hostname
from initsup.alerts.parts import (
    GOOD_EVENTS,
    Format,
    clean,
    details,
    dumps,
    facts,
    http_job,
    one_line,
    rfc3339,
    suppressed,
    tail,
    what,
    where,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from initsup.alerts.alert import Alert
    from initsup.alerts.parts import Job
    from initsup.model_notify import NotifierConfig

__all__ = ["Format", "Job", "make"]

SLACK_TEXT = 3000  # Slack's limit on the text of one section block
SLACK_TAILS = 10  # stderr tails shown in a batched Slack message (Slack allows 50 blocks)
WEBHOOK_VERSION = 1  # the body's "version": what docs/alert.schema.json describes


def make(
    notifier: NotifierConfig, environ: Mapping[str, str], *, wall: Callable[[], float] = time.time
) -> Format:
    """The Format of this notifier's kind; ValueError for a kind there is none of."""
    kind = notifier.kind
    if kind == "webhook":
        return Webhook(notifier, environ, wall)
    if kind == "slack":
        return Slack(notifier, environ, wall)
    if kind == "mail":
        return Mail(notifier, environ, wall)
    if kind == "alertmanager":
        from initsup.alerts.alertmanager import Alertmanager

        return Alertmanager(notifier, environ, wall)
    if kind == "kubernetes":
        from initsup.alerts.kubernetes import Kubernetes

        return Kubernetes(notifier, environ, wall)
    raise ValueError(f"unknown notifier type {kind!r}")


class Webhook(Format):
    """A JSON POST of each alert's facts, or of a batch of them (docs/alert.schema.json)."""

    batches = True

    def jobs(self, alerts: list[Alert]) -> list[Job]:
        if not alerts:
            return []
        name = clean(self.notifier.name)
        bodies = [alert_body(alert, self.notifier.stderr_lines) for alert in alerts]
        head: dict[str, Any] = {"version": WEBHOOK_VERSION, "notifier": name}
        if len(bodies) == 1 and self.notifier.batch <= 0:
            body = {**head, **bodies[0]}
        else:
            body = {**head, "alerts": bodies, "count": len(bodies)}
        return [http_job(self.notifier, "POST", self.notifier.url, dumps(body))]


def alert_body(alert: Alert, stderr_lines: int) -> dict[str, Any]:
    """Alert.as_dict, its text encodable as UTF-8 and its stderr tail cut to `stderr_lines`."""
    body = alert.as_dict()
    for key, value in body.items():
        if isinstance(value, str):
            body[key] = clean(value)
    body["pod"] = {k: None if v is None else clean(v) for k, v in body["pod"].items()}
    body["stderr_tail"] = tail(alert, stderr_lines)
    return body


class Slack(Format):
    """A Slack incoming webhook's message: a summary line, where it runs, stderr's tail."""

    batches = True

    def jobs(self, alerts: list[Alert]) -> list[Job]:
        if not alerts:
            return []
        if len(alerts) == 1:
            text, blocks = self._one(alerts[0])
        else:
            text, blocks = self._many(alerts)
        body = dumps({"text": text, "blocks": blocks})
        return [http_job(self.notifier, "POST", self.notifier.url, body)]

    def _one(self, alert: Alert) -> tuple[str, list[dict[str, Any]]]:
        line = slack_line(alert)
        blocks = [_section(line), _context(alert)]
        code = _code_block(tail(alert, self.notifier.stderr_lines), SLACK_TEXT)
        if code:
            blocks.append(_section(code))
        return line, blocks

    def _many(self, alerts: list[Alert]) -> tuple[str, list[dict[str, Any]]]:
        lines = [slack_line(alert) for alert in alerts]
        listing = _fit_lines(f"{len(alerts)} alerts:", lines, SLACK_TEXT)
        blocks = [_section(listing), _context(alerts[-1])]
        for alert in [a for a in alerts if a.stderr_tail][-SLACK_TAILS:]:
            head = f"*{mrkdwn(one_line(alert.program, 100))}* stderr:\n"
            code = _code_block(tail(alert, self.notifier.stderr_lines), SLACK_TEXT - len(head))
            if code:
                blocks.append(_section(head + code))
        return listing, blocks


def slack_line(alert: Alert) -> str:
    """ ":rotating_light: *web* (group web) exited unexpectedly: terminated by SIGSEGV
    (core dumped), restart 4, pod ns/web-0 on node-1", escaped for mrkdwn."""
    mark = ":white_check_mark:" if alert.event in GOOD_EVENTS else ":rotating_light:"
    name = f"*{mrkdwn(one_line(alert.program, 100))}*"
    rest = f"(group {one_line(alert.group, 100)}) {what(alert)}"
    found = facts(alert)
    if found:
        rest += ": " + ", ".join(found)
    return f"{mark} {name} {mrkdwn(rest + suppressed(alert))}"


def mrkdwn(text: str) -> str:
    """Text as Slack's mrkdwn asks: &, < and > escaped (they start links and entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(alert: Alert) -> dict[str, Any]:
    parts = [f"host {one_line(alert.hostname, 100)}"] if alert.hostname else []
    place = where(alert)
    if place.startswith("pod "):
        parts.append(place)
    parts.append(rfc3339(alert.time))
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(" | ".join(parts))}]}


def _code_block(text: str, limit: int) -> str:
    """`text` escaped in a ``` block of at most `limit` characters, its end kept."""
    if not text:
        return ""
    # A ``` inside would end the block: a zero-width space keeps the backticks apart.
    text = text.replace("```", "``\u200b`")
    escaped = mrkdwn(text)
    room = limit - len("```\n\n```")
    if len(escaped) > room:
        room -= len("...\n")
        kept = size = 0
        for char in reversed(text):  # whole characters, so no entity is cut in two
            size += len(mrkdwn(char))
            if size > room:
                break
            kept += 1
        escaped = "...\n" + mrkdwn(text[len(text) - kept :])
    return f"```\n{escaped}\n```"


def _fit_lines(head: str, lines: list[str], limit: int) -> str:
    """`head` and as many of `lines` as fit in `limit` characters, then how many did not."""
    text = head
    for shown, line in enumerate(lines):
        more = f"\n... and {len(lines) - shown} more"
        if len(text) + 1 + len(line) + len(more) > limit:
            return text + more
        text += "\n" + line
    return text


class Mail(Format):
    """crashmail's mail, or crashmailbatch's for a batch, as an RFC 5322 message for SMTP."""

    batches = True

    def __init__(
        self, notifier: NotifierConfig, environ: Mapping[str, str], wall: Callable[[], float]
    ) -> None:
        super().__init__(notifier, environ, wall)
        self.host = hostname()

    def jobs(self, alerts: list[Alert]) -> list[Job]:
        if not alerts:
            return []
        if len(alerts) == 1 and self.notifier.batch <= 0:
            subject, body = mail_subject(alerts[0]), mail_text(alerts[0], self.notifier)
        else:
            subject = f"{len(alerts)} alerts from {one_line(alerts[0].hostname or self.host)}"
            body = batch_text(alerts, self.notifier)
        sender = self.notifier.sender or f"initsup@{_domain(self.host)}"
        message = self._message(sender, f"{self.notifier.subject or 'initsup'}: {subject}", body)
        return [
            {
                "kind": "smtp",
                "url": self.notifier.url,
                "tls": self.notifier.tls,
                "username": self.notifier.username,
                "password": self.notifier.password,
                "sender": _address(sender),
                "to": list(self.notifier.to),
                "message": message,
                "timeout": self.notifier.timeout,
                "ca_file": self.notifier.ca_file,
            }
        ]

    def _message(self, sender: str, subject: str, body: str) -> str:
        """The whole message, ASCII with CRLF line ends (what smtplib sends as it is)."""
        from email.message import EmailMessage
        from email.policy import SMTP
        from email.utils import formatdate, make_msgid

        msg = EmailMessage(policy=SMTP)
        msg["From"] = one_line(sender, 500)
        msg["To"] = one_line(", ".join(self.notifier.to), 2000)
        msg["Subject"] = one_line(subject, 500)
        msg["Date"] = formatdate(self.wall(), usegmt=True)
        msg["Message-ID"] = make_msgid("initsup", domain=_domain(self.host))
        body = clean(body)
        # ASCII lines within RFC 5322's 998 characters go as they are (7bit), readable in
        # any client's source view; anything else as quoted-printable, mostly readable too
        plain = body.isascii() and all(len(line) <= 998 for line in body.split("\n"))
        msg.set_content(body, charset="utf-8", cte="7bit" if plain else "quoted-printable")
        return msg.as_string()


def _when(alert: Alert) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(alert.time)))


def mail_subject(alert: Alert) -> str:
    """crashmail's "<program> crashed at <time>"; other events say what they are."""
    crashed = alert.event == "PROCESS_STATE_EXITED" and alert.expected is not True
    words = "crashed" if crashed else what(alert)
    return f"{one_line(alert.program, 100)} {words} at {_when(alert)}"


def sentence(alert: Alert) -> str:
    """crashmail's "Process web in group web exited unexpectedly (pid 7) from state RUNNING"."""
    text = f"Process {one_line(alert.program, 100)} in group {one_line(alert.group, 100)}"
    text += f" {what(alert)}"
    if alert.pid:
        text += f" (pid {alert.pid})"
    if alert.from_state:
        text += f" from state {one_line(alert.from_state, 20)}"
    return text


def mail_text(alert: Alert, notifier: NotifierConfig) -> str:
    """One alert's mail: crashmail's sentence, the facts, stderr's last lines."""
    lines = [sentence(alert), "", *details(alert)]
    stderr = tail(alert, notifier.stderr_lines)
    if stderr:
        lines += ["", f"Last lines of stderr ({notifier.stderr_lines} at most):", stderr]
    return "\n".join(lines) + "\n"


def batch_line(alert: Alert) -> str:
    """crashmailbatch's "<time> -- Process web:web (pid 7) died unexpectedly"."""
    name = f"{one_line(alert.group, 100)}:{one_line(alert.program, 100)}"
    pid = f" (pid {alert.pid})" if alert.pid else ""
    if alert.event == "PROCESS_STATE_EXITED" and alert.expected is not True:
        words = "died unexpectedly"
    else:
        words = what(alert)
    return f"{_when(alert)} -- Process {name}{pid} {words}{suppressed(alert)}"


def batch_text(alerts: list[Alert], notifier: NotifierConfig) -> str:
    """crashmailbatch's list, one line an alert, then each alert's mail in full."""
    lines = [batch_line(alert) for alert in alerts]
    for alert in alerts:
        lines += ["", "-" * 72, ""]
        lines.append(mail_text(alert, notifier).rstrip("\n"))
    return "\n".join(lines) + "\n"


def _address(sender: str) -> str:
    """The envelope's address of a From: "Ops <ops@example.com>" -> "ops@example.com"."""
    if sender.endswith(">") and "<" in sender:
        return sender[sender.rindex("<") + 1 : -1].strip()
    return sender.strip()


def _domain(host: str) -> str:
    """The host name as a mail domain: letters, digits, dots and dashes, else "localhost"."""
    kept = "".join(c for c in host if c.isascii() and (c.isalnum() or c in ".-")).strip(".-")
    return kept or "localhost"
