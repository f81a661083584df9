"""The README's bundled examples do what the README says."""

from __future__ import annotations

import json
import subprocess

import jsonschema

from tests.helpers import INITSUP, ROOT, env
from tests.supervised import SCHEMA


def test_demo_ini_shows_json_a_crash_a_restart_and_an_ordered_end() -> None:
    """`initsup -c examples/demo.ini`: merged JSON lines, a crash, a restart, exit 0."""
    result = subprocess.run(
        [*INITSUP, "-c", "examples/demo.ini"], cwd=ROOT, env=env(), capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    for record in records:
        jsonschema.validate(record, SCHEMA)
    assert any(r.get("path", "").startswith("/items/") and r["program"] == "web" for r in records)
    flaky = [r["event"] for r in records if r.get("program") == "flaky"]
    crash = flaky.index("PROCESS_STATE_EXITED")
    assert "PROCESS_STATE_STARTING" in flaky[crash:]
    assert any("restarting in" in r["event"] for r in records)
    stops = [r["program"] for r in records if r["event"] == "PROCESS_STATE_STOPPED"]
    assert stops[-1] == "web"  # priority 10 stops after the default 999
    assert result.stderr == b""


def test_demo_sh_shows_reaping_and_forwarding() -> None:
    """`initsup -w -- sh examples/demo.sh` exits 0 with no zombie left and signals forwarded."""
    result = subprocess.run(
        [*INITSUP, "-w", "--", "sh", "examples/demo.sh"],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "zombies left behind: 0" in out
    assert "initsup forwarded it back to me" in out
    assert result.stderr.decode().count("reaped zombie process") == 3
