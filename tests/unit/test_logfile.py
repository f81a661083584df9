"""Unit tests for initsup.logfile: appending, supervisord-style rotation and error handling."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from initsup.logfile import LogFile


def _names(directory: Path) -> list[str]:
    """The names of the files in directory, sorted."""
    return sorted(p.name for p in directory.iterdir())


def test_appends_to_a_new_file(tmp_path: Path) -> None:
    """Writes land in order in a file created on open."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 0, 0)
    log.write(b"one\n")
    log.write(b"two\n")
    log.close()
    assert path.read_bytes() == b"one\ntwo\n"
    assert log.error is None


def test_keeps_what_the_file_held(tmp_path: Path) -> None:
    """An existing file is appended to, not truncated."""
    path = tmp_path / "out.log"
    path.write_bytes(b"old\n")
    log = LogFile(str(path), 0, 0)
    log.write(b"new\n")
    log.close()
    assert path.read_bytes() == b"old\nnew\n"


def test_new_file_is_mode_0644(tmp_path: Path) -> None:
    """The file is created with mode 0644 under a 022 umask."""
    path = tmp_path / "out.log"
    old = os.umask(0o022)
    try:
        LogFile(str(path), 0, 0).close()
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_missing_directory_is_not_created(tmp_path: Path) -> None:
    """Opening under a missing directory raises, as supervisord does, instead of creating it."""
    with pytest.raises(FileNotFoundError):
        LogFile(str(tmp_path / "nodir" / "out.log"), 0, 0)
    assert not (tmp_path / "nodir").exists()


def test_existing_size_counts_toward_maxbytes(tmp_path: Path) -> None:
    """Bytes already in the file when it is opened count toward maxbytes."""
    path = tmp_path / "out.log"
    path.write_bytes(b"12345678")
    log = LogFile(str(path), 10, 1)
    log.write(b"9")
    assert _names(tmp_path) == ["out.log"]
    log.write(b"0")
    log.close()
    assert Path(f"{path}.1").read_bytes() == b"1234567890"
    assert path.read_bytes() == b""


def test_rotates_once_a_write_reaches_maxbytes_exactly(tmp_path: Path) -> None:
    """A write that brings the file to exactly maxbytes rotates it right after, like supervisord."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 10, 3)
    log.write(b"a" * 9)
    assert _names(tmp_path) == ["out.log"]
    log.write(b"b")
    assert _names(tmp_path) == ["out.log", "out.log.1"]
    assert Path(f"{path}.1").read_bytes() == b"a" * 9 + b"b"
    assert path.read_bytes() == b""
    log.write(b"c")
    log.close()
    assert path.read_bytes() == b"c"


def test_write_crossing_maxbytes_stays_whole(tmp_path: Path) -> None:
    """A write that passes maxbytes is not split: the rotated file holds all of it."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 10, 3)
    log.write(b"a" * 8)
    log.write(b"b" * 5)
    log.close()
    assert Path(f"{path}.1").read_bytes() == b"a" * 8 + b"b" * 5
    assert path.read_bytes() == b""


def test_write_larger_than_maxbytes_is_not_split(tmp_path: Path) -> None:
    """One write several times maxbytes goes whole into a single rotated file."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 10, 3)
    big = bytes(range(256)) * 4
    log.write(big)
    log.close()
    assert _names(tmp_path) == ["out.log", "out.log.1"]
    assert Path(f"{path}.1").read_bytes() == big
    assert path.read_bytes() == b""


def test_backups_are_shifted_and_the_oldest_dropped(tmp_path: Path) -> None:
    """With backups=2 only path.1 (newest) and path.2 are kept across rotations."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 4, 2)
    for chunk in (b"AAAA", b"BBBB", b"CCCC", b"DDDD"):
        log.write(chunk)
    log.write(b"E")
    log.close()
    assert _names(tmp_path) == ["out.log", "out.log.1", "out.log.2"]
    assert Path(f"{path}.1").read_bytes() == b"DDDD"
    assert Path(f"{path}.2").read_bytes() == b"CCCC"
    assert path.read_bytes() == b"E"


def test_backups_zero_truncates_in_place(tmp_path: Path) -> None:
    """With backups=0 the full file is emptied in place, no path.1 (supervisord's 'wb')."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 4, 0)
    log.write(b"12")
    log.write(b"34")
    assert _names(tmp_path) == ["out.log"]
    assert path.read_bytes() == b""
    log.write(b"56")
    log.close()
    assert _names(tmp_path) == ["out.log"]
    assert path.read_bytes() == b"56"


def test_maxbytes_zero_never_rotates(tmp_path: Path) -> None:
    """With maxbytes=0 the file grows without limit."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 0, 5)
    for _ in range(100):
        log.write(b"x" * 1000)
    log.close()
    assert _names(tmp_path) == ["out.log"]
    assert path.stat().st_size == 100_000


