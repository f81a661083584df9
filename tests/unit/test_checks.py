"""Unit tests for initsup.config.checks: log files initsup could not write, commands that
do not run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from initsup.config import checks


def test_logfile_accepts_a_writable_place(tmp_path: Path) -> None:
    """A new file in a writable directory, or an existing writable file."""
    assert checks.logfile(str(tmp_path / "new.log")) is None
    (tmp_path / "old.log").write_text("")
    assert checks.logfile(str(tmp_path / "old.log")) is None


def test_logfile_names_what_is_wrong(tmp_path: Path) -> None:
    """A missing directory, a file as directory, a directory as file."""
    (tmp_path / "file").write_text("")
    assert checks.logfile(str(tmp_path / "no" / "a.log")) == (
        f"cannot be written: its directory {tmp_path}/no does not exist"
    )
    assert checks.logfile(str(tmp_path / "file" / "a.log")) == (
        f"cannot be written: its directory {tmp_path}/file is not a directory"
    )
    assert checks.logfile(str(tmp_path)) == "cannot be written: it is a directory"


def test_logfile_without_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission is initsup's own (it opens the logs), checked with access(2)."""
    (tmp_path / "old.log").write_text("")
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert checks.logfile(str(tmp_path / "old.log")) == (
        "cannot be written: initsup's user has no write permission on it"
    )
    assert checks.logfile(str(tmp_path / "new.log")) == (
        f"cannot be written: initsup's user cannot create files in {tmp_path}"
    )


def test_command_resolves_like_spawn(tmp_path: Path) -> None:
    """On the PATH given (None: the default), a path as it is; a directory or no x bit fails."""
    assert checks.command(["sh", "-c", "true"], None) is None
    assert checks.command(["/bin/sh"], "/nonexistent") is None
    message = checks.command(["sh"], "/nonexistent")
    assert message is not None and "'sh' cannot be run on PATH=/nonexistent" in message
    plain = tmp_path / "plain"
    plain.write_text("")
    message = checks.command([str(plain)], None)
    assert message is not None and "Permission denied" in message
    message = checks.command([str(tmp_path)], None)
    assert message is not None and "Is a directory" in message
