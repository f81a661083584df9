"""Linux process controls that the standard library does not wrap: prctl(2).

The call goes through `_ctypes`, the C module the `ctypes` package is built on: `import
ctypes` costs about a millisecond of start-up (its Python layer, `struct`, the endianness
classes) for the one function initsup needs, and start-up is what a container's init is
measured by.  Imported only when needed: as PID 1 initsup needs none of it unless a
parent-death signal is asked for.
"""

from __future__ import annotations

import _ctypes
import os

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

TYPE_CHECKING = False
if TYPE_CHECKING:
    _Simple = _ctypes._SimpleCData[int]
else:
    _Simple = _ctypes._SimpleCData  # not subscriptable at run time before Python 3.12


class _CInt(_Simple):  # what ctypes.c_int is
    _type_ = "i"


class _Prctl(_ctypes.CFuncPtr):  # what ctypes.CFUNCTYPE(c_int, use_errno=True) makes
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _CInt


def _prctl(option: int, arg: object) -> None:
    libc = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: the running program
    prctl = _Prctl(_ctypes.dlsym(libc, "prctl"))
    if prctl(option, arg, 0, 0, 0) != 0:
        err = _ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def set_child_subreaper() -> None:
    """Make orphaned descendants re-parent to this process (Linux >= 3.4)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def is_child_subreaper() -> bool:
    """Whether this process is registered as a child subreaper."""
    value = _CInt(0)
    _prctl(PR_GET_CHILD_SUBREAPER, _ctypes.byref(value))
    return bool(value.value)


def set_parent_death_signal(signum: int) -> None:
    """Ask the kernel to send signum to this process when its parent dies."""
    _prctl(PR_SET_PDEATHSIG, signum)
