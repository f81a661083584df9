"""The give-up policy with initsup run as users run it: real crashes, a real core dump.

`max_tries=2` lets a crashing program be spawned exactly three times before it is FATAL;
`max_tries_if_coredumped=1` stops a program whose second crash dumped core, the kernel's
core bit read from the wait status.  The dump needs the kernel to write core files to a
plain path (`/proc/sys/kernel/core_pattern` not a `|pipe`) and a core size limit that
`ulimit -c unlimited` may raise; where it cannot, that test is skipped with the reason,
except under CI=true, where it fails: CI must show it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.supervised import Supervised

Start = Callable[..., Supervised]
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
DUMP = (
    "sh -c 'ulimit -c unlimited; exec {python} -c"
    ' "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"\''
)


def cannot_dump(reason: str) -> None:
    """Skip the test with reason, or fail it under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"a real core dump must be tested under CI, but: {reason}")
    pytest.skip(reason)


@pytest.fixture
def dump_dir(tmp_path: Path) -> Iterator[Path]:
    """The crashing program's directory (where core files land); emptied afterwards."""
    try:
        pattern = CORE_PATTERN.read_text().strip()
    except OSError as exc:
        cannot_dump(f"cannot read {CORE_PATTERN}: {exc}")
    if pattern.startswith("|"):
        cannot_dump(f"core dumps go to a program here (core_pattern {pattern!r}), not a file")
    directory = tmp_path / "cores"
    directory.mkdir()
    yield directory
    for path in directory.iterdir():  # core files are large: never leave one behind
        path.unlink()


def test_max_tries_2_is_exactly_three_spawns_then_fatal(supervise: Start) -> None:
    s = supervise(ini="[program:crasher]\ncommand=sh -c 'exit 1'\nstartsecs=0\nmax_tries=2\n")
    fatal = s.wait("PROCESS_STATE_FATAL", program="crasher", timeout=20)
    assert fatal["from_state"] == "EXITED"
    assert fatal["gave_up"] == "max_tries"
    assert fatal["message"] == (
        "gave up: crasher entered FATAL state, 3 restarts within 60 s (max_tries=2)"
    )
    status = s.ctl("status", "crasher")
    assert status.stdout.split(None, 2) == [
        "crasher",
        "FATAL",
        "3 restarts within 60 s (max_tries=2)\n",
    ]
    assert s.stop() == 0
    assert s.events("crasher").count("PROCESS_STATE_STARTING") == 3
    ends = [r for r in s.records if r["event"] == "PROCESS_STATE_EXITED"]
    assert [(r["exit_code"], "core_dumped" in r) for r in ends] == [(1, False)] * 3


def test_a_real_core_dump_counts_for_max_tries_if_coredumped(
    supervise: Start, dump_dir: Path
) -> None:
    command = DUMP.format(python=sys.executable)
    s = supervise(
        ini=(
            f"[program:segv]\ncommand={command}\ndirectory={dump_dir}\nstartsecs=0\n"
            "max_tries_if_coredumped=1\n"
        )
    )
    first = s.wait("PROCESS_STATE_EXITED", program="segv", timeout=30)
    assert first["signal"] == "SIGSEGV" and first["exit_code"] == 139
    if first.get("core_dumped") is not True:
        cannot_dump(
            "the kernel wrote no core for a SIGSEGV (core_pattern"
            f" {CORE_PATTERN.read_text().strip()!r}, ulimit -c not raised?): {first['message']}"
        )
    assert first["message"] == "exited: segv (terminated by SIGSEGV (core dumped); not expected)"
    fatal = s.wait("PROCESS_STATE_FATAL", program="segv", timeout=30)
    assert fatal["gave_up"] == "max_tries_if_coredumped"
    assert fatal["message"] == (
        "gave up: segv entered FATAL state, 2 exits that dumped core within 60 s"
        " (max_tries_if_coredumped=1)"
    )
    assert s.stop() == 0
    assert s.events("segv").count("PROCESS_STATE_STARTING") == 2
    ends = [r for r in s.records if r["event"] == "PROCESS_STATE_EXITED"]
    assert [r.get("core_dumped") for r in ends] == [True, True]
    if "/" not in CORE_PATTERN.read_text():  # a relative pattern: the files are in directory=
        assert [p.name for p in dump_dir.iterdir() if p.name.startswith("core")]
