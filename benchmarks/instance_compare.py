"""The same work on Dagster's stock SQLite instance and on the shipped one (tuned event-log storage), side by side.

For each instance kind, on a fresh DAGSTER_HOME and warehouse:
  (1) a range START..END of the selected phases as one single-run range backfill, all checks (`benchmarks.range_run`);
  (2) then one date DAY of the same phases end to end through the CLI, process start included
      (`nba-pipeline materialize --select … --partition-range DAY...DAY`), REPEAT times, on (1)'s instance and warehouse.
The kinds run alternately in one invocation, so a shared machine's load weighs on both: read the ratio.

    python benchmarks/instance_compare.py [--start 2023-10-24] [--end 2024-04-14] [--day 2024-01-15]
                                          [--groups raw analytics] [--repeat 2]
stock = the shipped dagster.yaml without its `event_log_storage` block; tuned = the shipped dagster.yaml.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.event_cost import SHIPPED_YAML, stock_yaml  # noqa: E402

ALL_GROUPS = ["raw", "analytics", "precompute", "ml", "predictions"]
KINDS = ("stock", "tuned")


def _env(workdir: Path, kind: str) -> dict[str, str]:
    home = workdir / kind / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(SHIPPED_YAML.read_text() if kind == "tuned" else stock_yaml())
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NBA_PIPELINE_WAREHOUSE": str(workdir / kind / "warehouse.duckdb"),
        "NBA_PIPELINE_GAME_DAY": "off",
        "PYTHONWARNINGS": "ignore",
    }


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", default="2023-10-24")
    parser.add_argument("--end", default="2024-04-14")
    parser.add_argument("--day", default="2024-01-15")
    parser.add_argument("--groups", nargs="+", default=["raw", "analytics"], choices=ALL_GROUPS)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    python = sys.executable
    cli = str(Path(python).with_name("nba-pipeline"))
    selection = "*" if set(args.groups) == set(ALL_GROUPS) else " or ".join(f"group:{g}" for g in args.groups)
    ranges: dict[str, float] = {}
    days: dict[str, list[float]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        envs = {kind: _env(Path(tmp), kind) for kind in KINDS}
        for kind in KINDS:
            ranges[kind] = _timed([python, "-m", "benchmarks.range_run", "real", args.start, args.end, *args.groups], envs[kind])
            print(f"  range {kind}: {ranges[kind]:.1f} s", file=sys.stderr, flush=True)
        for _ in range(args.repeat):
            for kind in KINDS:
                days[kind].append(_timed(
                    [cli, "materialize", "--select", selection, "--partition-range", f"{args.day}...{args.day}"], envs[kind]
                ))
                print(f"  one date {kind}: {days[kind][-1]:.1f} s", file=sys.stderr, flush=True)
    print(f"{' '.join(args.groups)}: range {args.start}..{args.end}; one date {args.day} through the CLI (median of {args.repeat})")
    print(f"{'instance':<10}{'range s':>10}{'one date s':>12}")
    for kind in KINDS:
        print(f"{kind:<10}{ranges[kind]:>10.1f}{statistics.median(days[kind]):>12.1f}")
    print(f"stock / tuned: range {ranges['stock'] / ranges['tuned']:.2f}x, one date "
          f"{statistics.median(days['stock']) / statistics.median(days['tuned']):.2f}x "
          f"(target: one date <= 10 s on the shipped instance)")


if __name__ == "__main__":
    main()
