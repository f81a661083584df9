"""The courier's HTTP(S) send: one request written by hand over a socket, its answer read.

By hand because http.client and urllib.request import the email package (about 25 ms of
every alert's start-up): an HTTP/1.1 request with Host, Content-Type (application/json
unless the job's headers say otherwise), Content-Length and Connection: close, and the
answer's status line and at most MAX_BODY bytes of its body.  Plain HTTP runs on
`_socket` (the public socket module costs 7 ms of enums), https on socket and ssl.

The answer is outside input: parse_response takes any bytes and says "need more", an
answer, or Failed, never anything else (tests/fuzz/test_courier_fuzz.py), and no more
than MAX_READ bytes are read.  The status line, header and chunk reading are
health/answers.py's, which the HTTP health checks use and which is fuzzed already.
"""

from __future__ import annotations

from initsup.alerts.courier_net import (
    MAX_BODY,
    PORTS,
    Failed,
    left,
    reply,
    split_url,
    tls_context,
    unsafe,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from initsup.alerts.courier_net import Job, Reply

METHODS = ("POST", "PUT", "PATCH")
MAX_READ = 128 << 10  # bytes of an answer read at most (head, chunk lines, body)
MAX_TOKEN = 64 << 10  # bytes of a token file read at most
MAX_STATUS_LINE = 1024  # bytes without a line end after which an answer is not HTTP
# The request's framing is the courier's: the job's headers cannot change it.
FRAMING = ("host", "content-length", "connection", "transfer-encoding")
_SOCKET_NAMES = ("socket", "getaddrinfo", "SOCK_STREAM", "timeout", "gaierror")
_SOCKET_METHODS = ("settimeout", "connect", "sendall", "recv", "close")


def send(job: Job, deadline: float) -> Reply:
    """Do the http job; Failed or OSError when it could not be done."""
    method = job.get("method", "POST")
    if method not in METHODS:
        raise Failed(f"unknown method {method!r}", retry=False)
    scheme, host, port, target, userinfo = split_url(job.get("url"), ("http", "https"))
    body = str(job.get("body", "")).encode("utf-8", "replace")
    head = request_head(job, method, (scheme, host, port, target, userinfo), len(body))
    sock = _connect(host, port, deadline, scheme == "https", job.get("ca_file"))
    try:
        sock.settimeout(left(deadline))
        sock.sendall(head + body)
        status, reason, answer = _read_response(sock, deadline)
    finally:
        sock.close()
    detail = f"HTTP {status} {reason}".rstrip()
    retry = status >= 500 or status in (408, 429)
    return reply(200 <= status < 300, status, detail, retry, answer)


def request_head(job: Job, method: str, url: tuple[str, str, int, str, str], length: int) -> bytes:
    """The request line and headers, ready to be followed by the body's length bytes."""
    scheme, host, port, target, userinfo = url
    headers = job.get("headers") or {}
    if not isinstance(headers, dict):
        raise Failed("headers is not an object", retry=False)
    fields = {str(k): str(v) for k, v in headers.items() if str(k).lower() not in FRAMING}
    named = {key.lower() for key in fields}
    token = _bearer(job)
    if token is not None:
        fields = {k: v for k, v in fields.items() if k.lower() != "authorization"}
        fields["Authorization"] = f"Bearer {token}"
    elif userinfo and "authorization" not in named:
        fields["Authorization"] = "Basic " + _basic(userinfo)
    if "content-type" not in named:
        fields["Content-Type"] = "application/json"
    if "user-agent" not in named:
        from initsup import __version__

        fields["User-Agent"] = f"initsup/{__version__}"
    shown = f"[{host}]" if ":" in host else host
    if port != PORTS[scheme]:
        shown = f"{shown}:{port}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {shown}"]
    for key, value in fields.items():
        if not key or unsafe(key) or ":" in key or " " in key or unsafe(value):
            raise Failed(f"header {key!r} is not a valid header", retry=False)
        lines.append(f"{key}: {value}")
    lines += [f"Content-Length: {length}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")


def _bearer(job: Job) -> str | None:
    """The bearer token: token_file's stripped content (read now: a rotated token is
    picked up at the next send), else token."""
    token, path = job.get("token"), job.get("token_file")
    if path:
        try:
            with open(str(path), "rb") as file:
                raw = file.read(MAX_TOKEN + 1)
        except OSError as exc:
            raise Failed(f"cannot read token_file {path}: {exc.strerror or exc}", True) from None
        if len(raw) > MAX_TOKEN:
            raise Failed(f"token_file {path} is over {MAX_TOKEN} bytes", retry=False)
        token = raw.decode("utf-8", "replace").strip()
        if not token:
            raise Failed(f"token_file {path} is empty", retry=True)
    if not token:
        return None
    if unsafe(str(token)):
        raise Failed("the token holds a line break", retry=False)
    return str(token)


