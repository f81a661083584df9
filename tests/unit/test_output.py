"""Unit tests for initsup.output: line splitting, the bounded writer and the pipe relay."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from initsup.logs import JsonLineRenderer
from initsup.loop import EventLoop
from initsup.output import (
    LineSplitter,
    OutputWriter,
    PipeRelay,
    render_block,
    render_lines,
    write_all,
)
from initsup.signals import SignalReceiver

Item = tuple[bytes, int, bool]


# -- helpers ---------------------------------------------------------------------------


class Pipe:
    """An os.pipe() whose ends the test may close early; the rest are closed at teardown."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self._open = {self.r, self.w}

    def close(self, fd: int) -> None:
        """Close one end now."""
        self._open.remove(fd)
        os.close(fd)

    def forget(self, fd: int) -> None:
        """Note that something else (a PipeRelay) has closed this end."""
        self._open.remove(fd)

    def close_all(self) -> None:
        for fd in sorted(self._open):
            os.close(fd)
        self._open.clear()


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    """A pipe with a non-blocking read end; every end still open is closed after the test."""
    p = Pipe()
    try:
        yield p
    finally:
        p.close_all()


@pytest.fixture
def loop() -> Iterator[EventLoop]:
    """A real EventLoop with its SignalReceiver; fails the test if a callback raised."""
    errors: list[tuple[str, BaseException]] = []
    receiver = SignalReceiver()
    event_loop = EventLoop(receiver, on_error=lambda where, exc: errors.append((where, exc)))
    try:
        yield event_loop
    finally:
        event_loop.close()
        receiver.close()
    if errors:
        raise errors[0][1]


def fill(fd: int) -> int:
    """Write to a non-blocking fd until it takes no more; return how many bytes it took."""
    total = 0
    chunk = b"f" * 65536
    while True:
        try:
            total += os.write(fd, chunk)
        except BlockingIOError:
            return total


