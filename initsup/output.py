"""Moving bytes without blocking the loop or losing any: initsup's stdout and child pipes.

initsup's stdout is non-blocking with a bounded buffer.  When its reader is slow and the
buffer passes its high-water mark, the relays stop reading their child pipes: the children
then block on their own writes, exactly as they would writing to that slow reader directly.
Nothing is dropped, memory stays bounded, and the loop keeps reaping and forwarding.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.logs import LineRenderer
    from initsup.loop import EventLoop

    Callback = Callable[[], None]

READ_SIZE = 65536
# A read that is rendered (JSON or text) grows: a 7-byte line becomes a ~120-byte record.
# Smaller reads keep one read's records, which go to the writer whole, near the high-water
# mark instead of far past it.
RENDERED_READ_SIZE = 16384
HIGH_WATER = 1 << 20  # bytes buffered for stdout before the relays pause
MAX_LINE = 16384  # longer lines are split into parts
PIPE_SIZE = 1 << 18  # for initsup's stdout when it is a pipe, and a single command's
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, which Python 3.9 does not name


class OutputWriter:
    """Writes to an fd from a bounded buffer, whenever the fd can take it."""

    def __init__(self, loop: EventLoop, fd: int, high_water: int = HIGH_WATER) -> None:
        self._loop = loop
        self._fd = fd
        self._high_water = high_water
        self._buffer = bytearray()
        self._watching = False
        self._waiting: list[Callback] = []
        self._was_blocking = os.get_blocking(fd)
        self.broken = False
        # Regular files and character devices cannot be polled (epoll says EPERM) and are
        # always writable: those are written to directly.
        mode = os.fstat(fd).st_mode
        self._direct = not _pollable(fd, mode)
        if not self._direct:
            os.set_blocking(fd, False)
        if stat.S_ISFIFO(mode):
            widen_pipe(fd)

    @property
    def full(self) -> bool:
        """True when producers should stop until `when_drained` calls them back."""
        return len(self._buffer) >= self._high_water

    def write(self, data: bytes) -> None:
        """Queue data; it goes out when the fd is writable."""
        if self.broken:
            return  # the reader is gone for good: there is nobody left to lose data for
        if self._direct:
            self._buffer += data
            self.flush()
            return
        if not self._buffer:
            # Nothing queued, so nothing to overtake: write now.  A reader that keeps up
            # then costs one write per chunk, not a wait for writability and two epoll
            # registrations.
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                written = 0
            except OSError:  # EPIPE, EIO...: the reader went away
                self.abandon()
                return
            if written == len(data):
                return
            data = data[written:]
        self._buffer += data
        if not self._watching:
            self._watching = True
            self._loop.add_writer(self._fd, self._on_writable)

    def when_drained(self, callback: Callback) -> None:
        """Call callback once the buffer is below its high-water mark again."""
        if self.full:
            self._waiting.append(callback)
        else:
            callback()

    def _on_writable(self) -> None:
        try:
            written = os.write(self._fd, self._buffer)
        except BlockingIOError:
            return
        except OSError:  # EPIPE, EIO...: the reader went away
            self.abandon()
            return
        del self._buffer[:written]
        if not self._buffer:
            self._watching = False
            self._loop.remove_writer(self._fd)
        if self._waiting and not self.full:
            waiting, self._waiting = self._waiting, []
            for callback in waiting:
                callback()

    def abandon(self) -> None:
        """Give up on the fd: drop what is buffered, write nothing more, wake the waiting."""
        self.broken = True
        self._buffer.clear()
        if self._watching:
            self._watching = False
            self._loop.remove_writer(self._fd)
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()

    def flush(self) -> None:
        """Write everything still buffered, blocking until the reader has taken it."""
        if self._watching:
            self._watching = False
            self._loop.remove_writer(self._fd)
        if self.broken or not self._buffer:
            return
        if not self._direct:
            os.set_blocking(self._fd, True)
        try:
            # Blocking (or always writable), the fd takes everything or raises.
            done = not write_all(self._fd, self._buffer)
        except OSError:
            done = False
        finally:
            if not self._direct:
                os.set_blocking(self._fd, False)
        if done:
            self._buffer.clear()
        else:
            self.abandon()

    def close(self) -> None:
        """Flush, then give the fd back its original blocking mode (it may be a shared tty)."""
        self.flush()
        os.set_blocking(self._fd, self._was_blocking)


def write_all(
    fd: int, data: bytes | bytearray, counted: Callable[[int], None] | None = None
) -> bytearray:
    """Write all of data to fd; return what a full non-blocking fd did not take (empty when
    it took everything).

    Errors are raised, and a write that takes nothing (never expected, even from a regular
    file) raises EIO rather than loop forever.  counted, if given, hears each write's
    byte count as it lands: a write cut short by an error has still put those bytes there.
    """
    with memoryview(data) as view:
        offset = 0
        while offset < len(view):
            try:
                written = os.write(fd, view[offset:])
            except BlockingIOError:
                return bytearray(view[offset:])
            if written == 0:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            offset += written
            if counted is not None:
                counted(written)
    return bytearray()


def widen_pipe(fd: int) -> None:
    """Make a pipe hold 256 KiB instead of 64 KiB, best effort.

    A non-blocking writer wakes whenever its full pipe has room again: with 64 KiB it
    relays in many small steps, each a pass of the loop and a context switch.  Widening
    initsup's stdout and a single command's output pipe took raw relay of a fast writer
    from about half to about 0.9x the speed of no relay at all.  Pipes are not widened
    for every supervised program: their sizes count against the user's pipe quota, and a
    user over it gets small pipes everywhere.
    """
    import fcntl

    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # over the user's quota, or above /proc/sys/fs/pipe-max-size: keep 64 KiB


def _pollable(fd: int, mode: int) -> bool:
    """Whether fd is something epoll can watch: a pipe, socket or terminal."""
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        return False
    if stat.S_ISCHR(mode):
        return os.isatty(fd)
    return True


class LineSplitter:
    """Cuts a byte stream into lines; lines over max_line bytes come out in parts.

    `feed` returns (line, part, last) triples: part is 0 for a whole line, else the
    1-based index of a piece of one long line, with last set on its final piece.  Parts are
    cut on UTF-8 character boundaries where one is near.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max = max_line
        self._partial = b""
        self._part = 0

    def whole(self, data: bytes) -> bytes | None:
        """The complete lines of what came before plus data, as one block, when none of
        them is too long and no long line is being split; None (taking nothing) otherwise.

        The common case, taken in a few C-level calls; `feed` handles the rest.
        """
        if self._part:
            return None
        joined = self._partial + data if self._partial else data
        end = joined.rfind(b"\n") + 1
        if len(joined) - end > self._max:
            return None
        block = joined[:end]
        if end > self._max and not _short_lines(block, self._max):
            return None
        self._partial = joined[end:]
        return block

    def feed(self, data: bytes) -> list[tuple[bytes, int, bool]]:
        """Split data (appended to what came before) into complete lines and full parts."""
        out: list[tuple[bytes, int, bool]] = []
        pieces = (self._partial + data).split(b"\n") if self._partial else data.split(b"\n")
        self._partial = pieces.pop()
        for piece in pieces:
            self._emit_long(piece, out, final=True)
        if len(self._partial) > self._max:
            self._partial = self._emit_long(self._partial, out, final=False)
        return out

    def finish(self) -> list[tuple[bytes, int, bool]]:
        """At end of stream: whatever is left, as a last line without its newline."""
        out: list[tuple[bytes, int, bool]] = []
        if self._partial or self._part:
            self._emit_long(self._partial, out, final=True)
        self._partial = b""
        return out

    def _emit_long(self, line: bytes, out: list[tuple[bytes, int, bool]], final: bool) -> bytes:
        while len(line) > self._max:
            cut = _utf8_boundary(line, self._max)
            self._part += 1
            out.append((line[:cut], self._part, False))
            line = line[cut:]
        if not final:
            return line
        if self._part:
            self._part += 1
            out.append((line, self._part, True))
            self._part = 0
        else:
            out.append((line, 0, True))
        return b""


