"""The courier's SMTP send: one message handed to a mail server with smtplib.

smtps:// is TLS from the first byte; smtp:// does STARTTLS when the server offers it
(tls=auto), insists on it (tls=starttls) or never does it (tls=none).  AUTH when a
username is given, then MAIL, RCPT for each recipient and DATA one step at a time, so
that the reply carries the server's own code and words: 4xx and lost connections are
worth another attempt, 5xx are not.  Every step gets what is left of the job's deadline
as its socket timeout.  smtplib (and the email package it imports) is loaded only here,
in the child, and only for mail.
"""

from __future__ import annotations

import os

from initsup.alerts.courier_net import Failed, left, reply, split_url, tls_context, unsafe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from initsup.alerts.courier_net import Job, Reply

TLS_MODES = ("auto", "starttls", "none")
MAX_RECIPIENTS = 100


def send(job: Job, deadline: float) -> Reply:
    """Do the smtp job; Failed or OSError when it could not be done."""
    import smtplib

    scheme, host, port, _, _ = split_url(job.get("url"), ("smtp", "smtps"))
    tls = job.get("tls", "auto")
    if tls not in TLS_MODES:
        raise Failed(f"tls={tls!r} is not one of {', '.join(TLS_MODES)}", retry=False)
    sender, recipients, message = _envelope(job)
    # Our own name for EHLO: smtplib's default asks the resolver (getfqdn), which can
    # take longer than the whole deadline.
    local = os.uname().nodename or "localhost"
    try:
        client: smtplib.SMTP
        if scheme == "smtps":
            context = tls_context(job.get("ca_file"))
            client = smtplib.SMTP_SSL(
                host, port, local_hostname=local, timeout=left(deadline), context=context
            )
        else:
            client = smtplib.SMTP(host, port, local_hostname=local, timeout=left(deadline))
        try:
            if scheme == "smtp" and tls != "none":
                _starttls(client, deadline, tls == "starttls", job.get("ca_file"))
            _login(client, deadline, job.get("username"), job.get("password"))
            return _transfer(client, deadline, sender, recipients, message)
        finally:
            _close(client, deadline)
    except smtplib.SMTPResponseException as exc:
        raise _refused(exc.smtp_code, exc.smtp_error, "") from None
    except smtplib.SMTPServerDisconnected as exc:
        cause = exc.__context__
        if isinstance(cause, OSError):  # smtplib's words for a timeout or a reset
            raise cause from None
        raise Failed(f"SMTP: connection lost: {exc}", retry=True) from None
    except smtplib.SMTPException as exc:  # not supported by the server, and the like
        raise Failed(f"SMTP: {exc}", retry=False) from None


def _envelope(job: Job) -> tuple[str, list[str], bytes]:
    """(sender, recipients, message as bytes with CRLF line ends), checked."""
    sender, recipients, message = job.get("sender"), job.get("to"), job.get("message")
    if not isinstance(sender, str) or unsafe(sender):
        raise Failed("sender is not an address", retry=False)
    if (
        not isinstance(recipients, list)
        or not 0 < len(recipients) <= MAX_RECIPIENTS
        or not all(isinstance(to, str) and to and not unsafe(to) for to in recipients)
    ):
        raise Failed("to is not a list of addresses", retry=False)
    if not isinstance(message, str):
        raise Failed("message is not a text", retry=False)
    # smtplib leaves the line ends of a bytes message as they are: SMTP wants CRLF.
    text = message.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return sender, recipients, text.encode("utf-8", "replace")


def _starttls(client: Any, deadline: float, required: bool, ca_file: object) -> None:
    client.sock.settimeout(left(deadline))
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("starttls"):
        if required:
            raise Failed("SMTP: the server does not offer STARTTLS (tls=starttls)", False)
        return
    client.sock.settimeout(left(deadline))
    client.starttls(context=tls_context(ca_file))
    client.sock.settimeout(left(deadline))
    client.ehlo()


def _login(client: Any, deadline: float, username: object, password: object) -> None:
    if not username:
        return
    client.sock.settimeout(left(deadline))
    client.ehlo_or_helo_if_needed()
    client.sock.settimeout(left(deadline))
    client.login(str(username), "" if password is None else str(password))


def _transfer(
    client: Any, deadline: float, sender: str, recipients: list[str], message: bytes
) -> Reply:
    """MAIL, RCPT and DATA, each answer checked; a recipient refused while another is
    accepted is named in the detail of a sent reply."""
    client.sock.settimeout(left(deadline))
    client.ehlo_or_helo_if_needed()
    options = []
    if not message.isascii() and client.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    if not (sender + "".join(recipients)).isascii() and client.has_extn("smtputf8"):
        options.append("SMTPUTF8")
    client.sock.settimeout(left(deadline))
    code, words = client.mail(sender, options)
    if code != 250:
        raise _refused(code, words, "MAIL FROM ")
    refused = []
    for address in recipients:
        client.sock.settimeout(left(deadline))
        code, words = client.rcpt(address)
        if code not in (250, 251):
            refused.append((address, code, words))
    if len(refused) == len(recipients):
        address, code, words = refused[0]
        raise _refused(code, words, f"RCPT TO {address} ")
    client.sock.settimeout(left(deadline))
    code, words = client.data(message)
    if code != 250:
        raise _refused(code, words, "DATA ")
    detail = f"SMTP {code} {_text(words)}"
    if refused:
        detail += "; refused: " + ", ".join(f"{a} ({c})" for a, c, _ in refused)
    return reply(True, code, detail, False)


def _refused(code: int, words: bytes | str, step: str) -> Failed:
    """The failure of a step the server answered with code: 4xx is worth a retry."""
    return Failed(f"SMTP {step}{code} {_text(words)}".strip(), 400 <= code < 500, code)


def _text(words: bytes | str) -> str:
    if isinstance(words, bytes):
        words = words.decode("utf-8", "replace")
    return " ".join(words.split())


def _close(client: Any, deadline: float) -> None:
    """QUIT politely when the connection still stands and time is left (a second at
    most: the message's fate is decided), then close it whatever happens."""
    try:
        if client.sock is not None:
            client.sock.settimeout(min(1.0, left(deadline)))
            client.quit()
    except Exception:  # already gone: the message's fate is decided
        pass
    try:
        client.close()
    except Exception:
        pass
