"""The run's results as JSON, a Markdown table and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.core import SYSTEMS, Figure, Outcome


def number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit in ("lines/s", "events/s") or abs(value) >= 1000:
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


def markdown(outcomes: list[Outcome], info: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if k != "machine")
    lines = [
        f"Medians of {info['size']} runs on {info['versions'].get('machine', '?')}, "
        f"{info['date']}; {versions}.",
        "",
        "| scenario | figure | initsup | supervisord | tini | dumb-init | floor | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for outcome in outcomes:
        medians = outcome.medians
        targets = {t.figure: t for t in outcome.targets}
        for figure in outcome.scenario.figures:
            cells = [number(medians.get(figure.key, s), figure.unit) for s in SYSTEMS]
            if not any(cells):
                continue
            target = targets.get(figure.key)
            verdict = ""
            if target is not None:
                mark = "met" if target.met else "**missed**"
                verdict = f"{target.text}: {mark} ({target.detail})"
            lines.append(
                f"| {outcome.scenario.title} | {figure.label}, {figure.unit} | "
                + " | ".join(cells)
                + f" | {verdict} |"
            )
    skipped = {s: r for o in outcomes for s, r in o.skipped.items()}
    if skipped:
        lines += ["", "Not measured: " + "; ".join(f"{s}: {r}" for s, r in skipped.items()) + "."]
    return "\n".join(lines) + "\n"


def chart(outcomes: list[Outcome], path: Path) -> bool:
    """One small bar chart per figure, initsup in its own colour; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels: list[tuple[str, Figure, dict[str, float]]] = []
    for outcome in outcomes:
        medians = outcome.medians
        for figure in outcome.scenario.figures:
            values = {s: v for s in SYSTEMS if (v := medians.get(figure.key, s)) is not None}
            if len(values) > 1 or "initsup" in values:
                panels.append((outcome.scenario.title, figure, values))
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
    for ax, (_, figure, values) in zip(axes.flat, panels):
        names = list(values)
        bars = ax.barh(names, [values[n] for n in names], color=[colours[n] for n in names])
        ax.invert_yaxis()
        better = "lower" if figure.lower_is_better else "higher"
        ax.set_title(f"{figure.label}\n{figure.unit}, {better} is better", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.bar_label(bars, labels=[number(values[n], figure.unit) for n in names], fontsize=7)
        ax.margins(x=0.25)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(outcomes: list[Outcome], info: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    data = directory / "results.json"
    data.write_text(json.dumps(to_json(outcomes, info), indent=1) + "\n")
    written.append(data)
    table = directory / "results.md"
    table.write_text(markdown(outcomes, info))
    written.append(table)
    png = directory / "results.png"
    if chart(outcomes, png):
        written.append(png)
    return written
