"""Unchanged listeners from PyPI: supervisor.childutils and superlance (reference E, F3)."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from tests.helpers import PYTHON, ROOT, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]
BIN = Path(sys.executable).parent


def test_childutils_listener_reads_every_event(tmp_path: Path, supervise: Start) -> None:
    """A childutils listener gets headers and payloads it can parse, non-ASCII included."""
    record = tmp_path / "events.jsonl"
    s = supervise(
        ini=(
            f"[eventlistener:recorder]\ncommand={PYTHON} {ROOT}/tests/bin/childutils_listener.py\n"
            f'events=PROCESS_STATE_EXITED,PROCESS_LOG\nenvironment=RECORD="{record}"\n'
            "[program:talker]\ncommand=sh -c 'echo ünïcödé; sleep 0.3; exit 2'\nstartsecs=0\n"
            "autorestart=false\nstdout_events_enabled=true\n"
        )
    )
    s.wait("PROCESS_STATE_EXITED", program="talker")

    def received() -> list[dict[str, object]]:
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines()]

    wait_for(lambda: len(received()) >= 2)
    got = received()
    names = [e["headers"]["eventname"] for e in got]  # type: ignore[index]
    assert names[:2] == ["PROCESS_LOG_STDOUT", "PROCESS_STATE_EXITED"]
    log_payload = str(got[0]["payload"])
    assert log_payload.endswith("channel:stdout\nünïcödé\n")
    headers, _ = childutils_parse(str(got[1]["payload"]))
    assert headers["processname"] == "talker" and headers["expected"] == "0"
    assert s.stop() == 0


def childutils_parse(payload: str) -> tuple[dict[str, str], str]:
    from supervisor import childutils

    headers, data = childutils.eventdata(payload + "\n")
    return dict(headers), str(data)


def test_superlance_crashmail_mails_an_unexpected_exit(tmp_path: Path, supervise: Start) -> None:
    """superlance's crashmail, unchanged, mails exactly its text for a kill -9 (F3)."""
    mail = tmp_path / "mail.txt"
    sendmail = f"cat >> {mail}"
    s = supervise(
        ini=(
            f"[eventlistener:crashmail]\ncommand={BIN}/crashmail -m ops@example.com "
            f'-s "{sendmail}"\nevents=PROCESS_STATE_EXITED\n'
            "[program:victim]\ncommand=sleep 1000\nstartsecs=0\n"
            "[program:done]\ncommand=sh -c 'exit 0'\nstartsecs=0\nautorestart=false\n"
        )
    )
    s.wait("PROCESS_STATE_RUNNING", program="crashmail")
    running = s.wait("PROCESS_STATE_RUNNING", program="victim")
    os.kill(running["pid"], signal.SIGKILL)
    wait_for(lambda: mail.exists() and "exited unexpectedly" in mail.read_text())
    text = mail.read_text()
    assert "To: ops@example.com" in text
    assert re.search(r"Subject: .*victim crashed at ", text)
    pid = running["pid"]
    expected = f"Process victim in group victim exited unexpectedly (pid {pid}) from state RUNNING"
    assert expected in text
    assert "done" not in text  # an expected exit is not mailed
    assert s.stop() == 0
