"""An HTTP check's request and the reading of its answer: pure functions of bytes.

The answer is outside input (any server on any port may be named): these functions take
whatever bytes came, never raise, and say "need more" or a verdict, so the probe's part
(health/probes.py) is only moving bytes.  Each is fuzzed in tests/fuzz/test_probe_fuzz.py.
The status line decides (2xx and 3xx are ok: redirects are not followed); the output is the
start of the body, as much of it as a check's result keeps.
"""

from __future__ import annotations

from initsup.health.facts import OUTPUT_TAIL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from initsup.model import HealthCheck

_HEX = b"0123456789abcdefABCDEF"
MAX_ANSWER = 65536  # bytes of an answer read at most: status line, headers, body
USER_AGENT = "initsup-healthcheck"


def request(check: HealthCheck) -> bytes:
    """The GET of an HTTP check, with Host as a browser would send it."""
    host = f"[{check.host}]" if ":" in check.host else check.host
    if check.port != 80:
        host = f"{host}:{check.port}"
    lines = [
        f"GET {check.path} HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


def parse_status(data: bytes) -> int | None:
    """The status code of an answer's first line (`HTTP/1.1 200 OK`), or None when the
    first line is not complete or not a status line.  Never raises."""
    end = data.find(b"\n")
    if end < 0:
        return None
    line = data[:end].rstrip(b"\r")
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if (
        len(version) != 8
        or not version.startswith(b"HTTP/")
        or version[6:7] != b"."
        or not (version[5:6].isdigit() and version[7:8].isdigit())
        or len(code) != 3
        or not code.isdigit()
        or rest[3:4] not in (b"", b" ")
    ):
        return None
    status = int(code)
    return status if 100 <= status <= 599 else None


def verdict(data: bytes, complete: bool) -> tuple[bool, str, str] | None:
    """(ok, detail, output) of an answer read so far, or None while more is needed.

    complete: nothing more will come (the server closed, or MAX_ANSWER was read).  The
    status line decides; the output is the start of the body, once the headers are over.
    A head longer than MAX_ANSWER is decided by its status line, with no output.
    """
    if b"\n" not in data:
        if not complete:
            return None
        if not data:
            return False, "connection closed before an answer", ""
        return False, "malformed status line", _text(data)
    status = parse_status(data)
    if status is None:
        return False, "malformed status line", _text(data)
    ok = 200 <= status < 400
    detail = f"HTTP {status}"
    head_end = _head_end(data)
    if head_end < 0:
        return (ok, detail, "") if complete else None
    head, body = data[:head_end], data[head_end:]
    if status < 200 or status in (204, 304):  # no body follows these
        return ok, detail, ""
    if (header(head, b"transfer-encoding") or b"").lower().endswith(b"chunked"):
        body, finished = dechunk(body)
    else:
        length = header(head, b"content-length")
        finished = length is not None and length.isdigit() and len(body) >= int(length)
    if complete or finished or len(body) >= OUTPUT_TAIL:
        return ok, detail, _text(body)
    return None


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of the first header called name (lower case) in head, stripped."""
    for line in head.split(b"\n")[1:]:
        key, colon, value = line.partition(b":")
        if colon and key.strip().lower() == name:
            return value.strip()
    return None


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The data of a chunked body as far as it came (and is well-formed), and whether its
    last chunk came.  Stops at OUTPUT_TAIL bytes: no more is kept."""
    data = bytearray()
    at = 0
    while len(data) < OUTPUT_TAIL:
        line_end = body.find(b"\n", at)
        size_text = body[at:line_end].split(b";")[0].strip()
        if line_end < 0 or not 0 < len(size_text) <= 8 or size_text.strip(_HEX):
            break  # not there yet, or not a chunk size: what came so far is the output
        size = int(size_text, 16)
        if size == 0:
            return bytes(data), True
        start = line_end + 1
        data += body[start : start + size]
        at = start + size
        at += 2 if body[at : at + 2] == b"\r\n" else 1
    return bytes(data[:OUTPUT_TAIL]), False


def _head_end(data: bytes) -> int:
    """Where the body starts (after the empty line ending the headers), or -1."""
    ends = [(at + len(mark)) for mark in (b"\r\n\r\n", b"\n\n") if (at := data.find(mark)) >= 0]
    return min(ends) if ends else -1


def _text(data: bytes) -> str:
    return data[:OUTPUT_TAIL].decode("utf-8", "replace")