def test_large_write_is_written_in_full(tmp_path: Path) -> None:
    """A multi-megabyte write is all on disk when write returns."""
    path = tmp_path / "out.log"
    data = os.urandom(3 * 1024 * 1024)
    log = LogFile(str(path), 0, 0)
    log.write(data)
    assert path.read_bytes() == data
    log.close()


def test_reopen_after_the_file_was_moved_away(tmp_path: Path) -> None:
    """After logrotate moves the file, reopen starts a new one and the size count restarts."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 10, 1)
    log.write(b"before")
    moved = tmp_path / "out.log.rotated"
    path.rename(moved)
    log.write(b"+")  # still goes to the moved file, as with any open fd
    log.reopen()
    assert log.error is None
    log.write(b"after")
    log.close()
    assert moved.read_bytes() == b"before+"
    # Only the 5 new bytes count: the 7 in the moved file must not trigger a rotation.
    assert path.read_bytes() == b"after"
    assert not Path(f"{path}.1").exists()


def test_outside_truncation_does_not_rotate_early(tmp_path: Path) -> None:
    """When something else truncates the file (copytruncate), rotation waits for the real size."""
    path = tmp_path / "out.log"
    log = LogFile(str(path), 10, 1)
    log.write(b"12345678")
    os.truncate(path, 0)
    log.write(b"ab")
    log.close()
    assert _names(tmp_path) == ["out.log"]
    assert path.read_bytes() == b"ab"


def test_vanished_directory_records_the_error(tmp_path: Path) -> None:
    """A rotation into a removed directory records the error, drops writes, and recovers later."""
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "out.log"
    log = LogFile(str(path), 10, 2)
    shutil.rmtree(logs)
    log.write(b"x" * 10)  # reaches maxbytes: the rotation cannot create the new file
    error = log.error
    assert isinstance(error, OSError)
    assert error.errno == errno.ENOENT
    log.write(b"lost")
    assert log.error is not None
    logs.mkdir()
    log.write(b"back")
    assert log.error is None
    log.close()
    assert path.read_bytes() == b"back"


def test_failed_rename_loses_nothing(tmp_path: Path) -> None:
    """When path cannot be moved to path.1, the full file keeps growing and is rotated later."""
    path = tmp_path / "out.log"
    blocker = tmp_path / "out.log.1"
    blocker.mkdir()
    (blocker / "keep").write_bytes(b"")  # a non-empty directory: rename over it fails
    log = LogFile(str(path), 4, 1)
    log.write(b"1234")
    assert log.error is not None
    log.write(b"56")
    assert log.error is not None
    assert path.read_bytes() == b"123456"
    shutil.rmtree(blocker)
    log.write(b"78")
    assert log.error is None
    log.close()
    assert blocker.read_bytes() == b"12345678"
    assert path.read_bytes() == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_records_the_error() -> None:
    """A write that meets ENOSPC is dropped and recorded, not raised."""
    lost: list[int] = []
    log = LogFile("/dev/full", 1, 1, lost_lines=lost.append)
    log.write(b"data\nmore\n")
    error = log.error
    assert isinstance(error, OSError)
    assert error.errno == errno.ENOSPC
    assert lost == [2]  # /metrics' dropped lines
    log.close()


def test_non_regular_file_is_never_rotated(tmp_path: Path) -> None:
    """A character device such as /dev/null is written to but never renamed."""
    log = LogFile(os.devnull, 1, 1)
    log.write(b"data")
    log.write(b"more")
    log.close()
    assert log.error is None
    assert os.path.exists(os.devnull)
    assert not os.path.exists(f"{os.devnull}.1")


def test_binary_and_invalid_utf8_written_unchanged(tmp_path: Path) -> None:
    """Every byte value, NULs and invalid UTF-8 included, reaches the file as it was."""
    path = tmp_path / "out.log"
    data = bytes(range(256)) + b"\xff\xfe\xc3\x28\xe2\x82\n\x00\r\n\x80"
    log = LogFile(str(path), 0, 0)
    log.write(data)
    log.write(b"")
    log.close()
    assert path.read_bytes() == data


def test_write_after_close_raises(tmp_path: Path) -> None:
    """Writing to a closed LogFile is a programming error and raises ValueError."""
    log = LogFile(str(tmp_path / "out.log"), 0, 0)
    log.close()
    log.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        log.write(b"x")


def test_rotation_costs_the_backups_that_exist_not_the_configured_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D12: backups=1000000 with maxbytes=1 tried a million renames per rotation inside the
    loop; a rotation now renames only the files that exist (and keeps them in order)."""
    path = tmp_path / "out.log"
    renames: list[tuple[str, str]] = []
    real_rename = os.rename

    def rename(source: str, target: str) -> None:
        renames.append((source, target))
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    log = LogFile(str(path), 1, 1_000_000)
    for chunk in (b"A", b"B", b"C", b"D"):
        log.write(chunk)
    log.close()
    assert len(renames) == 1 + 2 + 3 + 4
    assert [Path(f"{path}.{n}").read_bytes() for n in (1, 2, 3, 4)] == [b"D", b"C", b"B", b"A"]


