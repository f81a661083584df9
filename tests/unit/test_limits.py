"""Unit tests for initsup.config.limits: bounded expansion and bounded, regular-file-only
reading."""

from __future__ import annotations

import os
import re
import time
import tracemalloc
from pathlib import Path

import pytest

from initsup.config import ConfigError, limits, load


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("%(a)s-%(n)02d", "x-07"),
        ("100%%", "100%"),
        ("%(a)-4s|", "x   |"),
        ("%(n).3f", "7.000"),
        ("%(a(b))s", "nested"),
    ],
)
def test_expand_matches_python_formatting(text: str, expected: str) -> None:
    """One format at a time gives what `text % names` gives."""
    names = {"a": "x", "n": 7, "a(b)": "nested"}
    assert limits.expand(text, names) == expected == text % names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%(a)300000000000s", "format width over 4096"),
        ("%(a).99999s", "format precision over 4096"),
        ("%(a)" + "9" * 10000 + "s", "format width over 4096"),
        ("50%", "not %(name)s"),
        ("%s", "not %(name)s"),
        ("%(a", "without its closing parenthesis"),
        ("%(a)", "ends in the middle"),
        ("%(a)d", "cannot be expanded"),
        ("%(a)y", "cannot be expanded"),
        ("%(big)s%(big)s", "expands to more than"),
        ("x" * (limits.MAX_VALUE_CHARS + 1), "is longer than"),
    ],
)
def test_expand_refuses_with_a_reason(text: str, message: str) -> None:
    """Every refusal is a ValueError saying why, before any large string is built."""
    names = {"a": "x", "big": "b" * (limits.MAX_VALUE_CHARS // 2 + 1)}
    with pytest.raises(ValueError, match=re.escape(message)):
        limits.expand(text, names)


def test_expand_unknown_name_is_a_key_error() -> None:
    """The caller turns it into `refers to unknown name`."""
    with pytest.raises(KeyError):
        limits.expand("%(nope)s", {})


def test_read_file_reads_regular_files_only(tmp_path: Path) -> None:
    """A FIFO, a device and a directory are named; a regular file is read."""
    path = tmp_path / "a.ini"
    path.write_text("[x]\n")
    assert limits.read_file(str(path)) == "[x]\n"
    os.mkfifo(tmp_path / "fifo")
    for target, kind in (
        (str(tmp_path / "fifo"), "a FIFO"),
        ("/dev/zero", "a character device"),
        (str(tmp_path), "a directory"),
    ):
        with pytest.raises(ValueError, match=f"cannot read: {kind}, not a regular file"):
            limits.read_file(target)
    with pytest.raises(ValueError, match="No such file"):
        limits.read_file(str(tmp_path / "missing"))
    (tmp_path / "latin1").write_bytes(b"\xff\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        limits.read_file(str(tmp_path / "latin1"))


def test_numprocs_of_a_billion_is_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """D12: the bound is checked before any process is made."""
    path = tmp_path / "a.ini"
    path.write_text(
        "[program:a]\ncommand=sleep 1\nprocess_name=%(process_num)d\nnumprocs=1000000000\n"
    )
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(ConfigError, match="must be a whole number from 1 to 10000"):
            load(str(path), {})
        elapsed = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 5 * 1024 * 1024


def test_expanded_values_are_bounded_in_all(tmp_path: Path) -> None:
    """D12: 10,000 processes of 4 KiB values pass 8 MiB in all: said once, where it happened."""
    path = tmp_path / "a.ini"
    value = "%(ENV_BIG)s" * 4
    path.write_text(
        f"[program:a]\ncommand=true\ndirectory={value}\n"
        "process_name=%(process_num)d\nnumprocs=10000\n"
    )
    start = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load(str(path), {"BIG": "b" * 1024})
    assert time.monotonic() - start < 5
    [problem] = caught.value.problems
    assert f"directory = {value!r}" in problem
    assert "expanded values pass 8388608 characters in all" in problem


def test_files_read_are_bounded_in_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files each under the cap still stop at the total: the first one past it is named."""
    monkeypatch.setattr(limits, "MAX_TOTAL_BYTES", 1024 * 1024)
    for i in range(5):
        (tmp_path / f"{i}.conf").write_text(f"; {'x' * 300_000}\n[program:p{i}]\ncommand=true\n")
    main = tmp_path / "main.ini"
    main.write_text("[include]\nfiles = *.conf\n")
    with pytest.raises(ConfigError) as caught:
        load(str(main), {})
    assert caught.value.problems == [
        f"{tmp_path}/3.conf: not read: the files read pass 1 MiB in all"
    ]
