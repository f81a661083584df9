"""What the courier's HTTP and SMTP sends share: the reply, failures, the deadline, URLs, TLS.

A module of its own so that courier_http.py and courier_smtp.py sit on one floor below
courier.py (the child's entry and PID 1's side), with no import back up.  Imports nothing
at load; ssl only when a TLS context is made.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Reply = dict[str, Any]
    Job = dict[str, Any]

MAX_BODY = 4096  # characters of a response body kept in the reply
MAX_DETAIL = 300  # characters of a reply's detail
PORTS = {"http": 80, "https": 443, "smtp": 25, "smtps": 465}


class Failed(Exception):
    """A send that failed, with its reply's detail, retry flag and status."""

    def __init__(self, detail: str, retry: bool, status: int = 0) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry = retry
        self.status = status


def reply(ok: bool, status: int, detail: str, retry: bool, body: str = "") -> Reply:
    """A reply, its texts cut to size and encodable; retry only for a failure."""
    return {
        "ok": ok,
        "status": status,
        "detail": clip(detail, MAX_DETAIL),
        "retry": retry and not ok,
        "body": clip(body, MAX_BODY, keep_lines=True),
    }


def failed(detail: str, retry: bool = True, status: int = 0) -> Reply:
    """The reply of a send that did not succeed."""
    return reply(False, status, detail, retry)


def clip(text: str, size: int, keep_lines: bool = False) -> str:
    """text cut to size, encodable as UTF-8 (no lone surrogates), and unless keep_lines
    without control characters (a detail is one line of a log record)."""
    text = text[:size].encode("utf-8", "replace").decode("utf-8")
    if keep_lines or text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def left(deadline: float) -> float:
    """Seconds left before the deadline (time.monotonic()); TimeoutError when none are."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    return remaining


def timed_out(timeout: float) -> str:
    """The detail of a send that overstayed its timeout."""
    return f"timed out after {timeout:g} s"


def network_failure(exc: OSError, timeout: float) -> tuple[str, bool]:
    """(detail, retry) of an OSError met while sending: retryable, but for TLS trust."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or name == "timeout":  # socket.timeout before 3.10
        return timed_out(timeout), True
    if name == "gaierror":
        return f"cannot resolve the host: {exc.args[-1]}", True
    if name == "SSLCertVerificationError":
        return f"TLS certificate not trusted: {getattr(exc, 'verify_message', '') or exc}", False
    if name.startswith("SSL"):
        return f"TLS: {getattr(exc, 'reason', '') or exc}", True
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", True
    if isinstance(exc, ConnectionResetError):
        return "connection reset", True
    return exc.strerror or str(exc) or name, True


def split_url(url: object, schemes: tuple[str, ...]) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, target, userinfo) of url; Failed (no retry) when it is not a
    URL of one of schemes.  host has no brackets; target is "/" at least, %-encoded."""
    if not isinstance(url, str):
        raise Failed("no url", retry=False)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in schemes:
        raise Failed(f"url {url!r} is not {' or '.join(schemes)}", retry=False)
    cut = min([at for at in (rest.find(c) for c in "/?#") if at >= 0] or [len(rest)])
    authority, target = rest[:cut], rest[cut:].partition("#")[0]
    userinfo, _, hostport = authority.rpartition("@")
    if hostport.startswith("["):  # an IPv6 literal: [::1]:8080
        host, bracket, port_text = hostport[1:].partition("]")
        valid = bool(bracket) and ":" in host and port_text[:1] in ("", ":")
        port_text = port_text[1:]
    else:
        host, _, port_text = hostport.partition(":")
        valid = ":" not in port_text
    if not port_text:
        port_text = str(PORTS[scheme])
    if not (valid and host and port_text.isdigit() and port_text.isascii()):
        raise Failed(f"url {url!r}: no valid host and port", retry=False)
    port = int(port_text)
    if not 0 < port < 65536:
        raise Failed(f"url {url!r}: port out of range", retry=False)
    return scheme, host, port, _target(target), userinfo


def _target(path: str) -> str:
    """The request target: "/" at least, bytes outside printable ASCII %-encoded."""
    if not path.startswith("/"):
        path = "/" + path
    raw = path.encode("utf-8", "replace")
    return "".join(chr(b) if 0x20 < b < 0x7F else f"%{b:02X}" for b in raw)


def tls_context(ca_file: object) -> Any:
    """A client TLS context: ca_file as the trust store when given, else the system's."""
    import ssl

    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ValueError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        raise Failed(f"cannot load ca_file {ca_file}: {detail}", retry=False) from None


def unsafe(text: str) -> bool:
    """Whether text would break a protocol line: CR, LF or NUL in it."""
    return "\r" in text or "\n" in text or "\0" in text
