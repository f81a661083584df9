"""initsup without its private interpreter modules: each falls back to the public one.

`_heapq` (the loop's timers), `_signal` (every signal call) and `_ctypes` (prctl for the
child subreaper) are faster to import than heapq, signal and ctypes; an interpreter where
one is missing or different must still run initsup, in both modes, end to end.  Each case
runs a fresh interpreter, because the test process's own imports would hide a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import INITSUP, PYTHON, ROOT, Proc, env, free_port, kill_tree

# Python run before initsup: makes the private module unimportable (the public one is
# imported first where it needs the private one itself), or breaks what initsup uses.
PRELUDES = {
    "none": "pass",  # the control: the same run with every private module
    "no-_heapq": "sys.modules['_heapq'] = None",
    "no-_signal": "import signal; sys.modules['_signal'] = None",
    "no-_ctypes": "import ctypes; sys.modules['_ctypes'] = None",
    "broken-_heapq": "import heapq, _heapq; del _heapq.heappush",
    "broken-_signal": "import signal, _signal; del _signal.set_wakeup_fd",
    "broken-_ctypes": "import ctypes, _ctypes; _ctypes.dlopen = None",
    # Not private, but what single-command mode waits with: without it, the loop.
    "no-sigwait": "import signal, _signal; del _signal.sigwait, signal.sigwait",
}


def _argv(prelude: str, *args: str) -> list[str]:
    code = (
        f"import sys; {prelude}; import runpy; sys.argv = ['initsup', *{list(args)!r}]; "
        "runpy.run_module('initsup', run_name='__main__', alter_sys=True)"
    )
    return [PYTHON, "-c", code]


@pytest.mark.parametrize("prelude", PRELUDES.values(), ids=list(PRELUDES))
def test_single_command_mode_runs_without_the_private_module(prelude: str) -> None:
    result = subprocess.run(
        _argv(prelude, "--", "sh", "-c", "echo hello; sleep 0.1; exit 3"),
        env=env(),
        capture_output=True,
        timeout=30,
    )
    assert result.stdout == b"hello\n", result.stderr
    assert result.returncode == 3, result.stderr
    assert b"Traceback" not in result.stderr
    assert b"subreaper" not in result.stderr  # the prctl went through


@pytest.mark.parametrize("prelude", PRELUDES.values(), ids=list(PRELUDES))
def test_supervisor_mode_runs_without_the_private_module(tmp_path: Path, prelude: str) -> None:
    ini = tmp_path / "initsup.ini"
    ini.write_text(
        "[program:parent]\ncommand=sh -c '(sleep 0.2 &); echo started; exec sleep 1000'\n"
        "startsecs=0.1\n"
    )
    proc = Proc(_argv(prelude, "-c", str(ini)), env=env(INITSUP_SOCKET=str(tmp_path / "s")))
    try:
        seen: list[str] = []
        # An orphan reaped proves the subreaper (prctl); RUNNING after startsecs the
        # timers; the stop on SIGTERM the signals.
        while not ({"started", "PROCESS_STATE_RUNNING"} <= set(seen) and _reaped(seen)):
            seen.append(str(json.loads(proc.readline(15))["event"]))
        os.kill(proc.pid, signal.SIGTERM)
        try:
            while True:
                seen.append(str(json.loads(proc.readline(15))["event"]))
        except EOFError:
            pass
        assert proc.wait() == 0
        assert "PROCESS_STATE_STOPPED" in seen
        assert not any("internal error" in e or "subreaper" in e for e in seen), seen
    finally:
        if proc.popen.poll() is None:
            kill_tree(proc.pid)
        proc.kill()


def _reaped(events: list[str]) -> bool:
    return any(e.startswith("reaped unknown pid") for e in events)


SOCKET_PRELUDES = {
    "none": "pass",
    "no-_socket": "import socket; sys.modules['_socket'] = None",
    "broken-_socket": "import socket, _socket; del _socket.SO_PEERCRED, _socket.SO_PASSCRED",
}


@pytest.mark.parametrize("prelude", SOCKET_PRELUDES.values(), ids=list(SOCKET_PRELUDES))
def test_sockets_work_without_the_private_socket_module(tmp_path: Path, prelude: str) -> None:
    """The control socket, an HTTP check and NOTIFY_SOCKET, on `socket` when `_socket`
    is missing or lacks what they use."""
    port = free_port()
    notify = ROOT / "tests" / "bin" / "notify-ready"
    ini = tmp_path / "initsup.ini"
    ini.write_text(
        f"[program:web]\ncommand={PYTHON} -m http.server --bind 127.0.0.1 {port}\n"
        f"startsecs=0\nhealthcheck_url=http://127.0.0.1:{port}/\n"
        f"[program:app]\ncommand={PYTHON} {notify} 0\nstartsecs=30\nnotify=true\n"
        "depends_on=web\n"
    )
    sock = str(tmp_path / "s")
    proc = Proc(_argv(prelude, "-c", str(ini)), env=env(INITSUP_SOCKET=sock))
    try:
        ready: set[str] = set()
        while ready != {"web", "app"}:
            record = json.loads(proc.readline(15))
            assert "internal error" not in str(record["event"]), record
            if record["event"] == "PROCESS_READY":
                ready.add(record["program"])
        status = subprocess.run(
            [*INITSUP, "ctl", "health", "--ready"],
            env=env(INITSUP_SOCKET=sock),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert status.returncode == 0, status
        os.kill(proc.pid, signal.SIGTERM)
        try:
            while True:
                proc.readline(15)
        except EOFError:
            pass
        assert proc.wait() == 0
    finally:
        if proc.popen.poll() is None:
            kill_tree(proc.pid)
        proc.kill()


COURIER_PRELUDES = {
    "none": "pass",
    "no-_thread": "sys.modules['_thread'] = None",
    "broken-_thread": "import _thread; _thread.start_new_thread = None",
}


@pytest.mark.parametrize("mode", ["answer", "hang"])
@pytest.mark.parametrize("prelude", COURIER_PRELUDES.values(), ids=list(COURIER_PRELUDES))
def test_the_alert_courier_sends_and_keeps_its_deadline_without_thread(
    prelude: str, mode: str
) -> None:
    """The courier's watchdog thread comes from `_thread`; without it (or with another
    one) the send runs in the main thread and still ends within its deadline."""
    from initsup.alerts import courier
    from tests.receivers import HttpReceiver

    *interpreter, code = courier.command()
    with HttpReceiver(mode=mode) as hook:
        job = {"kind": "http", "url": hook.url, "body": "{}", "timeout": 1}
        started = time.monotonic()
        done = subprocess.run(
            [*interpreter, f"import sys; {prelude}; {code}"],
            input=courier.encode_job(job),
            capture_output=True,
            timeout=30,
        )
        took = time.monotonic() - started
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    reply = json.loads(done.stdout)
    if mode == "answer":
        assert (reply["ok"], reply["status"]) == (True, 200), reply
    else:
        assert not reply["ok"] and reply["detail"] == "timed out after 1 s", reply
        assert took < 2.0
