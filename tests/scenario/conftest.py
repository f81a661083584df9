"""The `story` fixture: a Scenario per call, and proof that each test left nothing behind.

After every test: no child process of the pytest process that was not there before, no
fd that was not open before, and the pytest process still not a child subreaper (a
story must never adopt the orphans of the rest of the machine's tests).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.scenario.harness import Scenario

PR_GET_CHILD_SUBREAPER = 37


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _children() -> set[str]:
    found: set[str] = set()
    # Each thread has its own list: a thread that has ended hands its children to another.
    for task in os.listdir("/proc/self/task"):
        try:
            found.update(Path(f"/proc/self/task/{task}/children").read_text().split())
        except FileNotFoundError:
            pass  # the thread ended while we looked
    return found


def _is_subreaper() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    flag = ctypes.c_int(0)
    assert libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) == 0
    return flag.value != 0


@pytest.fixture
def story(tmp_path: Path) -> Iterator[Callable[..., Scenario]]:
    """story(ini, main=None): a Scenario on that INI text, closed and checked afterwards."""
    fds, children = _open_fds(), _children()
    made: list[Scenario] = []

    def given(ini: str, main: list[str] | None = None) -> Scenario:
        scenario = Scenario(tmp_path, ini, main)
        made.append(scenario)
        return scenario

    yield given
    problems = [problem for scenario in made for problem in scenario.close()]
    assert not problems
    assert not _children() - children, "child processes left behind"
    assert _open_fds() == fds, "fds left open"
    assert not _is_subreaper()
