"""What a POST to the status page's /control must be: a small form, from the page itself.

Outside input, read by hand and bounded: the body is an application/x-www-form-urlencoded
form of at most MAX_FORM bytes with each of `action`, `name` and `token` exactly once
(FormError, a 4xx, otherwise); `allowed` is the cross-site request check: the form's
token must be the server's (compared in constant time) and the request must not come
from a page of another origin (its Origin header, or without one its Referer, names the
host the request was sent to).  Nothing here raises anything but FormError, whatever
the bytes.
"""

from __future__ import annotations

import hmac

from initsup.control.http_parse import unquote

MAX_FORM = 4096  # bytes of a form body: three short fields
MAX_FIELDS = 16  # fields read; a browser sends three
FIELDS = ("action", "name", "token")
FORM_TYPE = "application/x-www-form-urlencoded"
# The port a URL means when it names none, per scheme.
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class FormError(Exception):
    """A form the server refuses, with the status to answer (400, 413)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """{action, name, token} of a form body; FormError when it is not such a form."""
    kind = content_type.partition(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise FormError(400, f"send the form as {FORM_TYPE}")
    if len(body) > MAX_FORM:
        raise FormError(413, f"a form of at most {MAX_FORM} bytes")
    try:
        text = body.decode("ascii")  # urlencoded: anything else is escaped as %XX
    except UnicodeDecodeError:
        raise FormError(400, "a form body is ASCII (url-encoded)") from None
    found: dict[str, str] = {}
    fields = text.split("&") if text else []
    if len(fields) > MAX_FIELDS:
        raise FormError(400, f"at most {MAX_FIELDS} fields")
    for field in fields:
        key, _, value = field.partition("=")
        key = unquote(key, plus=True)
        if key not in FIELDS:
            continue  # a field the page does not send: nothing depends on it
        if key in found:
            raise FormError(400, f"the field {key!r} is given more than once")
        found[key] = unquote(value, plus=True)
    missing = [key for key in FIELDS if key not in found]
    if missing:
        raise FormError(400, f"missing field(s): {', '.join(missing)}")
    return found


def token_matches(given: str, token: str) -> bool:
    """Whether a form's token is the server's, in time that does not tell how close."""
    return hmac.compare_digest(given.encode("utf-8", "backslashreplace"), token.encode())


def same_origin(headers: dict[str, str]) -> bool:
    """Whether the request's Origin (or, without one, its Referer) names the host it was
    sent to (its Host header).  Neither header: True, the token alone decides (curl
    sends neither); "null" or anything that is no http(s) URL of this host: False."""
    source = headers.get("origin")
    if source is None:
        source = headers.get("referer")
    if source is None:
        return True
    host = headers.get("host", "").strip().lower()
    origin = _authority(source.strip())
    if not host or origin is None:
        return False
    scheme, authority = origin
    return _with_port(authority, scheme) == _with_port(host, scheme)


def _authority(url: str) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an http(s) URL, lower case; None for anything else."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        return None
    authority = rest
    for end in "/?#":
        authority = authority.partition(end)[0]
    authority = authority.rpartition("@")[2].lower()
    return (scheme, authority) if authority else None


def _with_port(authority: str, scheme: str) -> str:
    """host:port, the scheme's port written out when the authority names none."""
    if authority.endswith("]") or ":" not in authority:  # [::1], or a name alone
        return f"{authority}:{_DEFAULT_PORTS[scheme]}"
    return authority