def read_all(fd: int) -> bytes:
    """Read whatever a non-blocking fd holds right now."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def split(data: bytes, sizes: list[int], max_line: int) -> tuple[list[Item], list[Item]]:
    """Feed data to a LineSplitter in chunks of the given sizes (cycled).

    Returns the items from feed() and those from finish().
    """
    splitter = LineSplitter(max_line)
    fed: list[Item] = []
    offset = 0
    index = 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        fed += splitter.feed(data[offset : offset + size])
        offset += size
        index += 1
    return fed, splitter.finish()


def split_whole_first(
    data: bytes, sizes: list[int], max_line: int
) -> tuple[list[Item], list[Item]]:
    """As split(), but as the relays do: whole() first, feed() only when it declines."""
    splitter = LineSplitter(max_line)
    fed: list[Item] = []
    offset = 0
    index = 0
    while offset < len(data):
        chunk = data[offset : offset + sizes[index % len(sizes)]]
        block = splitter.whole(chunk)
        if block is None:
            fed += splitter.feed(chunk)
        else:
            fed += [(line, 0, True) for line in block.split(b"\n")[:-1]]
        offset += len(chunk)
        index += 1
    return fed, splitter.finish()


def reassemble(fed: list[Item], finished: list[Item]) -> bytes:
    """Rebuild the stream: a fed item ending a line had a newline; a finished one did not."""
    out = b"".join(piece + (b"\n" if last else b"") for piece, _, last in fed)
    return out + b"".join(piece for piece, _, _ in finished)


def random_stream(rng: random.Random, lines: int, max_len: int) -> bytes:
    """Lines of random length (some empty, some long) mixing 1- to 4-byte UTF-8 characters."""
    alphabet = ["a", "b", "z", " ", "{", "é", "ß", "€", "中", "😀", "\t"]
    out = []
    for _ in range(lines):
        length = rng.choice([0, 1, 5, rng.randrange(max_len)])
        out.append("".join(rng.choice(alphabet) for _ in range(length)).encode())
    return b"\n".join(out)


# -- LineSplitter ----------------------------------------------------------------------


def test_whole_lines() -> None:
    """Complete lines come out whole, as part 0 with last set, without their newline."""
    splitter = LineSplitter(100)
    assert splitter.feed(b"one\ntwo\n\nthree") == [
        (b"one", 0, True),
        (b"two", 0, True),
        (b"", 0, True),
    ]
    assert splitter.feed(b" more\n") == [(b"three more", 0, True)]
    assert splitter.finish() == []


def test_byte_by_byte_reassembles() -> None:
    """Fed one byte at a time, the items reassemble to exactly the input."""
    data = random_stream(random.Random(1), 60, 80) + b"\n"
    fed, finished = split(data, [1], max_line=16)
    assert reassemble(fed, finished) == data
    assert finished == []


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("max_line", [4, 7, 16, 64])
def test_random_chunks_reassemble(seed: int, max_line: int) -> None:
    """Fed in random chunk sizes, the items reassemble to the input and match unchunked feeding."""
    rng = random.Random(seed)
    data = random_stream(rng, 80, 3 * max_line)
    if seed % 2:
        data += b"\n"
    sizes = [rng.randint(1, 3 * max_line) for _ in range(50)]
    fed, finished = split(data, sizes, max_line)
    assert reassemble(fed, finished) == data
    assert (fed, finished) == split(data, [len(data) or 1], max_line)
    for piece, _, _ in fed + finished:
        assert len(piece) <= max_line


def test_long_line_parts_numbered_from_one() -> None:
    """A line over max_line comes out in parts 1, 2, ... with last only on the final part."""
    splitter = LineSplitter(4)
    items = splitter.feed(b"abcdefghij\nxy\n")
    assert items == [
        (b"abcd", 1, False),
        (b"efgh", 2, False),
        (b"ij", 3, True),
        (b"xy", 0, True),  # numbering starts again: the next line is whole
    ]


def test_long_line_parts_emitted_before_newline_arrives() -> None:
    """Full parts of a long line come out as soon as they exceed max_line, before its end."""
    splitter = LineSplitter(4)
    assert splitter.feed(b"abc") == []
    assert splitter.feed(b"de") == [(b"abcd", 1, False)]
    assert splitter.feed(b"fghij") == [(b"efgh", 2, False)]
    assert splitter.feed(b"\n") == [(b"ij", 3, True)]
    assert splitter.finish() == []


def test_line_of_exactly_max_line_is_whole() -> None:
    """A line of exactly max_line bytes is not split."""
    splitter = LineSplitter(4)
    assert splitter.feed(b"abcd\n") == [(b"abcd", 0, True)]


def test_parts_follow_one_another_in_a_stream() -> None:
    """In any stream, parts run 1..n with last exactly on part n, and whole lines are part 0."""
    rng = random.Random(7)
    data = random_stream(rng, 200, 40)
    fed, finished = split(data, [rng.randint(1, 30) for _ in range(40)], 8)
    expected_part = 1
    for _, part, last in fed + finished:
        if part == 0:
            assert expected_part == 1
            assert last
            continue
        assert part == expected_part
        expected_part = 1 if last else part + 1
    assert expected_part == 1


@pytest.mark.parametrize("char", ["é", "€", "😀"])
@pytest.mark.parametrize("offset", range(12))
def test_parts_do_not_split_multibyte_characters(char: str, offset: int) -> None:
    """A multibyte character straddling the part boundary moves whole into the next part."""
    line = b"a" * offset + char.encode() + b"b" * 20
    fed, _ = split(line + b"\n", [len(line) + 1], max_line=8)
    assert b"".join(piece for piece, _, _ in fed) == line
    for piece, _, _ in fed:
        piece.decode("utf-8")  # raises if a character was cut


@pytest.mark.parametrize("seed", range(5))
def test_parts_are_valid_utf8_for_valid_input(seed: int) -> None:
    """With max_line >= 4, every part of valid UTF-8 text is itself valid UTF-8."""
    rng = random.Random(seed)
    text = random_stream(rng, 50, 60)
    for max_line in (4, 5, 6, 9, 13):
        fed, finished = split(text, [rng.randint(1, 20)], max_line)
        for piece, _, _ in fed + finished:
            piece.decode("utf-8")


def test_invalid_utf8_run_falls_back_to_max_line() -> None:
    """With no character start within 3 bytes of the limit the cut is at max_line exactly."""
    fed, _ = split(b"\x80" * 10 + b"\n", [11], max_line=4)
    assert fed == [(b"\x80" * 4, 1, False), (b"\x80" * 4, 2, False), (b"\x80" * 2, 3, True)]


def test_finish_returns_trailing_line() -> None:
    """At end of stream a last line without newline comes out whole."""
    splitter = LineSplitter(100)
    assert splitter.feed(b"one\ntail") == [(b"one", 0, True)]
    assert splitter.finish() == [(b"tail", 0, True)]
    assert splitter.finish() == []


def test_finish_after_newline_returns_nothing() -> None:
    """A stream that ended with a newline has nothing left at finish."""
    splitter = LineSplitter(100)
    splitter.feed(b"one\ntwo\n")
    assert splitter.finish() == []


def test_finish_on_empty_stream() -> None:
    """A stream with no data at all has nothing at finish."""
    assert LineSplitter().finish() == []


def test_finish_ends_a_split_line() -> None:
    """A long last line without newline ends with a numbered last part at finish."""
    splitter = LineSplitter(4)
    assert splitter.feed(b"abcdef") == [(b"abcd", 1, False)]
    assert splitter.finish() == [(b"ef", 2, True)]


# -- OutputWriter ----------------------------------------------------------------------


def test_writer_writes_at_once_when_nothing_is_queued(loop: EventLoop, pipe: Pipe) -> None:
    """With nothing queued and room in the pipe, data goes out without waiting for the loop."""
    writer = OutputWriter(loop, pipe.w)
    writer.write(b"hello ")
    writer.write(b"world")
    assert read_all(pipe.r) == b"hello world"
    loop.run_once(0)  # nothing queued: no more writes
    assert read_all(pipe.r) == b""
    writer.close()


def test_writer_queues_behind_a_full_pipe(loop: EventLoop, pipe: Pipe) -> None:
    """What the pipe cannot take is queued, written when the loop runs, and never overtaken."""
    writer = OutputWriter(loop, pipe.w)
    filled = fill(pipe.w)
    writer.write(b"hello ")
    assert len(read_all(pipe.r)) == filled  # the reader drains the pipe...
    writer.write(b"world")  # ...but "hello " is still queued: this goes behind it
    assert read_all(pipe.r) == b""
    loop.run_once(0)
    assert read_all(pipe.r) == b"hello world"
    loop.run_once(0)
    assert read_all(pipe.r) == b""
    writer.close()


def test_writer_queues_the_rest_of_a_partial_write(loop: EventLoop, pipe: Pipe) -> None:
    """A write the pipe takes only part of sends the rest, in order, when the loop runs."""
    writer = OutputWriter(loop, pipe.w)
    filled = fill(pipe.w)
    assert len(os.read(pipe.r, 4096)) == 4096  # room for one page: half of what comes
    payload = bytes(range(256)) * 32
    writer.write(payload)
    received = read_all(pipe.r)
    assert len(received) < filled - 4096 + len(payload)  # some of it was left queued
    for _ in range(100):
        loop.run_once(0)
        received += read_all(pipe.r)
        if len(received) == filled - 4096 + len(payload):
            break
    assert received[filled - 4096 :] == payload
    writer.close()


def test_writer_makes_fd_non_blocking_and_close_restores(loop: EventLoop, pipe: Pipe) -> None:
    """The writer makes a pipe non-blocking and close() gives back its blocking mode."""
    assert os.get_blocking(pipe.w)
    writer = OutputWriter(loop, pipe.w)
    assert not os.get_blocking(pipe.w)
    writer.write(b"x")
    writer.close()
    assert os.get_blocking(pipe.w)
    assert read_all(pipe.r) == b"x"


def test_writer_full_and_when_drained(loop: EventLoop, pipe: Pipe) -> None:
    """Past high_water the writer is full; when_drained callbacks run once the reader drains."""
    writer = OutputWriter(loop, pipe.w, high_water=16)
    filled = fill(pipe.w)
    calls: list[str] = []
    writer.write(b"a" * 10)
    assert not writer.full
    writer.when_drained(lambda: calls.append("now"))
    assert calls == ["now"]  # not full: called at once
    writer.write(b"b" * 10)
    assert writer.full
    writer.when_drained(lambda: calls.append("first"))
    writer.when_drained(lambda: calls.append("second"))
    loop.run_once(0)  # the pipe is full: nothing can be written
    assert writer.full
    assert calls == ["now"]
    assert len(read_all(pipe.r)) == filled  # the reader drains the pipe
    loop.run_once(0)
    assert not writer.full
    assert calls == ["now", "first", "second"]
    assert read_all(pipe.r) == b"a" * 10 + b"b" * 10
    loop.run_once(0)
    assert calls == ["now", "first", "second"]  # each callback runs once
    writer.close()


def test_writer_keeps_order_over_partial_writes(loop: EventLoop, pipe: Pipe) -> None:
    """Data larger than the pipe goes out over many passes, complete and in order."""
    writer = OutputWriter(loop, pipe.w)
    payload = random.Random(3).randbytes(300_000)
    for start in range(0, len(payload), 7000):
        writer.write(payload[start : start + 7000])
    received = b""
    for _ in range(1000):
        loop.run_once(0)
        received += read_all(pipe.r)
        if len(received) == len(payload):
            break
    assert received == payload
    writer.close()


def test_writer_broken_when_reader_closes(loop: EventLoop, pipe: Pipe) -> None:
    """Writing after the reader closed marks the writer broken, without raising."""
    writer = OutputWriter(loop, pipe.w)
    pipe.close(pipe.r)
    writer.write(b"lost")
    loop.run_once(0)
    assert writer.broken
    assert not writer.full
    writer.write(b"also lost")  # ignored
    loop.run_once(0)
    writer.flush()
    writer.close()
    assert writer.broken


def test_writer_break_releases_waiting_producers(loop: EventLoop, pipe: Pipe) -> None:
    """When the reader goes away, callbacks waiting for a drain are run so producers resume."""
    writer = OutputWriter(loop, pipe.w, high_water=8)
    fill(pipe.w)
    writer.write(b"x" * 20)
    calls: list[str] = []
    writer.when_drained(lambda: calls.append("resumed"))
    loop.run_once(0)
    assert calls == []
    pipe.close(pipe.r)
    loop.run_once(0)
    assert writer.broken
    assert calls == ["resumed"]
    writer.close()


def test_writer_flush_writes_everything(loop: EventLoop, pipe: Pipe) -> None:
    """flush() writes all buffered data at once and stops watching the fd."""
    writer = OutputWriter(loop, pipe.w)
    payload = b"0123456789" * 1000
    writer.write(payload)
    writer.flush()
    assert not os.get_blocking(pipe.w)
    assert read_all(pipe.r) == payload
    loop.run_once(0)
    assert read_all(pipe.r) == b""
    writer.write(b"after")  # the writer still works after a flush
    loop.run_once(0)
    assert read_all(pipe.r) == b"after"
    writer.close()


def test_writer_flush_with_empty_buffer(loop: EventLoop, pipe: Pipe) -> None:
    """flush() with nothing buffered writes nothing."""
    writer = OutputWriter(loop, pipe.w)
    writer.flush()
    assert read_all(pipe.r) == b""
    writer.close()


def test_writer_regular_file_direct(loop: EventLoop, tmp_path: Path) -> None:
    """On a regular file writes go straight through, without the loop running."""
    path = tmp_path / "out.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        writer = OutputWriter(loop, fd, high_water=4)
        writer.write(b"first\n")
        assert path.read_bytes() == b"first\n"
        assert not writer.full
        calls: list[str] = []
        writer.when_drained(lambda: calls.append("now"))
        assert calls == ["now"]
        writer.write(b"second\n")
        assert path.read_bytes() == b"first\nsecond\n"
        writer.close()
        assert os.get_blocking(fd)
    finally:
        os.close(fd)


def test_writer_dev_null_direct(loop: EventLoop) -> None:
    """/dev/null (a character device epoll refuses) is written to directly."""
    fd = os.open(os.devnull, os.O_WRONLY)
    try:
        writer = OutputWriter(loop, fd)
        writer.write(b"discarded")
        loop.run_once(0)
        assert not writer.broken
        writer.close()
    finally:
        os.close(fd)


# -- PipeRelay -------------------------------------------------------------------------


def test_relay_passes_data_and_reports_eof(loop: EventLoop, pipe: Pipe) -> None:
    """A relay hands on every chunk it reads and calls on_eof once when the pipe closes."""
    out = Pipe()
    try:
        writer = OutputWriter(loop, out.w)
        chunks: list[bytes] = []
        eofs: list[str] = []
        relay = PipeRelay(loop, pipe.r, writer, chunks.append, lambda: eofs.append("eof"))
        os.write(pipe.w, b"abc")
        loop.run_once(0)
        assert chunks == [b"abc"]
        pipe.close(pipe.w)
        loop.run_once(0)
        pipe.forget(pipe.r)
        assert relay.closed
        assert eofs == ["eof"]
        relay.close()
        loop.run_once(0)
        assert eofs == ["eof"]
        writer.close()
    finally:
        out.close_all()


def test_relay_pauses_while_writer_full(loop: EventLoop, pipe: Pipe) -> None:
    """A relay stops reading while its writer is full and resumes once it drains."""
    out = Pipe()
    try:
        writer = OutputWriter(loop, out.w, high_water=8)
        filled = fill(out.w)
        chunks: list[bytes] = []

        def on_data(data: bytes) -> None:
            chunks.append(data)
            writer.write(data)

        relay = PipeRelay(loop, pipe.r, writer, on_data, lambda: None)
        os.write(pipe.w, b"0123456789")
        loop.run_once(0)
        assert chunks == [b"0123456789"]
        assert writer.full
        os.write(pipe.w, b"more")
        loop.run_once(0)
        loop.run_once(0)
        assert chunks == [b"0123456789"]  # paused: the new data waits in the pipe
        assert len(read_all(out.r)) == filled
        loop.run_once(0)  # the writer drains and resumes the relay
        loop.run_once(0)  # the relay reads again
        assert chunks == [b"0123456789", b"more"]
        loop.run_once(0)
        assert read_all(out.r) == b"0123456789more"
        relay.close()
        pipe.forget(pipe.r)
        writer.close()
    finally:
        out.close_all()


def test_relay_hands_on_at_most_read_size(loop: EventLoop, pipe: Pipe) -> None:
    """With a read size, every chunk handed on is at most that long and none is lost."""
    chunks: list[bytes] = []
    relay = PipeRelay(loop, pipe.r, None, chunks.append, lambda: None, read_size=4)
    os.write(pipe.w, b"0123456789")
    relay.drain()
    assert chunks == [b"0123", b"4567", b"89"]
    relay.close()
    pipe.forget(pipe.r)


def test_relay_drain_reads_what_is_there(loop: EventLoop, pipe: Pipe) -> None:
    """drain() reads all data already in the pipe and closes at EOF, without the loop."""
    out = Pipe()
    try:
        writer = OutputWriter(loop, out.w)
        chunks: list[bytes] = []
        eofs: list[str] = []
        relay = PipeRelay(loop, pipe.r, writer, chunks.append, lambda: eofs.append("eof"))
        os.write(pipe.w, b"tail")
        relay.drain()  # write end still open: reads what is there and returns
        assert b"".join(chunks) == b"tail"
        assert not relay.closed
        pipe.close(pipe.w)
        relay.drain()
        pipe.forget(pipe.r)
        assert relay.closed
        assert eofs == ["eof"]
        writer.close()
    finally:
        out.close_all()


@pytest.mark.parametrize("seed", range(30))
def test_whole_blocks_give_the_same_items_as_feed(seed: int) -> None:
    """The relays' fast path (whole lines as one block) never changes what comes out."""
    rng = random.Random(seed)
    data = random_stream(rng, 200, 40)
    sizes = [rng.randrange(1, 90) for _ in range(7)]
    assert split_whole_first(data, sizes, 25) == split(data, sizes, 25)


