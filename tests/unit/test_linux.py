"""prctl through `_ctypes`, and through `ctypes` when the private path fails in any way."""

from __future__ import annotations

import sys

import pytest

from initsup import linux


def _is_child_subreaper() -> bool:
    """A harmless question whose answer both paths must give alike."""
    return bool(linux._prctl(linux.PR_GET_CHILD_SUBREAPER, read_back=True))


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

    expected = _is_child_subreaper()
    monkeypatch.delattr(_ctypes, attribute)
    assert _is_child_subreaper() == expected


def test_no_ctypes_module_falls_back_to_ctypes(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes  # noqa: F401

    expected = _is_child_subreaper()
    monkeypatch.setitem(sys.modules, "_ctypes", None)
    assert _is_child_subreaper() == expected


def test_prctl_errors_are_oserrors_not_fallbacks() -> None:
    with pytest.raises(OSError):
        linux._prctl(-1)


def test_signals_falls_back_to_signal_without_its_c_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import signal

    from initsup import signals

    monkeypatch.setitem(sys.modules, "_signal", None)
    assert signals._private_or_public() is signal  # type: ignore[attr-defined]


def test_signals_falls_back_to_signal_when_its_c_module_lacks_something(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import _signal  # type: ignore[import-not-found]
    import signal

    from initsup import signals

    monkeypatch.delattr(_signal, "set_wakeup_fd")
    assert signals._private_or_public() is signal  # type: ignore[attr-defined]
    monkeypatch.undo()
    assert signals._private_or_public() is _signal  # type: ignore[attr-defined]


def test_the_loop_module_loads_and_runs_timers_without_heapq_c_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A separate copy of initsup/loop.py, loaded with `_heapq` unimportable."""
    import importlib.util

    from initsup import loop
    from initsup.signals import SignalReceiver

    monkeypatch.setitem(sys.modules, "_heapq", None)
    spec = importlib.util.spec_from_file_location("initsup_loop_without_heapq", loop.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    receiver = SignalReceiver()
    ran: list[int] = []
    try:
        made = copy.EventLoop(receiver, on_error=lambda where, exc: None)
        for n in (3, 1, 2):
            made.call_later(0, lambda n=n: ran.append(n))
        made.run_once(0)
        made.close()
    finally:
        receiver.close()
    assert ran == [3, 1, 2]
