"""Where the control socket goes, and where `initsup ctl` looks for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from initsup import control, ctl


def test_explicit_socket_wins() -> None:
    """INITSUP_SOCKET is used as it is, by the server and the client."""
    environ = {"INITSUP_SOCKET": "/somewhere/x.sock", "TMPDIR": "/t"}
    assert control.default_socket_path(environ) == "/somewhere/x.sock"
    assert ctl.find_socket(environ) == "/somewhere/x.sock"


def test_run_when_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a writable /run (root in a container) the socket is /run/initsup.sock."""
    monkeypatch.setattr(os, "access", lambda path, mode: path == "/run")
    assert control.default_socket_path({}) == "/run/initsup.sock"


def test_tmpdir_when_run_is_not_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-root initsup falls back to $TMPDIR, or /tmp without it."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert control.default_socket_path({"TMPDIR": "/scratch"}) == "/scratch/initsup.sock"
    assert control.default_socket_path({}) == "/tmp/initsup.sock"


def test_client_finds_the_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without INITSUP_SOCKET the client takes the first place where a socket exists."""
    fallback = str(tmp_path / "initsup.sock")
    monkeypatch.setattr(os.path, "exists", lambda path: path == fallback)
    assert ctl.find_socket({"TMPDIR": str(tmp_path)}) == fallback
    monkeypatch.setattr(os.path, "exists", lambda path: path == "/run/initsup.sock")
    assert ctl.find_socket({"TMPDIR": str(tmp_path)}) == "/run/initsup.sock"


def test_client_without_any_socket_names_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no socket anywhere the client reports the primary place, /run/initsup.sock."""
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    assert ctl.find_socket({}) == "/run/initsup.sock"
