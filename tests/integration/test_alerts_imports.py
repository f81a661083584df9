"""What alerts cost PID 1 at start-up: nothing without a [notify:x], and with one no
network or mail module (those are the courier child's, one send at a time)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.helpers import INITSUP, env, imported_by, imported_modules, kill_tree

HEAVY = {"ssl", "email", "smtplib", "http.client", "urllib.request", "socket"}


def test_the_alerts_hub_imports_no_network_or_mail_module() -> None:
    modules = imported_by("from initsup.alerts import hub")
    assert {"initsup.alerts.hub", "initsup.alerts.outbox", "initsup.alerts.formats"} <= modules
    assert not modules & HEAVY


def run_until_running(tmp_path: Path, ini: str) -> set[str]:
    """The modules a real initsup has imported once its program runs (then it stops)."""
    config = tmp_path / "initsup.ini"
    config.write_text(ini)
    variables = {"INITSUP_SOCKET": str(tmp_path / "ctl.sock"), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen(
        [*INITSUP, "-c", str(config)],
        env=env(**variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "PROCESS_STATE_RUNNING" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)
            proc.kill()
            proc.wait()
    return imported_modules(stderr)


def test_without_a_notifier_initsup_loads_nothing_of_alerts(tmp_path: Path) -> None:
    modules = run_until_running(tmp_path, "[program:web]\ncommand=sleep 1000\nstartsecs=0\n")
    assert "initsup.supervisor" in modules
    assert not {m for m in modules if m.startswith(("initsup.alerts", "initsup.config.alerts"))}


def test_with_a_notifier_initsup_itself_opens_no_network_module(tmp_path: Path) -> None:
    ini = (
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
        "[notify:hook]\ntype=webhook\nurl=https://example.com/hook\n"
        "[notify:ops]\ntype=mail\nurl=smtp://127.0.0.1:9\nto=ops@example.com\n"
    )
    modules = run_until_running(tmp_path, ini)
    assert "initsup.alerts.hub" in modules
    assert not modules & HEAVY