def _basic(userinfo: str) -> str:
    """user:password of a URL (%-decoded) as Basic credentials."""
    import binascii

    parts = userinfo.encode("utf-8", "replace").split(b"%")
    raw = bytearray(parts[0])
    for part in parts[1:]:
        try:
            raw += bytes.fromhex(part[:2].decode("ascii")) + part[2:]
        except ValueError:  # a % not followed by two hex digits stays as it is
            raw += b"%" + part
    return binascii.b2a_base64(bytes(raw), newline=False).decode("ascii")


def _connect(host: str, port: int, deadline: float, tls: bool, ca_file: object) -> Any:
    """A connected socket (TLS-wrapped for https), each step within the deadline; the
    addresses of the host are tried in turn while they refuse."""
    if tls:
        import socket as net

        context = tls_context(ca_file)
    else:
        from initsup import sockets

        net = sockets.module(_SOCKET_NAMES, _SOCKET_METHODS)
    # An ASCII name goes as bytes: a str is encoded with the idna codec, whose import
    # (re, enum...) would cost a plain-HTTP send half its start-up.
    name = host.encode("ascii") if host.isascii() else host
    try:
        addresses = net.getaddrinfo(name, port, 0, net.SOCK_STREAM)
    except net.gaierror as exc:
        raise Failed(f"cannot resolve {host}: {exc.args[-1]}", retry=True) from None
    error: OSError = ConnectionRefusedError("no address")
    for family, kind, proto, _, address in addresses:
        sock = net.socket(family, kind, proto)
        try:
            sock.settimeout(left(deadline))
            sock.connect((str(address[0]).encode("ascii"), *address[1:]))
            if tls:
                sock = context.wrap_socket(sock, server_hostname=host)
            return sock
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError) or type(exc).__name__.startswith(("SSL", "time")):
                raise  # another address would not help: out of time, or TLS refused
            error = exc
    if isinstance(error, ConnectionRefusedError):
        shown = f"[{host}]" if ":" in host else host
        raise Failed(f"connection refused by {shown}:{port}", retry=True)
    raise error


def _read_response(sock: Any, deadline: float) -> tuple[int, str, str]:
    """(status, reason, body) of the answer; Failed when it is not one."""
    data = b""
    while len(data) < MAX_READ:
        try:
            sock.settimeout(left(deadline))
            chunk = sock.recv(16384)
        except OSError as exc:
            # Out of time with the whole head read: the status is the server's answer,
            # whatever became of the rest of the body.
            timeout = isinstance(exc, TimeoutError) or type(exc).__name__ == "timeout"
            if timeout and _head_end(data) >= 0:
                break
            raise
        if not chunk:
            break
        data += chunk
        found = parse_response(data, complete=False)
        if found is not None:
            return found
    found = parse_response(data[:MAX_READ], complete=True)
    if found is None:  # parse_response answers every complete input; this is for mypy
        raise Failed("unreadable answer", retry=False)
    return found


def parse_response(data: bytes, complete: bool) -> tuple[int, str, str] | None:
    """(status, reason, body) of an HTTP answer read so far, the body cut at MAX_BODY
    bytes; None while more is needed, Failed when it is not an HTTP answer.  complete:
    nothing more will come.  Interim 1xx answers are skipped."""
    from initsup.health import answers

    while True:
        if not data and complete:
            raise Failed("the server closed the connection without answering", retry=True)
        status = answers.parse_status(data)
        if status is None:
            if b"\n" in data or complete or len(data) > MAX_STATUS_LINE:
                raise Failed(f"not an HTTP answer: {data[:60]!r}", retry=False)
            return None
        end = _head_end(data)
        if end < 0:
            return (status, _reason(data), "") if complete else None
        head, body = data[:end], data[end:]
        if 100 <= status < 200:
            data = body
            continue
        if status in (204, 304):
            return status, _reason(head), ""
        encoding = (answers.header(head, b"transfer-encoding") or b"").lower()
        length = answers.header(head, b"content-length")
        finished = False
        if encoding.endswith(b"chunked"):
            body, finished = answers.dechunk(body)
        elif length is not None and length.isdigit() and len(length) <= 18:
            body, finished = body[: int(length)], len(body) >= int(length)
        if complete or finished or len(body) >= MAX_BODY:
            return status, _reason(head), body[:MAX_BODY].decode("utf-8", "replace")
        return None


def _head_end(data: bytes) -> int:
    """Where the body starts (after the empty line that ends the head), or -1."""
    ends = []
    for mark in (b"\r\n\r\n", b"\n\n"):
        at = data.find(mark)
        if at >= 0:
            ends.append(at + len(mark))
    return min(ends) if ends else -1


def _reason(head: bytes) -> str:
    """The reason phrase of the status line ("Service Unavailable"), "" when none."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    parts = line.split(b" ", 2)
    return parts[2].decode("latin-1").strip() if len(parts) == 3 else ""
