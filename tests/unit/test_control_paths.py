"""Where the control socket goes, and where `initsup ctl` looks for it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from initsup import ctl
from initsup.control import connection, server


def test_explicit_socket_wins() -> None:
    """INITSUP_SOCKET is used as it is, by the server and the client."""
    environ = {"INITSUP_SOCKET": "/somewhere/x.sock", "TMPDIR": "/t"}
    assert server.default_socket_path(environ) == "/somewhere/x.sock"
    assert ctl.find_socket(environ) == "/somewhere/x.sock"


def test_run_when_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a writable /run (root in a container) the socket is /run/initsup.sock."""
    monkeypatch.setattr(os, "access", lambda path, mode: path == "/run")
    assert server.default_socket_path({}) == "/run/initsup.sock"


def test_tmpdir_when_run_is_not_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-root initsup falls back to $TMPDIR, or /tmp without it."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert server.default_socket_path({"TMPDIR": "/scratch"}) == "/scratch/initsup.sock"
    assert server.default_socket_path({}) == "/tmp/initsup.sock"


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


def test_socket_module_prefers_the_private_one() -> None:
    """With a whole `_socket` the server uses it (it saves the `socket` module's memory)."""
    assert server.socket_module().__name__ == "_socket"


def test_socket_module_falls_back_to_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `_socket` that lacks what the server uses, or fails to import, means `socket`."""
    import _socket
    import socket
    import types

    stub = types.ModuleType("_socket")
    stub.__dict__.update({k: v for k, v in vars(_socket).items() if k != "SO_PEERCRED"})
    monkeypatch.setitem(sys.modules, "_socket", stub)
    assert server.socket_module() is socket
    monkeypatch.setitem(sys.modules, "_socket", None)
    assert server.socket_module() is socket


def test_socket_module_none_when_nothing_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither module the server cannot listen, and says so with an OSError."""
    monkeypatch.setitem(sys.modules, "_socket", None)
    monkeypatch.setitem(sys.modules, "socket", None)
    assert server.socket_module() is None


def test_answers_escape_text_that_is_not_utf8() -> None:
    """A surrogate-escaped byte shows as \\xNN, a lone surrogate as \\uNNNN; the rest stays."""
    line = connection.wire({"out": "x\udcffy \ud800 é"})
    assert json.loads(line) == {"out": "x\\xffy \\ud800 é"}


def test_world_writable_directory_is_refused(tmp_path: Path) -> None:
    """Anyone could replace a socket in a world-writable directory without the sticky bit."""
    place = tmp_path / "open"
    place.mkdir()
    place.chmod(0o777)
    with pytest.raises(OSError, match="writable by anyone"):
        server._check_directory(str(place / "initsup.sock"))
    place.chmod(0o1777)
    server._check_directory(str(place / "initsup.sock"))  # /tmp's mode is fine
