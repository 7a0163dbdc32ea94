"""Times the embedded default against Dagster's own bookkeeping floor, on a fresh SQLite DAGSTER_HOME each.

(a) full raw+analytics backfill 2021-10-19..2026-01-02 as one single-run range backfill, with all checks;
(b) one day's partition end to end through `dagster asset materialize` (process start included);
(c) the same range through no-op assets of the same shape (same keys, inputs, partitions, checks).
Prints wall time, peak memory of each scenario's process and the ratio (a)/(c).

    python benchmarks/backfill_benchmark.py [--start 2021-10-19] [--end 2026-01-02] [--day 2024-01-15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def _fresh_env(workdir: Path) -> dict[str, str]:
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    return {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(workdir / "warehouse.duckdb")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2021-10-19")
    parser.add_argument("--end", default="2026-01-02")
    parser.add_argument("--day", default="2024-01-15")
    args = parser.parse_args()
    python = sys.executable
    dagster = str(Path(python).with_name("dagster"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scenario = [python, "-m", "benchmarks.range_run"]
        results["c_noop_floor"] = _run([*scenario, "noop", args.start, args.end], _fresh_env(tmp / "c"))
        results["a_full_backfill"] = _run([*scenario, "real", args.start, args.end], _fresh_env(tmp / "a"))
        results["b_one_partition"] = _run(
            [dagster, "asset", "materialize", "-m", "nba_pipeline.definitions", "--select", "*", "--partition", args.day],
            _fresh_env(tmp / "b"),
        )
    print(f"range {args.start}..{args.end}, one partition {args.day}")
    print(f"{'scenario':<18}{'wall s':>10}{'peak MiB':>10}")
    for name, (wall, rss) in results.items():
        print(f"{name:<18}{wall:>10.1f}{rss:>10.0f}")
    ratio = results["a_full_backfill"][0] / results["c_noop_floor"][0]
    print(f"ratio (a)/(c) = {ratio:.3f}  (target <= 1.25); one partition {results['b_one_partition'][0]:.1f} s (target <= 20 s)")


if __name__ == "__main__":
    main()
