"""Times `nba-pipeline status` against an instance and warehouse (the budget: ≤ 5 s on a full four-season backfill).

    python benchmarks/status_benchmark.py --home DAGSTER_HOME --warehouse path/to/warehouse.duckdb [--repeat 3]
    python benchmarks/status_benchmark.py --build-days 60 [--keep DIR]   # builds one first (every phase, one range run)

Measures (1) the CLI end to end, `nba-pipeline status --json` in a fresh process (interpreter start, imports and
the report), and (2) `build_report` in-process, with its own breakdown (publish log, date states, checks, usage
rate, runs). Prints the instance's size (dates, asset-partitions, check evaluations) so the time can be scaled: the
report's cost grows with dates × checks (bulk queries plus one pass over their rows), the imports do not.
Building is optional and slow on a shared machine: every phase over N dates as one range run with the
simulator (a vendor game-id fault on one date, so the report has something to say).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")


def build(root: Path, days: int) -> tuple[Path, Path]:
    import dagster as dg
    import pandas as pd

    from nba_pipeline.simulator import SimulatorFaults
    from nba_pipeline_tests.conftest import EVERY_PHASE, run_range

    home, warehouse = root / "home", root / "warehouse.duckdb"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    start = pd.Timestamp("2021-10-19")
    end = start + pd.Timedelta(days=days - 1)
    bad = (start + pd.Timedelta(days=days // 2)).strftime("%Y-%m-%d")
    fault = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[bad])
    started = time.perf_counter()
    run_range(str(warehouse), start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d"), faults=fault,
              instance=dg.DagsterInstance.local_temp(str(home)), assets=EVERY_PHASE)
    print(f"built {days} dates (every phase, vendor ids on {bad}) in {time.perf_counter() - started:.0f} s: {root}")
    return home, warehouse


def size(home: Path) -> str:
    import dagster as dg

    from nba_pipeline.dagster_private import check_partition_infos
    from nba_pipeline.status import partitioned_assets

    instance = dg.DagsterInstance.local_temp(str(home))
    assets = partitioned_assets()
    materialized = sum(len(instance.get_materialized_partitions(a.key)) for a in assets)
    keys = [dg.AssetCheckKey(a.key, s.name) for a in assets for s in a.check_specs]
    checks = len(check_partition_infos(instance, keys, None))
    runs = len(instance.get_runs())
    return f"{materialized} asset-partitions materialized, {checks} check-partition records, {runs} runs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="DAGSTER_HOME of the instance to report on")
    parser.add_argument("--warehouse", help="the DuckDB warehouse file (its Parquet read copy is read)")
    parser.add_argument("--build-days", type=int, default=60, help="when no --home: dates to build first")
    parser.add_argument("--keep", help="when building: where (default: a temporary folder, removed)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = None
    if args.home:
        home, warehouse = Path(args.home), Path(args.warehouse or os.environ.get("NBA_PIPELINE_WAREHOUSE", "data/warehouse.duckdb"))
    else:
        root = Path(args.keep) if args.keep else Path(tmp := tempfile.mkdtemp(prefix="status-bench-"))
        home, warehouse = build(root, args.build_days)
    print(size(home))

    env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse), "PYTHONPATH": str(ROOT)}
    cli, verdicts = [], set()
    for _ in range(args.repeat):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "nba_pipeline.cli", "status", "--json"], env=env, cwd=ROOT,
                             capture_output=True, text=True)
        cli.append(time.perf_counter() - started)
        report = json.loads(out.stdout)
        verdicts.add((report["verdict"], out.returncode))
    print(f"CLI end to end (fresh process, --json): median {statistics.median(cli):.2f} s  runs {[round(t, 2) for t in cli]}  "
          f"verdict/exit {sorted(verdicts)}  dates {report['range']}")

    import dagster as dg

    from nba_pipeline.status import build_report

    instance = dg.DagsterInstance.local_temp(str(home))
    inproc, parts = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        r = build_report(instance, str(warehouse))
        inproc.append(time.perf_counter() - started)
        parts.append(r.timings)
    print(f"build_report in-process: median {statistics.median(inproc):.2f} s  breakdown (last) {parts[-1]}")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import warnings; warnings.filterwarnings('ignore'); import nba_pipeline.status as s; "
                    "s.partitioned_assets()"], env=env, cwd=ROOT, check=True, capture_output=True)
    print(f"interpreter start + imports alone: {time.perf_counter() - started:.2f} s")
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
