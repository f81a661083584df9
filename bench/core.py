"""The data model and the runner: scenarios, samples, medians, targets.

A scenario measures one workload on several systems (initsup, its peers, and a floor: the
same workload with no init at all, or the bare interpreter).  The runner calls it once per
system per run, rotating the order of systems from run to run so that no system always
goes first (or always follows the same one), and keeps every sample.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# The columns of every table, in order.  A floor is the workload without the feature
# being measured (no init, no relay, the bare interpreter).
SYSTEMS = ("initsup", "supervisord", "tini", "dumb-init", "floor")


@dataclass(frozen=True)
class Figure:
    """One measured quantity."""

    key: str
    label: str
    unit: str
    lower_is_better: bool = True


@dataclass(frozen=True)
class Sample:
    """One value of one figure for one system, from one run."""

    figure: str
    system: str
    value: float


@dataclass(frozen=True)
class Target:
    """What initsup must reach on one figure, and whether this run reached it."""

    figure: str
    text: str  # e.g. "<= 1.3x floor"
    met: bool
    detail: str = ""  # the figures the verdict rests on


@dataclass
class Tools:
    """Where the systems under test are, and a scratch directory for one scenario."""

    python: str  # the interpreter initsup, supervisord and every workload run on
    root: Path  # the repository
    scratch: Path
    command: str | None = None  # the installed `initsup` command (None: from the checkout)
    pyz: str | None = None  # initsup as one zip application, built for this run
    installed: str = ""  # how initsup was installed, for the report
    tini: str | None = None
    dumb_init: str | None = None
    supervisord: bool = False  # supervisor importable by `python`
    unshare: str | None = None  # for PID-1 scenarios (needs root)
    missing: dict[str, str] = field(default_factory=dict)  # system -> why it cannot run

    def initsup(self, *args: str) -> list[str]:
        if self.command is not None:
            return [self.command, *args]
        return [self.python, "-m", "initsup", *args]

    def supervisord_command(self, config: Path) -> list[str]:
        return [self.python, "-m", "supervisor.supervisord", "-n", "-c", str(config)]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a system under test (the checkout importable, if need be)."""
        import os

        result = {k: v for k, v in os.environ.items() if not k.startswith(("INITSUP_", "TINI_"))}
        result.pop("PYTHONPATH", None)
        if self.command is None:
            result["PYTHONPATH"] = str(self.root)
        result["INITSUP_SOCKET"] = str(self.scratch / "initsup.sock")
        result.update(extra)
        return result


class Scenario(Protocol):
    """A workload.  `sizes` maps "full" and "tiny" to the scenario's own parameters."""

    name: str
    title: str
    figures: Sequence[Figure]
    runs: dict[str, int]  # how many runs per size

    def systems(self, tools: Tools) -> list[str]:
        """The systems this scenario can run here: names from SYSTEMS, or variants of them
        as `system:variant` (`tini:subreaper`), whose samples are the system's."""
        ...

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        """Run the workload once on `system`; every process it starts is gone afterwards."""
        ...

    def targets(self, medians: Medians) -> list[Target]:
        """initsup's targets on this scenario's figures."""
        ...

    def describe(self) -> str:
        """The workload and each system's setup, in a sentence or two."""
        ...


class Medians:
    """Median of each (figure, system), with the samples behind it."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples: dict[tuple[str, str], list[float]] = {}
        for sample in samples:
            self.samples.setdefault((sample.figure, sample.system), []).append(sample.value)

    def get(self, figure: str, system: str) -> float | None:
        values = self.samples.get((figure, system))
        return statistics.median(values) if values else None

    def __call__(self, figure: str, system: str) -> float:
        value = self.get(figure, system)
        if value is None:
            raise KeyError(f"no samples of {figure} on {system}")
        return value


@dataclass
class Outcome:
    """Everything one scenario produced."""

    scenario: Scenario
    systems: list[str]
    samples: list[Sample]
    targets: list[Target]
    seconds: float
    skipped: dict[str, str]

    @property
    def medians(self) -> Medians:
        return Medians(self.samples)


def rotations(systems: list[str], runs: int) -> list[list[str]]:
    """The order of systems in each run: rotated by one each run."""
    n = len(systems)
    return [systems[i % n :] + systems[: i % n] for i in range(runs)] if n else []


def run_scenario(
    scenario: Scenario,
    size: str,
    tools: Tools,
    runs: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Outcome:
    began = time.monotonic()
    systems = scenario.systems(tools)
    skipped = {s: tools.missing[s] for s in SYSTEMS if s in tools.missing}
    samples: list[Sample] = []
    count = runs or scenario.runs[size]
    for number, order in enumerate(rotations(systems, count), 1):
        for system in order:
            progress(f"{scenario.name}: run {number}/{count}, {system}")
            samples.extend(scenario.run_once(system, size, tools))
    targets = scenario.targets(Medians(samples)) if samples else []
    return Outcome(scenario, systems, samples, targets, time.monotonic() - began, skipped)


def ratio_target(figure: str, medians: Medians, reference: str, factor: float, what: str) -> Target:
    """initsup <= factor x reference (lower is better)."""
    mine, theirs = medians.get(figure, "initsup"), medians.get(figure, reference)
    if mine is None or theirs is None:
        return Target(figure, f"<= {factor:g}x {what}", False, f"{what} not measured")
    return Target(
        figure, f"<= {factor:g}x {what}", mine <= factor * theirs, f"{mine / theirs:.2f}x {what}"
    )


def bound_target(
    figure: str, medians: Medians, bound: float, unit: str, at_least: bool = False
) -> Target:
    """initsup <= bound (or >= bound when at_least)."""
    mine = medians.get(figure, "initsup")
    text = f"{'>=' if at_least else '<='} {_figure(bound)} {unit}"
    if mine is None:
        return Target(figure, text, False, "not measured")
    met = mine >= bound if at_least else mine <= bound
    return Target(figure, text, met, f"{_figure(mine)} {unit}")


def _figure(value: float) -> str:
    """A value for a verdict: thousands separated, three significant digits below 100."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
