"""Alerts from initsup.pyz as PID 1 of a real container, on each base's Python: the
courier child runs from the single-file build and reaches a webhook receiver that is
itself a supervised program of the same container (the containers have no network but
their loopback), and `docker stop` still ends it all with 0."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.docker.engine import Box

RECEIVER = """\
import http.server, json, sys

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        print("received", body["event"], body["program"], body["exit_code"], flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", 8080), Hook).serve_forever()
"""

INI = """
[program:receiver]
command=python3 /opt/receiver.py
startsecs=0
priority=1

[program:app]
command=sh -c 'sleep 1; echo about to crash >&2; exit 3'
startsecs=0
autorestart=false

[notify:hook]
type=webhook
url=http://127.0.0.1:8080/hook
"""


def test_a_crash_reaches_a_webhook_from_the_single_file_build(
    run: Callable[..., Box], image: str, tmp_path: Path
) -> None:
    config = tmp_path / "initsup.ini"
    config.write_text(INI)
    receiver = tmp_path / "receiver.py"
    receiver.write_text(RECEIVER)
    box = run(
        image,
        volumes={
            str(config): {"bind": "/etc/initsup.ini", "mode": "ro"},
            str(receiver): {"bind": "/opt/receiver.py", "mode": "ro"},
        },
    )
    sent = box.wait_record("ALERT_SENT", timeout=60, notifier="hook")
    assert (sent["alert"], sent["program"], sent["status"]) == ("PROCESS_STATE_EXITED", "app", 204)
    got = box.wait_record("received PROCESS_STATE_EXITED app 3", timeout=10)
    assert got["program"] == "receiver"
    assert not [r for r in box.records() if str(r["event"]).startswith("reaped unknown pid")]
    box.stop()
    assert box.exit_code() == 0
