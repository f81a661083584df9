"""Bounded HTTP/1.x request-head parser for the HTTP control surface.

Parses by hand (no http.server / email: both cost start-up and neither
bounds its input) so every limit is enforced before bytes are kept.
"""

MAX_LINE = 8192
MAX_HEADERS = 100
METHODS = ("GET", "POST", "HEAD")


class HttpError(Exception):
    """A request the server answers with ``status`` and then closes."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def parse_head(data: bytes) -> "tuple[str, str, str, str, dict[str, str]]":
    """Parse a request head (without the final blank line).

    Returns (method, path, query, version, headers with lower-case names).
    """
    lines = data.split(b"\r\n")
    if any(len(line) > MAX_LINE for line in lines):
        raise HttpError(431, "line too long")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, "too many headers")
    try:
        text = [line.decode("latin-1") for line in lines]
        method, target, version = text[0].split(" ")
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    if version not in ("HTTP/1.0", "HTTP/1.1") or not target.startswith("/"):
        raise HttpError(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in text[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header")
        headers[name.lower()] = value.strip()
    if method not in METHODS:
        raise HttpError(405, "method not allowed")
    path, _, query = target.partition("?")
    return method, path, query, version, headers
