"""One module per scenario; ALL lists them in the order the report shows them."""

from __future__ import annotations

import importlib

from bench.core import Scenario

NAMES = (
    "startup",
    "idle",
    "relay",
    "reap",
    "crashloop",
    "shutdown",
    "signals",
    "scale",
    "events",
    "control",
    "readiness",
    "alerts",
    "page",
    "metrics",
)


def load(name: str) -> Scenario:
    module = importlib.import_module(f"bench.scenarios.{name}")
    scenario: Scenario = module.SCENARIO
    return scenario
