"""`POST /initsup/ctl`: initsup ctl's JSON control protocol over HTTP.

`initsup ctl -s http://host:port` sends the same one JSON request line the control socket
takes as the request body, and gets the same JSON reply lines back as a streamed
`application/x-ndjson` body (200), ended after the `{"exit": code}` line; `tail -f`,
`maintail -f`, `fg` and `events -f` stream until the client hangs up.  So one protocol,
initsup's, serves `initsup ctl` over both transports, and the commands
(initsup.control.commands) answer alike on each: this module is only the Reply that
writes their lines to an HTTP response.  A body that is not a request is a 400.
"""

from __future__ import annotations

from initsup.control.commands import run
from initsup.control.connection import MAX_REQUEST, BadRequest, Lines, parse_request, wire

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.control.api import EventFeed, Host
    from initsup.control.handlers import Handler, Request, Responder
    from initsup.logs import Logger

CONTENT_TYPE = "application/x-ndjson"


class HttpReply(Lines):
    """A command's Reply that writes each answer line to a streamed HTTP response."""

    def __init__(self, responder: Responder, logger: Logger) -> None:
        self.responder = responder
        self.logger = logger
        self.ended = False

    def send(self, **message: Any) -> None:
        if not self.ended:
            self.responder.write(wire(message))

    def finish(self, code: int) -> None:
        """The last line, then the end of the response."""
        self.send(exit=code)
        if not self.ended:
            self.ended = True
            self.responder.end()

    def fail(self, event: str, what: str, exc: BaseException) -> None:
        """Whatever failed while serving: logged, and an error answer if one can still go."""
        try:
            self.logger.exception(event, exc)
        finally:
            self.err(f"Error: {what}: {exc}")
            self.finish(1)

    def when_gone(self, forget: Callable[[], None]) -> None:
        """Call forget when the client goes (a wait it no longer needs)."""
        self.responder.when_gone(forget)

    def stream(self, forget: Callable[[], None]) -> None:
        """Answer until the client goes (tail -f, events -f), then call forget."""
        self.responder.when_gone(forget)


def handler(host: Host, feed: EventFeed) -> Handler:
    """The `POST /initsup/ctl` route: one request line in the body, its reply lines out."""

    def handle(request: Request, responder: Responder) -> None:
        if request.method != "POST":
            responder.send(405, b"POST a request line\n", headers={"Allow": "POST"})
            return
        body = request.body[:-1] if request.body.endswith(b"\n") else request.body
        try:
            if len(body) > MAX_REQUEST or b"\n" in body:
                raise BadRequest(f"not one request line of at most {MAX_REQUEST} bytes")
            command, args = parse_request(body)
        except BadRequest as exc:
            host.logger.warning(f"POST /initsup/ctl: bad request: {exc}")
            responder.send(400, f"bad request: {exc}\n".encode())
            return
        responder.start(200, CONTENT_TYPE)
        run(host, feed, HttpReply(responder, host.logger), command, args)

    return handle
