"""The benchmark suite's smoke run: every scenario, tiny, on every system installed here.

The full run (`python -m bench`) is a separate command; this only keeps it working.  Under
CI the peers are installed by .ci/run, so every system must have been measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import scenarios
from tests.helpers import ROOT


def test_every_scenario_runs_at_a_tiny_size(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "tiny", "--runs", "1", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert [s["name"] for s in data["scenarios"]] == list(scenarios.NAMES)
    for scenario in data["scenarios"]:
        medians = {f["key"]: f["medians"] for f in scenario["figures"]}
        assert any("initsup" in m for m in medians.values()), scenario["name"]
        if os.environ.get("CI") == "true":
            assert scenario["skipped"] == {}, scenario["name"]
            measured = {s for m in medians.values() for s in m}
            # A variant ("initsup:single", "tini:subreaper") reports as its system.
            systems = {s.partition(":")[0] for s in scenario["systems"]}
            assert measured == systems, scenario["name"]
        for target in scenario["targets"]:
            assert target["detail"], target  # a verdict always shows its figures
    table = (tmp_path / "results.md").read_text()
    assert table.count("\n| ") >= len(scenarios.NAMES)
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
