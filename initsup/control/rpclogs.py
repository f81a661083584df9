"""supervisord's log methods (readLog, read/tail of a process's stdout and stderr, the
clears) over initsup's recent-output rings.

supervisord reads log files by byte offset; initsup keeps the last bytes of each stream
in a ring (control/api.py's recent output) and counts every byte the stream got since it
began or was last cleared, so offset N means the Nth byte ever written, as in a log file
that is never rotated.  Bytes that have left the ring are gone: a range that starts
before the ring's first byte gives what is left of it, from that first byte on.
"""

from __future__ import annotations

from initsup.control import api
from initsup.control.rpcbase import Fault, capped, group_result, text
from initsup.control.rpcprocesses import in_priority_order, lookup

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from initsup.control.api import Host
    from initsup.process import Process


def read_range(kept: bytes, written: int, offset: int, length: int) -> bytes:
    """supervisord's readFile over a ring holding the last len(kept) of `written` bytes.

    offset >= 0: `length` bytes from there (0: to the end); offset < 0: the last -offset
    bytes, with length 0.  A negative length, or a length with a negative offset, is
    BAD_ARGUMENTS.
    """
    if offset < 0:
        if length:
            raise Fault("BAD_ARGUMENTS")
        start, end = max(0, written + offset), written
    else:
        if length < 0:
            raise Fault("BAD_ARGUMENTS")
        start, end = offset, written if length == 0 else min(written, offset + length)
    first = written - len(kept)  # the offset of the ring's first byte
    start = max(start, first)
    if start >= end:
        return b""
    return kept[start - first : end - first]


def tail_range(kept: bytes, written: int, offset: int, length: int) -> list[Any]:
    """supervisord's tailFile over the ring: [text, the offset to ask from next time,
    whether more than `length` bytes came since `offset` (the answer then ends at the
    stream's end)]."""
    size, overflow = written, False
    if size > offset + length:
        overflow = True
        offset = size - 1
    if offset + length > size:
        if offset > size - 1:
            length = 0
        offset = size - length
    offset, length = max(0, offset), max(0, length)
    first = written - len(kept)
    start, end = max(offset, first), min(offset + length, written)
    data = kept[start - first : end - first] if length and start < end else b""
    return [text(data), capped(size), overflow]


def _stream(host: Host, name: str, stream: str) -> Process | None:
    """The process whose stream is read; None when the stream has no log of its own
    (stderr sent to stdout: supervisord has no stderr log file for it)."""
    _, process = lookup(host, name)
    if process is None:
        raise Fault("BAD_NAME", name)
    if stream == "stderr" and process.config.redirect_stderr:
        return None
    return process


def _read(host: Host, name: str, offset: int, length: int, stream: str) -> str:
    process = _stream(host, name, stream)
    if process is None:
        raise Fault("NO_FILE")  # supervisord: NO_FILE with the log file's name, None
    kept = api.recent_output(host, process, stream, 0)
    written = api.output_written(host, process, stream)
    return text(read_range(kept, written, offset, length))


def _tail(host: Host, name: str, offset: int, length: int, stream: str) -> list[Any]:
    process = _stream(host, name, stream)
    if process is None:
        return ["", 0, False]
    kept = api.recent_output(host, process, stream, 0)
    written = api.output_written(host, process, stream)
    return tail_range(kept, written, offset, length)


def read_stdout(host: Host, name: str, offset: int, length: int) -> str:
    """supervisor.readProcessStdoutLog (and readProcessLog)."""
    return _read(host, name, offset, length, "stdout")


def read_stderr(host: Host, name: str, offset: int, length: int) -> str:
    """supervisor.readProcessStderrLog."""
    return _read(host, name, offset, length, "stderr")


def tail_stdout(host: Host, name: str, offset: int, length: int) -> list[Any]:
    """supervisor.tailProcessStdoutLog (and tailProcessLog)."""
    return _tail(host, name, offset, length, "stdout")


def tail_stderr(host: Host, name: str, offset: int, length: int) -> list[Any]:
    """supervisor.tailProcessStderrLog."""
    return _tail(host, name, offset, length, "stderr")


def clear_process(host: Host, name: str) -> bool:
    """supervisor.clearProcessLogs (and clearProcessLog): its stdout and stderr rings."""
    _, process = lookup(host, name)
    if process is None:
        raise Fault("BAD_NAME", name)
    api.clear_output(host, process)
    return True


def clear_all(host: Host) -> list[dict[str, Any]]:
    """supervisor.clearAllProcessLogs: a SUCCESS result for every process."""
    results = []
    for process in in_priority_order(host):
        api.clear_output(host, process)
        results.append(group_result(process, True))
    return results


def read_main(host: Host, offset: int, length: int) -> str:
    """supervisor.readLog (and readMainLog): the records initsup wrote."""
    kept = api.main_log(host, 0)
    return text(read_range(kept, api.main_log_written(host), offset, length))


def clear_main(host: Host) -> bool:
    """supervisor.clearLog."""
    api.clear_main_log(host)
    return True
