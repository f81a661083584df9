"""A Responder for handlers that answer a request whole (`send`): it keeps each answer,
and a stream started where none belongs fails the test."""

from __future__ import annotations

from typing import Any


class WholeResponder:
    """Keeps every answer as (status, body, content type, headers)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes, str, dict[str, str]]] = []

    def send(self, status: int, body: bytes, content_type: str = "", headers: Any = None) -> None:
        self.answers.append((status, body, content_type, dict(headers or {})))

    def start(self, status: int, content_type: str) -> None:
        raise AssertionError("this handler answers whole, it does not stream")

    def write(self, data: bytes) -> None:
        raise AssertionError("this handler answers whole, it does not stream")

    def end(self) -> None:
        raise AssertionError("this handler answers whole, it does not stream")

    def when_gone(self, forget: Any) -> None:
        pass
