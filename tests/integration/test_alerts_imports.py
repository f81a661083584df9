"""What alerts cost PID 1 at start-up: nothing without a [notify:x], and with one no
network or mail module (those are the courier child's, one send at a time)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import imported_by, imported_in_a_run

HEAVY = {"ssl", "email", "smtplib", "http.client", "urllib.request", "socket"}


def test_the_alerts_hub_imports_no_network_or_mail_module() -> None:
    modules = imported_by("from initsup.alerts import hub")
    assert {"initsup.alerts.hub", "initsup.alerts.outbox", "initsup.alerts.formats"} <= modules
    assert not modules & HEAVY


def test_without_a_notifier_initsup_loads_nothing_of_alerts(tmp_path: Path) -> None:
    modules = imported_in_a_run(tmp_path, "[program:web]\ncommand=sleep 1000\nstartsecs=0\n")
    assert "initsup.supervisor" in modules
    assert not {m for m in modules if m.startswith(("initsup.alerts", "initsup.config.alerts"))}


def test_with_a_notifier_initsup_itself_opens_no_network_module(tmp_path: Path) -> None:
    ini = (
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
        "[notify:hook]\ntype=webhook\nurl=https://example.com/hook\n"
        "[notify:ops]\ntype=mail\nurl=smtp://127.0.0.1:9\nto=ops@example.com\n"
    )
    modules = imported_in_a_run(tmp_path, ini)
    assert "initsup.alerts.hub" in modules
    assert not modules & HEAVY
