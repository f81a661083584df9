"""Accepting the clients of one listening socket, for the control socket and for each TCP
port of the HTTP side: non-blocking, never raising into the loop, and never spinning.

Out of file descriptors (EMFILE, ENFILE, ENOBUFS) the listener stays readable, and a
level-triggered loop would call accept again at once, for ever: it is unwatched for
ACCEPT_PAUSE instead, and the failure is logged once per episode.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.logs import Logger
    from initsup.loop import EventLoop, Timer

ACCEPT_PAUSE = 0.5


class Acceptor:
    """Hands every client of `listener` to admit(sock); `what` names it in the log."""

    def __init__(
        self,
        loop: EventLoop,
        logger: Logger,
        sockets: Any,
        listener: Any,
        what: str,
        admit: Callable[[Any], None],
    ) -> None:
        self.loop, self.logger, self.sockets = loop, logger, sockets
        self.listener = listener
        self.what = what
        self.admit = admit
        self._starved = False  # accept has failed since it last succeeded
        self._resume: Timer | None = None
        loop.add_reader(listener.fileno(), self._accept)

    def close(self) -> None:
        """Stop accepting (the listener itself is its owner's to close)."""
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        self.loop.remove_reader(self.listener.fileno())

    def _accept(self) -> None:
        while True:
            try:
                # accept4 with SOCK_CLOEXEC; typeshed does not list the C method.
                fd, _ = self.listener._accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS: pause rather than spin
                self._pause(exc)
                return
            self._starved = False
            try:
                conn = self.sockets.socket(fileno=fd)
            except Exception as exc:
                os.close(fd)
                self.logger.exception(f"{self.what}: a client failed", exc)
                continue
            try:
                self.admit(conn)
            except Exception as exc:
                conn.close()
                self.logger.exception(f"{self.what}: a client failed", exc)

    def _pause(self, exc: OSError) -> None:
        if not self._starved:  # once per episode
            self.logger.error(
                f"{self.what}: accept failed: {exc}; "
                f"accepting again every {ACCEPT_PAUSE} s until it works"
            )
        self._starved = True
        fd = self.listener.fileno()
        self.loop.remove_reader(fd)

        def resume() -> None:
            self._resume = None
            self.loop.add_reader(fd, self._accept)

        self._resume = self.loop.call_later(ACCEPT_PAUSE, resume)
