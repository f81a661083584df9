"""Linux process controls that the standard library does not wrap: prctl through ctypes.

Imported only when needed (ctypes costs a few milliseconds of start-up): as PID 1 initsup
needs none of it unless a parent-death signal is asked for.
"""

from __future__ import annotations

import ctypes
import os

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def _prctl(option: int, arg: int | ctypes._Pointer[ctypes.c_int]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def set_child_subreaper() -> None:
    """Make orphaned descendants re-parent to this process (Linux >= 3.4)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def is_child_subreaper() -> bool:
    """Whether this process is registered as a child subreaper."""
    value = ctypes.c_int(0)
    _prctl(PR_GET_CHILD_SUBREAPER, ctypes.pointer(value))
    return value.value != 0


def set_parent_death_signal(signum: int) -> None:
    """Ask the kernel to send signum to this process when its parent dies."""
    _prctl(PR_SET_PDEATHSIG, signum)
