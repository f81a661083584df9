"""Linux process controls that the standard library does not wrap: prctl(2).

The call goes through `_ctypes`, the C module the `ctypes` package is built on: `import
ctypes` costs about a millisecond of start-up (its Python layer, `struct`, the endianness
classes) for the one function initsup needs, and start-up is what a container's init is
measured by.  Any failure of that private path (the module missing or different on this
interpreter) falls back to the public `ctypes`; only prctl's own error is an OSError.
Imported only when needed: as PID 1 initsup needs none of it unless a parent-death signal
is asked for.
"""

from __future__ import annotations

import os

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37  # only asked by the tests, to compare the two paths harmlessly


def _private_prctl(option: int, arg: int, read_back: bool) -> tuple[int, int, int]:
    """prctl through `_ctypes`: (return value, errno, the int read back if asked)."""
    import _ctypes

    class _CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]  # what ctypes.c_int is
        _type_ = "i"

    class _CULong(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_ulong
        _type_ = "L"

    class _Prctl(_ctypes.CFuncPtr):  # what ctypes.CFUNCTYPE(c_int, use_errno=True) makes
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = _CInt

    libc = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: the running program
    prctl = _Prctl(_ctypes.dlsym(libc, "prctl"))
    value = _CInt(0)
    target = _ctypes.byref(value) if read_back else _CULong(arg)
    result = prctl(option, target, _CULong(0), _CULong(0), _CULong(0))
    return int(result), _ctypes.get_errno(), int(value.value)


def _public_prctl(option: int, arg: int, read_back: bool) -> tuple[int, int, int]:
    """The same call through the public `ctypes` package."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.restype = ctypes.c_int
    value = ctypes.c_int(0)
    target = ctypes.byref(value) if read_back else ctypes.c_ulong(arg)
    zero = ctypes.c_ulong(0)
    result = prctl(ctypes.c_int(option), target, zero, zero, zero)
    return int(result), ctypes.get_errno(), int(value.value)


def _prctl(option: int, arg: int = 0, read_back: bool = False) -> int:
    try:
        result, err, value = _private_prctl(option, arg, read_back)
    except Exception:  # no or a different _ctypes: the public module, or its ImportError
        result, err, value = _public_prctl(option, arg, read_back)
    if result != 0:
        raise OSError(err, os.strerror(err))
    return value


def set_child_subreaper() -> None:
    """Make orphaned descendants re-parent to this process (Linux >= 3.4)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(signum: int) -> None:
    """Ask the kernel to send signum to this process when its parent dies."""
    _prctl(PR_SET_PDEATHSIG, signum)
