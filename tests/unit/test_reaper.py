"""Reaper helpers: draining, and the subreaper fallback warning (statuses: test_exits.py)."""

from __future__ import annotations

import errno
import os

import pytest

from initsup import linux, reaper


def test_reap_all_with_no_children_is_empty() -> None:
    """Draining with no children at all returns nothing instead of raising."""
    assert reaper.reap_all() == []


def test_become_reaper_as_pid1_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """PID 1 reaps orphans by nature: no prctl, no warning."""
    monkeypatch.setattr(os, "getpid", lambda: 1)

    def fail() -> None:
        raise AssertionError("prctl must not be called as PID 1")

    monkeypatch.setattr(linux, "set_child_subreaper", fail)
    warnings: list[str] = []
    assert reaper.become_reaper(warnings.append) is True
    assert warnings == []


def test_become_reaper_warns_once_when_subreaper_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither PID 1 nor a subreaper: one warning saying zombie reaping won't work (A3)."""
    monkeypatch.setattr(os, "getpid", lambda: 4242)

    def refuse() -> None:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(linux, "set_child_subreaper", refuse)
    warnings: list[str] = []
    assert reaper.become_reaper(warnings.append) is False
    assert len(warnings) == 1
    assert "zombie reaping won't work" in warnings[0]
    assert "Invalid argument" in warnings[0]
