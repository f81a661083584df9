"""The run's results as JSON, a Markdown table and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.core import SYSTEMS, Outcome


def number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit in ("lines/s", "events/s", "calls/s") or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2g}" if value else "0"


def to_json(outcomes: list[Outcome], info: dict[str, Any]) -> dict[str, Any]:
    scenarios = []
    for outcome in outcomes:
        medians = outcome.medians
        scenario = outcome.scenario
        scenarios.append(
            {
                "name": scenario.name,
                "title": scenario.title,
                "description": scenario.describe(),
                "systems": outcome.systems,
                "skipped": outcome.skipped,
                "seconds": round(outcome.seconds, 1),
                "figures": [
                    {
                        "key": f.key,
                        "label": f.label,
                        "unit": f.unit,
                        "lower_is_better": f.lower_is_better,
                        "medians": {
                            s: medians.get(f.key, s)
                            for s in outcome.systems
                            if medians.get(f.key, s) is not None
                        },
                        "samples": {
                            s: medians.samples[(f.key, s)]
                            for s in outcome.systems
                            if (f.key, s) in medians.samples
                        },
                    }
                    for f in scenario.figures
                ],
                "targets": [
                    {"figure": t.figure, "target": t.text, "met": t.met, "detail": t.detail}
                    for t in outcome.targets
                ],
            }
        )
    return {**info, "scenarios": scenarios}


def ratios(figure: dict[str, Any]) -> str:
    """initsup's median against each peer's, e.g. `0.53x supervisord`."""
    medians = figure["medians"]
    mine = medians.get("initsup")
    if mine is None:
        return ""
    out = []
    for system in SYSTEMS[1:]:
        theirs = medians.get(system)
        if theirs:
            out.append(f"{mine / theirs:.2g}x {system}")
    return ", ".join(out)


def _version(text: str) -> str:
    """The version number in what a program says of itself ("tini version 0.19.0")."""
    import re

    found = re.search(r"\d+(\.\d+)+", text)
    return found.group() if found else text


def markdown(data: dict[str, Any]) -> str:
    """The table of a run (to_json's data): medians, initsup's ratios, targets."""
    described = data["versions"]
    versions = ", ".join(
        f"{name} {_version(text)}"
        for name, text in described.items()
        if name not in ("machine", "installed")
    )
    installed = f" initsup {described['installed']}." if "installed" in described else ""
    lines = [
        f"Medians of {data['size']} runs on {described.get('machine', '?')}, "
        f"{data['date']}; {versions}.{installed}",
        "",
        "| scenario | figure | initsup | supervisord | tini | dumb-init | floor | initsup is | "
        "target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for scenario in data["scenarios"]:
        targets = {t["figure"]: t for t in scenario["targets"]}
        for figure in scenario["figures"]:
            cells = [number(figure["medians"].get(s), figure["unit"]) for s in SYSTEMS]
            if not any(cells):
                continue
            target = targets.get(figure["key"])
            verdict = ""
            if target is not None:
                mark = "met" if target["met"] else "**missed**"
                verdict = f"{target['target']}: {mark} ({target['detail']})"
            lines.append(
                f"| {scenario['title']} | {figure['label']}, {figure['unit']} | "
                + " | ".join(cells)
                + f" | {ratios(figure)} | {verdict} |"
            )
    skipped = {s: r for scenario in data["scenarios"] for s, r in scenario["skipped"].items()}
    if skipped:
        lines += ["", "Not measured: " + "; ".join(f"{s}: {r}" for s, r in skipped.items()) + "."]
    return "\n".join(lines) + "\n"


def chart(data: dict[str, Any], path: Path) -> bool:
    """One small bar chart per figure measured on initsup and something else, initsup in
    its own colour; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = [
        figure
        for scenario in data["scenarios"]
        for figure in scenario["figures"]
        if "initsup" in figure["medians"] and len(figure["medians"]) > 1
    ]
    columns = 4
    rows = max(1, -(-len(panels) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.6 * rows), squeeze=False)
    colours = {
        "initsup": "#d1495b",
        "supervisord": "#66a182",
        "tini": "#2e4057",
        "dumb-init": "#8d96a3",
        "floor": "#edae49",
    }
    for ax, figure in zip(axes.flat, panels):
        names = [s for s in SYSTEMS if s in figure["medians"]]
        values = [figure["medians"][n] for n in names]
        bars = ax.barh(names, values, color=[colours[n] for n in names])
        ax.invert_yaxis()
        better = "lower" if figure["lower_is_better"] else "higher"
        ax.set_title(f"{figure['label']}\n{figure['unit']}, {better} is better", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.bar_label(bars, labels=[number(v, figure["unit"]) for v in values], fontsize=7)
        ax.margins(x=0.25)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def render(directory: Path) -> list[Path]:
    """results.md and results.png from directory/results.json."""
    data = json.loads((directory / "results.json").read_text())
    table = directory / "results.md"
    table.write_text(markdown(data))
    written = [table]
    png = directory / "results.png"
    if chart(data, png):
        written.append(png)
    return written


def write(outcomes: list[Outcome], info: dict[str, Any], directory: Path) -> list[Path]:
    """results.json, then the table and the chart rendered from it."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "results.json"
    data.write_text(json.dumps(to_json(outcomes, info), indent=1) + "\n")
    return [data, *render(directory)]


if __name__ == "__main__":
    # python -m bench.report [DIR]: render DIR/results.json again (default bench/results).
    import sys

    for path in render(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results"
    ):
        print(path)
