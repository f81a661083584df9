"""superlance's fatalmailbatch and crashmailbatch, unchanged, mailing through a local SMTP
sink (reference sections 3.5, 5 and 8 F3)."""

from __future__ import annotations

import email
import os
import re
import signal
import socketserver
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from tests.helpers import wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]
BIN = Path(sys.executable).parent
ASCTIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
# The first TICK_5 comes at the next 5 s boundary; allow for a slow machine on top.
MAIL_TIMEOUT = 15.0


class Mail:
    """One message the sink accepted: its envelope and its parsed text."""

    def __init__(self, sender: str, recipients: list[str], data: str) -> None:
        self.sender = sender
        self.recipients = recipients
        self.message = email.message_from_string(data)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return str(self.message.get_payload())


class SMTPSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP for smtplib: every message is kept in `mails`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.mails: list[Mail] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


class _SMTPHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sink = cast(SMTPSink, self.server)
        self._reply("220 sink ESMTP ready")
        sender = ""
        recipients: list[str] = []
        data: list[str] | None = None
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if data is not None:  # inside DATA: until a line with a single dot
                if line == ".":
                    with sink.lock:
                        sink.mails.append(Mail(sender, recipients, "\n".join(data)))
                    data, sender, recipients = None, "", []
                    self._reply("250 OK: queued")
                else:
                    data.append(line[1:] if line.startswith(".") else line)  # dot-unstuffing
                continue
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 sink")
            elif verb == "MAIL":
                sender = _address(argument)
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(_address(argument))
                self._reply("250 OK")
            elif verb == "DATA":
                data = []
                self._reply("354 end data with <CR><LF>.<CR><LF>")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 command not implemented")

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()


def _address(argument: str) -> str:
    match = re.search(r"<([^>]*)>", argument)
    return match.group(1) if match else argument.split(":", 1)[-1].strip()


@pytest.fixture
def smtp() -> Iterator[SMTPSink]:
    """A local SMTP sink on 127.0.0.1 (a free port), serving from a daemon thread."""
    sink = SMTPSink()
    thread = threading.Thread(target=sink.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()
        thread.join(10)


def _batch_listener(name: str, tool: str, sink: SMTPSink, prefix: str = "") -> str:
    """An [eventlistener:NAME] section running superlance's TOOL, batching every TICK_5."""
    return (
        f"[eventlistener:{name}]\n"
        f"command={prefix}{BIN}/{tool} -t to@example.com -f from@example.com "
        f"-H 127.0.0.1:{sink.port} -e TICK_5 -i 0.05\n"
        "events=PROCESS_STATE,TICK_5\n"
    )


def _mails(sink: SMTPSink, subject: str) -> list[Mail]:
    return [mail for mail in sink.received() if mail.subject == subject]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(): value.decode() for key, _, value in pairs}


def test_smtp_sink_speaks_enough_smtp(smtp: SMTPSink) -> None:
    """The sink itself: smtplib delivers a message through it, dot-stuffed lines restored."""
    import smtplib

    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: hi\n\nline\n.dot\n")
    (mail,) = smtp.received()
    assert (mail.sender, mail.recipients, mail.subject) == (
        "a@example.com",
        ["b@example.com"],
        "hi",
    )
    assert mail.body.splitlines() == ["line", ".dot"]


def test_fatalmailbatch_mails_a_fatal_start(supervise: Start, smtp: SMTPSink) -> None:
    """A program that cannot start goes FATAL; fatalmailbatch mails it on the next TICK_5 (F3)."""
    s = supervise(
        ini=_batch_listener("fatalmail", "fatalmailbatch", smtp)
        + "[program:failer]\ncommand=/nonexistent/failer\nstartretries=0\n"
    )
    running = s.wait("PROCESS_STATE_RUNNING", program="fatalmail")
    s.wait("PROCESS_STATE_FATAL", program="failer")
    subject = "Fatal start alert from supervisord"
    (mail,) = wait_for(lambda: _mails(smtp, subject), timeout=MAIL_TIMEOUT)
    assert mail.sender == "from@example.com" and mail.recipients == ["to@example.com"]
    assert mail.message["To"] == "to@example.com" and mail.message["From"] == "from@example.com"
    (line,) = mail.body.splitlines()
    assert re.fullmatch(rf"{ASCTIME} -- Process failer:failer failed to start too many times", line)
    # initsup gave the listener SUPERVISOR_SERVER_URL (else the tool exits 1 at once: see the
    # control below), and the tool is still running, in the same process.
    assert _environ(running["pid"])["SUPERVISOR_SERVER_URL"] == f"unix://{s.socket}"
    s.read_available()
    assert s.events("fatalmail") == ["PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"]
    assert s.stop() == 0


def test_crashmailbatch_mails_an_unexpected_death(supervise: Start, smtp: SMTPSink) -> None:
    """A RUNNING program killed with SIGKILL is mailed by crashmailbatch with its pid (F3)."""
    s = supervise(
        ini=_batch_listener("crashmail", "crashmailbatch", smtp)
        + "[program:crasher]\ncommand=sleep 1000\nstartsecs=0\n"
        + "[program:done]\ncommand=sh -c 'exit 0'\nstartsecs=0\nautorestart=false\n"
    )
    s.wait("PROCESS_STATE_RUNNING", program="crashmail")
    s.wait("PROCESS_STATE_EXITED", program="done", expected=True)
    running = s.wait("PROCESS_STATE_RUNNING", program="crasher")
    pid = running["pid"]
    os.kill(pid, signal.SIGKILL)
    s.wait("PROCESS_STATE_EXITED", program="crasher", pid=pid)
    subject = "Crash alert from supervisord"
    (mail,) = wait_for(lambda: _mails(smtp, subject), timeout=MAIL_TIMEOUT)
    assert mail.recipients == ["to@example.com"]
    # Only the unexpected death: the expected exit of `done` is not in the batch.
    (line,) = mail.body.splitlines()
    expected = rf"{ASCTIME} -- Process crasher:crasher \(pid {pid}\) died unexpectedly"
    assert re.fullmatch(expected, line)
    s.read_available()
    assert s.events("crashmail") == ["PROCESS_STATE_STARTING", "PROCESS_STATE_RUNNING"]
    assert s.stop() == 0


def test_without_server_url_the_batch_tools_refuse(supervise: Start, smtp: SMTPSink) -> None:
    """Control: with SUPERVISOR_SERVER_URL removed, fatalmailbatch exits 1 with its message."""
    # `env -u` rather than `environment=SUPERVISOR_SERVER_URL=""`: superlance only asks
    # whether the variable is there, so an empty value would not make it refuse.
    s = supervise(
        ini=_batch_listener("nourl", "fatalmailbatch", smtp, prefix="env -u SUPERVISOR_SERVER_URL ")
        + "startretries=0\n"
    )
    s.wait("Must run as a supervisor event listener", program="nourl", stream="stderr")
    exited = s.wait("PROCESS_STATE_BACKOFF", program="nourl")
    assert exited["exit_code"] == 1
    s.wait("PROCESS_STATE_FATAL", program="nourl")
    assert s.stop() == 0