def test_whole_declines_while_a_long_line_is_split() -> None:
    splitter = LineSplitter(4)
    assert splitter.whole(b"ab\ncd") == b"ab\n"
    assert splitter.whole(b"efgh") is None  # "cdefgh" would be too long: feed() splits it
    assert splitter.feed(b"efgh") == [(b"cdef", 1, False)]
    assert splitter.whole(b"\n") is None  # the rest of that line is its last part
    assert splitter.feed(b"\n") == [(b"gh", 2, True)]
    assert splitter.whole(b"x\n") == b"x\n"


class _FailingRenderer(JsonLineRenderer):
    """Fails on lines holding `boom`, as a fault in the merge path would."""

    def __call__(self, line: bytes, part: int, last: bool) -> bytes:
        if b"boom" in line:
            raise RuntimeError("injected")
        return super().__call__(line, part, last)


def test_a_failing_line_is_written_plain_and_its_neighbours_kept() -> None:
    """A render failure costs one line its interpretation, never the lines read with it."""
    render = _FailingRenderer("p", "p", 1, "stdout")
    block = b'{"event": "a"}\n{"boom": 1}\nplain\n'
    events = [json.loads(r)["event"] for r in render_block(render, block).splitlines()]
    assert events == ["a", '{"boom": 1}', "plain"]
    lines = [(b"x" * 5, 1, False), (b"boom", 2, True), (b"z", 0, True)]
    records = [json.loads(r) for r in render_lines(render, lines).splitlines()]
    assert [(r["event"], r.get("part"), r.get("last")) for r in records] == [
        ("xxxxx", 1, False),
        ("boom", 2, True),
        ("z", None, None),
    ]


# -- write_all -------------------------------------------------------------------------


def test_write_all_writes_everything_a_blocking_fd_takes(pipe: Pipe) -> None:
    """Every byte goes out; counted hears what landed; nothing is left over."""
    counts: list[int] = []
    assert write_all(pipe.w, b"hello", counts.append) == bytearray()
    assert os.read(pipe.r, 100) == b"hello"
    assert counts == [5]


def test_write_all_returns_what_a_full_pipe_did_not_take(pipe: Pipe) -> None:
    """A full non-blocking fd: the rest comes back, and only what landed was counted."""
    os.set_blocking(pipe.w, False)
    data = bytes(range(256)) * 4096  # 1 MiB: more than any pipe holds
    counts: list[int] = []
    rest = write_all(pipe.w, data, counts.append)
    assert 0 < len(rest) < len(data)
    assert sum(counts) == len(data) - len(rest)
    assert data.endswith(rest)
