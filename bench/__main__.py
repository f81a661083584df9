"""python -m bench [SCENARIO...] [--size full|tiny] [--runs N] [--out DIR] [--install]"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import peers, report, scenarios
from bench.core import run_scenario


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="SCENARIO", help=", ".join(scenarios.NAMES))
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--runs", type=int, help="runs per system (default: the scenario's)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--install", action="store_true", help="install missing peers first")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(scenarios.NAMES)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.install:
        peers.install()

    outcomes = []
    with tempfile.TemporaryDirectory(prefix="initsup-bench-") as scratch_root:
        tools = peers.find(Path(scratch_root))
        info = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "size": args.size,
            "versions": peers.versions(tools),
        }
        for name in [n for n in scenarios.NAMES if n in args.names or not args.names]:
            scratch = Path(scratch_root, name)
            scratch.mkdir()
            tools.scratch = scratch
            scenario = scenarios.load(name)
            outcome = run_scenario(scenario, args.size, tools, args.runs, progress=_progress)
            outcomes.append(outcome)
            _progress(f"{name}: done in {outcome.seconds:.1f} s", end="\n")
    paths = report.write(outcomes, info, args.out)
    print(paths[1].read_text())
    print("written: " + ", ".join(str(p) for p in paths))
    return 0


def _progress(text: str, end: str = "") -> None:
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end=end, file=sys.stderr, flush=True)
    elif end:
        print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