def test_rotation_shifts_sparse_backups_and_drops_the_oldest(tmp_path: Path) -> None:
    """Gaps left by a cleanup are kept as gaps; path.N (N = backups) is replaced."""
    path = tmp_path / "out.log"
    for name, data in (("out.log.1", b"1"), ("out.log.3", b"3"), ("out.log.4", b"4")):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "out.log.x").write_bytes(b"other")
    (tmp_path / "out.log.02").write_bytes(b"other")
    log = LogFile(str(path), 1, 4)
    log.write(b"N")
    log.close()
    assert _names(tmp_path) == [
        "out.log",
        "out.log.02",
        "out.log.1",
        "out.log.2",
        "out.log.4",
        "out.log.x",
    ]
    assert [Path(f"{path}.{n}").read_bytes() for n in (1, 2, 4)] == [b"N", b"1", b"3"]


def test_a_fifo_without_reader_fails_to_open_instead_of_blocking(tmp_path: Path) -> None:
    """D9: opening a FIFO nobody reads blocked PID 1 forever; now it is ENXIO at once."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as caught:
        LogFile(str(fifo), 0, 0)
    assert caught.value.errno == errno.ENXIO


def test_a_fifo_whose_reader_stalls_never_blocks_and_keeps_order(tmp_path: Path) -> None:
    """D9: writes to a full FIFO blocked the loop; now what does not fit waits (bounded),
    the rest is dropped with one warning, and what was kept comes out in order."""
    from initsup import logfile

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    reports: list[tuple[str, str]] = []
    try:
        lost: list[int] = []
        log = LogFile(
            str(fifo), 0, 0, lambda level, text: reports.append((level, text)), lost.append
        )
        chunk = bytes(range(256)) * 256  # 64 KiB, 256 newlines
        for _ in range(40):  # 2.5 MiB: more than the pipe and MAX_PENDING together
            log.write(chunk)
        assert log.dropped > 0
        # Each drop counts the lines it cost (at least one: a piece of a line is a line).
        assert lost and all(n >= 1 for n in lost)
        assert sum(lost) >= log.dropped // 256
        assert len(log._pending) <= logfile.MAX_PENDING
        assert [level for level, _ in reports] == ["warning"]
        received = bytearray()
        while True:
            try:
                data = os.read(reader, 1 << 16)
            except BlockingIOError:
                break
            received += data
        log.write(b"end\n")  # after what was held back
        for _ in range(100):  # each pass: the pipe's 64 KiB
            try:
                received += os.read(reader, 1 << 16)
            except BlockingIOError:
                if log.flush():
                    break
        received += os.read(reader, 1 << 16)  # the last of it
        assert received.endswith(b"end\n")
        assert received[: len(chunk)] == chunk
        assert reports[-1][0] == "info"
        log.close()
    finally:
        os.close(reader)


def test_a_fifo_whose_reader_left_is_reported_and_reopened(tmp_path: Path) -> None:
    """EPIPE (the reader closed) drops that chunk with an error report; a new reader gets
    the next chunks."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reports: list[tuple[str, str]] = []
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    log = LogFile(str(fifo), 0, 0, lambda level, text: reports.append((level, text)))
    os.close(reader)
    log.write(b"lost\n")
    assert reports and reports[0][0] == "error"
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        log.write(b"kept\n")
        assert os.read(reader, 100) == b"kept\n"
        assert reports[-1][0] == "info"
    finally:
        log.close()
        os.close(reader)
