"""prctl through `_ctypes`, and through `ctypes` when the private path fails in any way."""

from __future__ import annotations

import sys

import pytest

from initsup import linux


def test_the_private_and_public_paths_agree() -> None:
    private = linux._private_prctl(linux.PR_GET_CHILD_SUBREAPER, 0, True)
    public = linux._public_prctl(linux.PR_GET_CHILD_SUBREAPER, 0, True)
    assert private == public


@pytest.mark.parametrize("attribute", ["dlopen", "dlsym", "CFuncPtr", "get_errno"])
def test_a_broken_ctypes_module_falls_back_to_ctypes(
    monkeypatch: pytest.MonkeyPatch, attribute: str
) -> None:
    import _ctypes
    import ctypes  # noqa: F401 - loaded before _ctypes is broken, as the fallback needs

    expected = linux.is_child_subreaper()
    monkeypatch.delattr(_ctypes, attribute)
    assert linux.is_child_subreaper() == expected


def test_no_ctypes_module_falls_back_to_ctypes(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes  # noqa: F401

    expected = linux.is_child_subreaper()
    monkeypatch.setitem(sys.modules, "_ctypes", None)
    assert linux.is_child_subreaper() == expected


def test_prctl_errors_are_oserrors_not_fallbacks() -> None:
    with pytest.raises(OSError):
        linux._prctl(-1)
