"""What an HTTP handler is given, as types: the request, and the responder it answers on.

The HTTP server (initsup.control.http_connection) has the concrete classes; the handlers
(XML-RPC, the log tails, `POST /initsup/ctl`) are written against these protocols, so
they are tested with a fake responder and never import the server.  Types only: nothing
here runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Request(Protocol):
        """One HTTP request, as the server hands it on."""

        method: str
        path: str
        query: str
        headers: dict[str, str]  # lower-case names
        body: bytes
        authenticated: bool  # False: credentials are asked and it gave none (open paths)

    class Responder(Protocol):
        """The answer to one request: whole (send), or streamed (start, write..., end)."""

        def send(
            self,
            status: int,
            body: bytes,
            content_type: str = "text/plain",
            headers: dict[str, str] | None = None,
        ) -> None: ...
        def start(self, status: int, content_type: str) -> None: ...
        def write(self, data: bytes) -> None: ...
        def end(self) -> None: ...
        def when_gone(self, forget: Callable[[], None]) -> None: ...

    # Answers now or later, exactly once.
    Handler = Callable[[Request, Responder], None]
