"""Bounded HTTP/1.x request parsing for the HTTP control surface: heads, bodies, limits.

Parses by hand (no http.server / email: both cost start-up and neither bounds its input)
so every limit is enforced before bytes are kept: a request line or header line of at
most MAX_LINE bytes, at most MAX_HEADERS headers, a body announced by Content-Length and
no longer than the server's limit.  Anything else is an HttpError carrying the status
the server answers with before it closes the connection.
"""

from __future__ import annotations

MAX_LINE = 8192
MAX_HEADERS = 100
METHODS = ("GET", "POST", "HEAD")
# Blank lines a client may send before a request line (RFC 9112 2.2 asks servers to skip
# at least one: supervisorctl's tail -f ends its request with an extra CRLF).
MAX_BLANK_LINES = 8

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    # method, path, query, version, headers (lower-case names)
    Head = tuple[str, str, str, str, dict[str, str]]


class HttpError(Exception):
    """A request the server answers with ``status`` and then closes."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def parse_head(data: bytes) -> Head:
    """Parse a request head (without the final blank line).

    Returns (method, path, query, version, headers with lower-case names).  A header
    given twice has its values joined with ", " (RFC 9110 5.3), so a doubled
    Content-Length cannot slip through as one of its values.
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
        if not sep or not name or name != name.strip() or " " in name:
            raise HttpError(400, "malformed header")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if method not in METHODS:
        raise HttpError(405, "method not allowed")
    path, _, query = target.partition("?")
    return method, path, query, version, headers


def take_head(buffer: bytes | bytearray) -> tuple[Head, int] | None:
    """The head at the start of buffer and how many bytes it took; None until it is whole.

    Raises HttpError as soon as what has arrived cannot become a head within the limits,
    so a client can never make the server hold more than one head's worth of bytes.
    """
    start = 0
    while buffer.startswith(b"\r\n", start) and start < 2 * MAX_BLANK_LINES:
        start += 2
    end = buffer.find(b"\r\n\r\n", start)
    if end < 0:
        _check_partial(buffer, start)
        return None
    return parse_head(bytes(buffer[start:end])), end + 4


def _check_partial(buffer: bytes | bytearray, start: int) -> None:
    """Raise when the unfinished head already breaks a limit."""
    if buffer.startswith(b"\r\n", start):
        raise HttpError(400, "blank lines instead of a request")
    last = buffer.rfind(b"\r\n", start)
    if len(buffer) - (start if last < 0 else last + 2) > MAX_LINE:
        raise HttpError(431, "line too long")
    if buffer.count(b"\r\n", start) > MAX_HEADERS:
        raise HttpError(431, "too many headers")


def body_length(headers: dict[str, str], max_body: int) -> int:
    """The length of the body that follows a head: 0 without Content-Length."""
    if "transfer-encoding" in headers:
        # Bodies come with Content-Length only: supervisorctl, xmlrpc.client and every
        # supervisord tool send one, and chunked request bodies would be a second
        # framing to bound and get wrong.  411 tells a client to send a length instead.
        raise HttpError(411, "Transfer-Encoding is not accepted; send Content-Length")
    text = headers.get("content-length")
    if text is None:
        return 0
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        raise HttpError(400, "malformed Content-Length")
    length = int(text)
    if length > max_body:
        raise HttpError(413, f"body larger than {max_body} bytes")
    return length


def take_request(buffer: bytes | bytearray, max_body: int) -> tuple[Head, bytes, int] | None:
    """The first whole request in buffer: its head, its body, and the bytes it took.

    None while more bytes are needed; HttpError when it can never be a valid request.
    (The server keeps the head it has parsed while a body arrives; this is the same
    steps at once, for tests.)
    """
    taken = take_head(buffer)
    if taken is None:
        return None
    head, size = taken
    length = body_length(head[4], max_body)
    if len(buffer) < size + length:
        return None
    return head, bytes(buffer[size : size + length]), size + length


def unquote(text: str, plus: bool = False) -> str:
    """%-decoding of a path (plus: of a query's field, where `+` is a space); only when
    there is something to decode, since urllib.parse imports re."""
    if "%" not in text and not (plus and "+" in text):
        return text
    from urllib.parse import unquote as path_unquote
    from urllib.parse import unquote_plus

    return unquote_plus(text, errors="replace") if plus else path_unquote(text, errors="replace")
