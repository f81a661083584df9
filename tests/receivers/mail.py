"""SmtpReceiver: aiosmtpd on 127.0.0.1, with STARTTLS, implicit TLS and AUTH on demand."""

from __future__ import annotations

import logging
import socket
import warnings
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.receivers.common import OwnTls, Recorded


class Message:
    """One message an SmtpReceiver accepted."""

    def __init__(self, envelope: Envelope, session: Session, tls: bool) -> None:
        self.sender = envelope.mail_from
        self.to = list(envelope.rcpt_tos)
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        self.text: str = content or ""  # the whole message, headers included
        self.options = list(envelope.mail_options)
        self.tls = tls
        self.authenticated = bool(session.authenticated)

    def __repr__(self) -> str:
        return f"<Message {self.sender} -> {self.to} tls={self.tls}>"


class _SmtpHandler:
    def __init__(self, owner: SmtpReceiver) -> None:
        self.owner = owner

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.owner.answer.startswith("250"):
            # session.ssl tells of STARTTLS only; the transport of implicit TLS too
            transport = server.transport
            tls = transport is not None and transport.get_extra_info("ssl_object") is not None
            self.owner.add(self.owner.messages, Message(envelope, session, tls))
        return self.owner.answer


class _Controller(Controller):
    """aiosmtpd's Controller on a socket bound before it starts (port 0: the kernel's)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self.sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


class SmtpReceiver(Recorded):
    """An SMTP server (aiosmtpd) that records each message it accepts.  starttls: it
    offers STARTTLS; implicit_tls: TLS from the first byte (smtps://); auth: (user,
    password) it requires, by AUTH LOGIN or PLAIN, with or without TLS.  answer: its
    reply to DATA, settable at run time ("451 ..." or "554 ..." to refuse)."""

    def __init__(
        self,
        starttls: bool = False,
        implicit_tls: bool = False,
        auth: tuple[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        super().__init__()
        self.tls = OwnTls(tls or (starttls or implicit_tls))
        self.ca_file = self.tls.ca_file
        self.auth = auth
        self.answer = "250 OK"
        self.messages: list[Message] = []
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)
        self.implicit_tls = implicit_tls
        self.starttls = starttls
        self.port = 0
        self._controller: _Controller | None = None

    @property
    def url(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpReceiver:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        kwargs: dict[str, Any] = {"server_hostname": "receiver.test", "ready_timeout": 10}
        if self.implicit_tls:
            kwargs["ssl_context"] = self.tls.context
        if self.starttls:
            kwargs["tls_context"] = self.tls.context
        if self.auth is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.starttls,
            )
        # aiosmtpd's own AUTH code logs a deprecation of its own at each login.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        with warnings.catch_warnings():  # AUTH without TLS is what it is asked for
            warnings.simplefilter("ignore")
            self._controller = _Controller(_SmtpHandler(self), sock, **kwargs)
            self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller.sock.close()
            self._controller = None
        self.tls.cleanup()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.auth is None:
            return AuthResult(success=False, handled=False)
        user = data.login.decode("utf-8", "replace")
        ok = (user, data.password.decode("utf-8", "replace")) == self.auth
        self.add(self.logins, (user, ok))
        return AuthResult(success=ok, handled=False)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        """The messages once count of them came."""
        return self.wait_count(self.messages, count, timeout)
