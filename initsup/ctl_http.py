"""`initsup ctl`'s HTTP transport: one request line as `POST /initsup/ctl`, its reply
lines read back from the response body.

For a server given as http://host:port (an [inet_http_server]).  Written by hand over a
socket, not with http.client: that module (and the email package under it) would cost
every `initsup ctl` run its import time.  Everything read is bounded: the status line and
headers together (MAX_HEAD), and each chunk size line; the body is handed on as it comes
(`tail -f` streams for ever).  A 401 is supervisorctl's `Server requires authentication`;
a 404 means the server is not an initsup (a supervisord, say) and says so.
"""

from __future__ import annotations

import base64
import socket

MAX_HEAD = 65536  # status line and headers, together
TIMEOUT = 30.0  # for connecting and for the answer's head; the body may take for ever


class HttpError(Exception):
    """The server answered, but not with reply lines: the line to print and the exit code."""

    def __init__(self, message: str, code: int, status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status  # the HTTP status, when that is what went wrong


def split_url(url: str) -> tuple[str, int]:
    """(host, port) of http://host[:port][/]; port 80 by default."""
    rest = url[len("http://") :].rstrip("/")
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit():
        return rest, 80
    return host.strip("[]"), int(port)


def request(url: str, line: bytes, username: str | None, password: str | None) -> Body:
    """Post one request line; the body of a 200 answer (raises HttpError otherwise, and
    OSError when the server cannot be reached)."""
    host, port = split_url(url)
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        head = [
            "POST /initsup/ctl HTTP/1.1",
            f"Host: {host}:{port}",
            "Content-Type: application/json",
            f"Content-Length: {len(line)}",
            "Connection: close",
        ]
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            head.append(f"Authorization: Basic {token}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + line)
        body = Body(sock)
        status, _ = body.read_head()
        if status == 401:
            raise HttpError("Server requires authentication", 1, status)
        if status == 404:
            raise HttpError(f"{url} does not serve initsup ctl (not an initsup?)", 1)
        if status != 200:
            raise HttpError(f"{url} answered HTTP {status}: {body.read_some(512)!r}", 1)
        body.sock.settimeout(None)
        return body
    except BaseException:
        sock.close()
        raise


class Body:
    """A response read from its socket: the head at once, then the body as it comes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.chunked = False
        self.left: int | None = None  # Content-Length still to read, None: to the end
        self.chunk_left = 0  # bytes of the current chunk still to read
        self.chunked_started = False  # a chunk has been read: a bare CRLF ends one
        self.done = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def read_head(self) -> tuple[int, dict[str, str]]:
        """The status code and the headers (lower-case names); the body is read as they say
        (chunked, Content-Length, or to the end)."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD:
                raise HttpError("the server's answer has an oversized head", 1)
            if not self._fill():
                raise HttpError("the server closed the connection without an answer", 1)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HttpError(f"the server's answer is not HTTP: {lines[0][:80]!r}", 1)
        headers = {}
        for header in lines[1:]:
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length", "")
        self.left = int(length) if length.isdigit() and not self.chunked else None
        self.done = self.left == 0
        return int(parts[1]), headers

    def read_some(self, limit: int) -> bytes:
        """Up to limit bytes of what has come (for an error's message)."""
        if not self.buffer:
            self._fill()
        return self.buffer[:limit]

    def recv(self, size: int) -> bytes:
        """The next bytes of the body (at most size), b"" at its end."""
        if self.done:
            return b""
        if self.chunked:
            return self._recv_chunked(size)
        if not self.buffer and not self._fill():
            self.done = True
            return b""
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        if self.left is not None:
            data = data[: self.left]
            self.left -= len(data)
            self.done = self.left == 0
        return data

    def _recv_chunked(self, size: int) -> bytes:
        while self.chunk_left == 0:
            if not self._next_chunk():
                self.done = True
                return b""
        if not self.buffer and not self._fill():
            raise HttpError("the server closed the connection in the middle of its answer", 1)
        data = self.buffer[: min(size, self.chunk_left)]
        self.buffer = self.buffer[len(data) :]
        self.chunk_left -= len(data)
        return data

    def _next_chunk(self) -> bool:
        """Read the next chunk's size line (after the last chunk's CRLF); False at the end."""
        while True:
            line, newline, rest = self.buffer.partition(b"\r\n")
            if newline and line == b"" and self.chunked_started:
                self.buffer = rest  # the CRLF that ends the chunk before
                continue
            if newline:
                break
            if len(self.buffer) > 1024:
                raise HttpError("the server sent an oversized chunk size line", 1)
            if not self._fill():
                raise HttpError("the server closed the connection in the middle of its answer", 1)
        self.buffer = rest
        self.chunked_started = True
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise HttpError(f"the server sent a bad chunk size: {line[:40]!r}", 1) from None
        self.chunk_left = size
        return size > 0
