"""Properties of the control protocol: whatever bytes a client sends, in whatever pieces,
it gets one well-formed answer (JSON lines ending with an exit code) or a clean close,
and nothing raises out of the server."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from initsup.control.connection import (
    MAX_REQUEST,
    BadRequest,
    Connection,
    parse_request,
    wire,
)
from tests.helpers import drain

# Request lines: raw bytes, and bytes near the protocol (JSON-ish text and real requests).
_JSONISH = st.text(alphabet='{}[]":,0123456789.eE+-tfnrul \\abcdgs\ud800\udcff\x00', max_size=80)
_REQUESTS = st.builds(
    lambda cmd, args: json.dumps({"cmd": cmd, "args": args}),
    st.one_of(st.sampled_from(["status", "version", "nosuch", ""]), st.text(max_size=10)),
    st.lists(st.one_of(st.text(max_size=10), st.integers()), max_size=3),
)
_LINES = st.one_of(
    st.binary(max_size=200),
    _JSONISH.map(lambda text: text.encode("utf-8", "surrogatepass")),
    _REQUESTS.map(str.encode),
)


@given(_LINES)
def test_a_request_line_parses_or_is_a_bad_request(line: bytes) -> None:
    """parse_request gives (str, [str, ...]) or BadRequest, nothing else."""
    try:
        command, args = parse_request(line)
    except BadRequest as exc:
        assert str(exc)
        return
    assert isinstance(command, str)
    assert isinstance(args, list) and all(isinstance(a, str) for a in args)


@given(st.dictionaries(st.sampled_from(["out", "err", "data"]), st.text(), min_size=1))
def test_an_answer_is_one_utf8_json_line(message: dict[str, str]) -> None:
    """wire() makes one line of valid UTF-8 JSON of the same keys, whatever the text holds;
    text UTF-8 can carry comes back as it was."""
    line = wire(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    decoded = json.loads(line.decode("utf-8"))
    assert decoded.keys() == message.keys()
    for key, text in message.items():
        try:
            text.encode()
        except UnicodeEncodeError:
            continue
        assert decoded[key] == text


# -- the transport, in-process, on a real socket pair --------------------------------------


class _Timer:
    def cancel(self) -> None:
        pass


class _Loop:
    def __init__(self) -> None:
        self.readers: dict[int, Callable[[], None]] = {}

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self.readers[fd] = callback

    def remove_reader(self, fd: int) -> None:
        self.readers.pop(fd, None)

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        pass

    def remove_writer(self, fd: int) -> None:
        pass

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        return _Timer()


class _Logger:
    def __init__(self) -> None:
        self.failures: list[BaseException] = []

    def warning(self, event: str) -> None:
        pass

    def exception(self, event: str, exc: BaseException) -> None:
        self.failures.append(exc)


class _Server:
    """A server's state without a listening socket; answers like ControlServer."""

    def __init__(self) -> None:
        self.loop = _Loop()
        self.logger = _Logger()
        self.sockets = socket
        self.connections: dict[Connection, None] = {}
        self.queued = 0

    def handle(self, c: Connection, line: bytes) -> None:
        try:
            command, args = parse_request(line)
        except BadRequest as exc:
            c.reject(str(exc))
            return
        c.out(f"{command} {args}")
        c.finish(0)


@given(st.lists(_LINES, min_size=1, max_size=4), st.booleans())
def test_any_bytes_get_one_answer_or_nothing(pieces: list[bytes], hang_up: bool) -> None:
    """Bytes sent in pieces (and maybe a hang-up) give exactly one answer: JSON lines whose
    last is the exit code; or, with no complete line yet, no answer and an open connection."""
    server = _Server()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        ours.setblocking(False)
        connection = Connection(server, ours)  # type: ignore[arg-type]
        for piece in pieces:
            theirs.sendall(piece)
            _pump(server, connection)
        if hang_up:
            theirs.shutdown(socket.SHUT_WR)
            _pump(server, connection)
        theirs.setblocking(False)
        answer = drain(theirs)
        sent = b"".join(pieces)
        if b"\n" in sent or len(sent) > MAX_REQUEST:
            # Lines end at b"\n" only (str.splitlines would also split at U+0085 and others).
            assert answer.endswith(b"\n")
            replies = [json.loads(line) for line in answer[:-1].split(b"\n")]
            assert replies and "exit" in replies[-1]
            assert all(isinstance(r, dict) for r in replies)
        else:
            assert answer == b""
            assert connection.closed == hang_up
        assert server.logger.failures == []
        connection.close()
        assert server.queued == 0 and not server.connections


def _pump(server: _Server, connection: Connection) -> None:
    reader = server.loop.readers.get(connection.fd)
    if reader is not None and not connection.closed:
        reader()