def _short_lines(block: bytes, limit: int) -> bool:
    """Whether no line of block (lines ending in newlines) is longer than limit bytes."""
    # A newline in every aligned window of limit/2 bytes leaves no room for a longer
    # line: a few find() calls for a whole read.  Otherwise, measure every line.
    half = max(limit // 2, 1)
    if all(block.find(b"\n", start, start + half) >= 0 for start in range(0, len(block), half)):
        return True
    return max(map(len, block.split(b"\n"))) <= limit


def _utf8_boundary(data: bytes, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 sequence (or limit if none)."""
    for cut in range(limit, max(limit - 4, 0), -1):
        if data[cut] & 0xC0 != 0x80:  # not a continuation byte: a character starts here
            return cut
    return limit


def line_handlers(
    render: LineRenderer, writer: OutputWriter, max_line: int = MAX_LINE
) -> tuple[Callable[[bytes], None], Callback]:
    """(on_data, on_eof) for a PipeRelay that writes each line, rendered, to writer."""
    splitter = LineSplitter(max_line)

    def on_data(data: bytes) -> None:
        # One write per read, not per line: the writer's buffer grows once.
        block = splitter.whole(data)
        if block is not None:
            if block:
                writer.write(render_block(render, block))
            return
        writer.write(render_lines(render, splitter.feed(data)))

    def on_eof() -> None:
        writer.write(render_lines(render, splitter.finish()))

    return on_data, on_eof


def render_block(render: LineRenderer, block: bytes) -> bytes:
    """A block of whole lines rendered; should that fail, each line on its own."""
    try:
        return render.block(block)
    except Exception:  # one bad line must not cost the lines read with it
        return render_lines(render, [(line, 0, True) for line in block[:-1].split(b"\n")])


def render_lines(render: LineRenderer, lines: list[tuple[bytes, int, bool]]) -> bytes:
    """Lines rendered one by one; a line whose rendering fails comes out as plain text.

    Whatever a program writes, every line arrives, in order: the renderer interprets a
    line (merges JSON) only where it can, and a fault there costs only that.
    """
    out = []
    for line, part, last in lines:
        try:
            out.append(render(line, part, last))
        except Exception:
            out.append(render.plain(line, part, last))
    return b"".join(out)


class PipeRelay:
    """Reads one child pipe and hands its data on, pausing while the writer is full.

    `on_data(chunk)` gets every chunk read; `on_eof()` runs once when the pipe closes.
    writer is the OutputWriter the data ends up in, for backpressure (None: no pausing,
    for data that goes to a file).  read_size: the most read (and handed on) at once.
    """

    def __init__(
        self,
        loop: EventLoop,
        fd: int,
        writer: OutputWriter | None,
        on_data: Callable[[bytes], None],
        on_eof: Callback,
        read_size: int = READ_SIZE,
    ) -> None:
        self._loop = loop
        self._fd = fd
        self._read_size = read_size
        self._writer = writer
        self._on_data = on_data
        self._on_eof = on_eof
        self.closed = False
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._on_readable)

    def _read_once(self) -> bool:
        """Read one chunk and hand it on; False when there was none or the pipe closed."""
        try:
            data = os.read(self._fd, self._read_size)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.close()
            return False
        self._on_data(data)
        return True

    def _on_readable(self) -> None:
        writer = self._writer
        if self._read_once() and writer is not None and writer.full and not self.closed:
            self._loop.remove_reader(self._fd)
            writer.when_drained(self._resume)

    def _resume(self) -> None:
        if not self.closed:
            self._loop.add_reader(self._fd, self._on_readable)

    def drain(self) -> None:
        """Read whatever the pipe holds right now (at exit), without waiting for more."""
        while not self.closed and self._read_once():
            if self._writer is not None and self._writer.full:
                self._writer.flush()

    def close(self) -> None:
        """Stop reading, close the fd, and report end of stream."""
        if self.closed:
            return
        self.closed = True
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._on_eof()
