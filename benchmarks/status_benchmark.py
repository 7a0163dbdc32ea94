"""Times `nba-pipeline status` against an instance and warehouse (the budget: ≤ 5 s on a full four-season backfill).

    python benchmarks/status_benchmark.py --home DAGSTER_HOME --warehouse path/to/warehouse.duckdb [--repeat 3]
    python benchmarks/status_benchmark.py --build-days 60 [--keep DIR]   # builds one first (every phase, one range run)

Measures (1) the CLI end to end, `nba-pipeline status --json` in a fresh process (interpreter start, imports, the
report and the exit), median of --repeat runs; (2) `build_report` in-process, warm; (3) the same steps as the CLI in a
fresh process, timed one by one (medians): interpreter start, `import dagster`, importing the status module (pandas,
DuckDB, the project's modules), the asset definitions, `DagsterInstance.get` (mostly importing Dagster's storage
stack: SQLAlchemy, alembic, the run and event-log storages), the report with its own parts (publish log,
definitions, check records, date states, checks, usage rate, runs), and the exit. The load average is printed
before and after: the machine's 2 cores are shared, and a busy machine moves every number. Prints the instance's
size (asset-partitions, check-partition records, runs) so the time can be scaled: the report's cost grows with
dates × checks (bulk reads plus one pass over their rows), the imports do not.
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

    from nba_pipeline.plumbing.dagster_private import check_partition_frame
    from nba_pipeline.ops.report import partitioned_assets

    instance = dg.DagsterInstance.local_temp(str(home))
    assets = partitioned_assets()
    materialized = sum(len(instance.get_materialized_partitions(a.key)) for a in assets)
    keys = [dg.AssetCheckKey(a.key, s.name) for a in assets for s in a.check_specs]
    checks = len(check_partition_frame(instance, keys, None))
    runs = len(instance.get_runs())
    return f"{materialized} asset-partitions materialized, {checks} check-partition records, {runs} runs"


# What `nba-pipeline status --json` does, step by step, timed in a fresh process (the parent times its start and exit)
PHASES = """
import json, time
t = [time.perf_counter()]
import warnings
warnings.filterwarnings("ignore", message=".*(beta|preview).*", category=Warning)
import dagster as dg
t.append(time.perf_counter())
from nba_pipeline.ops import published, report as status
t.append(time.perf_counter())
status.partitioned_assets()
t.append(time.perf_counter())
instance = dg.DagsterInstance.get()
t.append(time.perf_counter())
report = status.build_report(instance, published.warehouse_path(None))
status.report_json(report)
t.append(time.perf_counter())
import gc
gc.freeze()  # as the CLI does before it exits
names = ["import dagster", "import status (pandas, DuckDB, ...)", "asset definitions", "DagsterInstance.get", "report"]
print(json.dumps({"total": t[-1] - t[0], **{n: b - a for n, a, b in zip(names, t, t[1:])}, "report parts": report.timings}),
      flush=True)
"""


def fresh_process_breakdown(env: dict, repeat: int) -> dict[str, float]:
    """Median seconds per phase of a fresh process doing what the CLI does (interpreter start and exit included)."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", PHASES], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = child.stdout.readline()
        reported = time.perf_counter()
        child.wait()
        phases = json.loads(line)
        parts = phases.pop("report parts")
        runs.append({"interpreter start": reported - started - phases.pop("total"), **phases,
                     **{f"  {k}": v for k, v in parts.items()}, "exit": time.perf_counter() - reported})
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


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
    print("load average (1, 5, 15 min) before: %.2f %.2f %.2f" % os.getloadavg())

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

    from nba_pipeline.ops.report import build_report

    instance = dg.DagsterInstance.local_temp(str(home))
    inproc = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        build_report(instance, str(warehouse))
        inproc.append(time.perf_counter() - started)
    print(f"build_report in-process (warm): median {statistics.median(inproc):.2f} s  runs {[round(t, 2) for t in inproc]}")
    print("fresh process, step by step (medians, s):")
    for name, seconds in fresh_process_breakdown(env, args.repeat).items():
        print(f"  {name:38s} {seconds:6.3f}")
    print("load average (1, 5, 15 min) after: %.2f %.2f %.2f" % os.getloadavg())
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
