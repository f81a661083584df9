"""What every receiver shares: a certificate, a thread-safe record with a bounded wait."""

from __future__ import annotations

import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def tls_files(directory: Path) -> tuple[Path, Path]:
    """(cert, key): a self-signed certificate for 127.0.0.1, ::1 and localhost, made with
    the openssl CLI in directory.  The certificate is its own CA: pass it as ca_file."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context for the certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context


class Recorded:
    """A thread-safe list of what a receiver got, and a bounded wait on its length."""

    def __init__(self) -> None:
        self._changed = threading.Condition()

    def add(self, items: list[T], item: T) -> None:
        with self._changed:
            items.append(item)
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:
        """predicate's value once it is truthy; AssertionError after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not received within {timeout} s: {predicate}")
                self._changed.wait(left)

    def wait_count(self, items: list[T], count: int, timeout: float) -> list[T]:
        """A copy of items once it holds count of them."""

        def enough() -> list[T] | None:
            return list(items) if len(items) >= count else None

        return self.wait_until(enough, timeout)


class OwnTls:
    """A certificate made for one receiver when it was asked for TLS without files."""

    def __init__(self, tls: bool | tuple[Path, Path]) -> None:
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self.context: ssl.SSLContext | None = None
        self.ca_file: Path | None = None
        if tls is True:
            self._temporary = tempfile.TemporaryDirectory(prefix="receiver-tls-")
            tls = tls_files(Path(self._temporary.name))
        if isinstance(tls, tuple):
            self.ca_file = tls[0]
            self.context = server_context(*tls)

    def cleanup(self) -> None:
        if self._temporary is not None:
            self._temporary.cleanup()
