"""Times the embedded default against Dagster's own bookkeeping floor, each scenario on a fresh SQLite DAGSTER_HOME
holding the shipped dagster_home/dagster.yaml (benchmarks/instance_compare.py compares it with Dagster's stock one).

(a) a full backfill START..END of the selected phases as one single-run range backfill, with all checks;
(b) one day's partition of the selected partitioned phases (the daily job `daily_all_phases`: every partitioned
    asset; the model retrains on its own schedule) end to end through `dagster asset materialize` (process start
    included), on (a)'s instance and warehouse: the daily run of a deployment whose history is loaded;
(c) the same range and selection through no-op assets of the same shape (same keys, inputs, partition mappings,
    partitions, checks, and the same per-date check records a range run writes): Dagster's bookkeeping floor;
(c0) the same no-op twins with run-level check results only: Dagster's bare floor, so the cost of per-date
    check records (what gating across runs reads) is visible on its own;
(s0) (c0) on Dagster's stock SQLite instance (the shipped yaml without its event_log_storage block), over the
    first --stock-dates dates and scaled to the range (events grow linearly with dates; the stock store pays
    ~15-45 ms an event, so the whole range would add tens of minutes): plain Dagster's floor, for the gain over it;
(e) one date of raw + analytics through `nba-pipeline materialize --no-summary` (process start included), on
    (a)'s instance and warehouse, --repeat times: the median and range (the ten steps a date's finals feed);
(p) with --postgres SERVER_URL: (a) on the production instance (deploy/production/dagster.yaml) in a fresh
    database on that server (dropped after), the warehouse still DuckDB: the instance's cost on PostgreSQL;
(d) when the ML phase is selected: training the points model on every feature-store row (a)'s warehouse holds.
`--scenarios a b` runs only those (b and e need a: they run on its deployment). After (b) it prints what (b) wrote
to the warehouse's Parquet read copy (files and MiB, of the copy's total): a day's publish should write only its dates.
Prints wall time, peak memory of each scenario's process, events stored per date and Dagster's ms per stored event
(the no-op run's wall time from its first to its last stored event, over its events: bookkeeping only), and the
ratios (a)/(c), (a)/(c0) and (a)/(s0).

    python benchmarks/backfill_benchmark.py [--start 2021-10-19] [--end 2026-01-02] [--day 2024-01-15]
                                            [--groups raw analytics precompute ml predictions] [--keep DIR]
                                            [--scenarios s0 c0 c a b e p d]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ALL_GROUPS = ["raw", "analytics", "precompute", "ml", "predictions"]
SCENARIOS = ["s0", "c0", "c", "a", "b", "e", "p", "d"]
TRAIN = """
import sys, time, duckdb
from nba_pipeline.ml.features import with_labels
from nba_pipeline.ml.model import train_walk_forward
conn = duckdb.connect(sys.argv[1], read_only=True)
store = conn.execute("select * from ml.ml_feature_store").fetchdf()
store = with_labels(store, conn.execute("select * from analytics.player_game_summary").fetchdf())
started = time.perf_counter()
model = train_walk_forward(store).latest
print(f"{time.perf_counter() - started:.1f} {len(store)} {store['season'].nunique()} {model.metrics['mae']:.3f} {model.metrics['baseline_mae_10_game_avg']:.3f}")
"""


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        if status != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read().decode()[-3000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def _report(result: tuple[float, float, str]) -> tuple[float, float, str]:
    """Print a scenario as soon as it finishes: a long benchmark shows progress."""
    print(f"  ... {result[0]:.1f} s wall, {result[1]:.0f} MiB peak", flush=True)
    return result


def _fresh_env(workdir: Path, stock: bool = False) -> dict[str, str]:
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    # the shipped instance config (tuned event-log storage, queued runs, one warehouse slot), as `make run` uses it
    if stock:
        from benchmarks.event_cost import stock_yaml

        (home / "dagster.yaml").write_text(stock_yaml())
    else:
        (home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    return {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(workdir / "warehouse.duckdb")}


def _events(env: dict[str, str]) -> tuple[int, float]:
    """(events stored, seconds from the first to the last) of the one run of a scenario's instance."""
    shards = [p for p in (Path(env["DAGSTER_HOME"]) / "history" / "runs").glob("*.db") if p.name != "index.db"]
    if len(shards) != 1:
        raise SystemExit(f"expected one run in {env['DAGSTER_HOME']}, found {len(shards)}")
    with sqlite3.connect(shards[0]) as conn:
        count, first, last = conn.execute("select count(*), min(timestamp), max(timestamp) from event_logs").fetchone()
    seconds = (dt.datetime.fromisoformat(last) - dt.datetime.fromisoformat(first)).total_seconds()
    return count, seconds


def _postgres_run(server: str, workdir: Path, cmd: list[str]) -> tuple[float, float, str]:
    import uuid

    import sqlalchemy
    from sqlalchemy.pool import NullPool

    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"nba_pipeline_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        home = workdir / "dagster_home"
        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text((ROOT / "deploy" / "production" / "dagster.yaml").read_text())
        env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(workdir / "warehouse.duckdb"),
               "DAGSTER_PG_URL": admin.url.set(database=name).render_as_string(hide_password=False)}
        return _run(cmd, env)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _dates(start: str, end: str) -> int:
    return (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2021-10-19")
    parser.add_argument("--end", default="2026-01-02")
    parser.add_argument("--day", default="2024-01-15")
    parser.add_argument("--groups", nargs="+", default=ALL_GROUPS, choices=ALL_GROUPS)
    parser.add_argument("--repeat", type=int, default=5, help="runs of (e), the one-date CLI run")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (postgresql+psycopg2://...): also run (p)")
    parser.add_argument("--stock-dates", type=int, default=120, help="dates of the stock-Dagster floor (s0), scaled")
    parser.add_argument("--scenarios", nargs="+", default=SCENARIOS, choices=SCENARIOS,
                        help="run only these (b and e run on a's deployment, so a runs whenever they do)")
    parser.add_argument("--keep", help="keep the scenarios' instances and warehouses in this folder (a/ is the full "
                        "backfill: benchmarks/status_benchmark.py --home DIR/a/dagster_home reports on it)")
    args = parser.parse_args()
    wanted = set(args.scenarios) | ({"a"} if {"b", "e", "d"} & set(args.scenarios) else set())
    python = sys.executable
    dagster = str(Path(python).with_name("dagster"))
    results: dict[str, tuple[float, float, str]] = {}
    stock_events = floor_events = real_events = None
    copy_written = None
    scale = 1.0
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(args.keep) if args.keep else Path(scratch)
        scenario = [python, "-m", "benchmarks.range_run"]
        # the daily job's selection: the model (unpartitioned, retrained Mondays) is not part of a day's run
        selection = f"({' or '.join(f'group:{g}' for g in args.groups)}) and not key:points_model"
        dates = _dates(args.start, args.end)
        if "s0" in wanted:
            stock_end = min(dt.date.fromisoformat(args.start) + dt.timedelta(days=args.stock_dates - 1), dt.date.fromisoformat(args.end)).isoformat()
            print(f"s0: stock Dagster, bare no-op twins, {args.start}..{stock_end}", flush=True)
            stock_env = _fresh_env(tmp / "s0", stock=True)
            stock = _report(_run([*scenario, "bare", args.start, stock_end, *args.groups], stock_env))
            scale = dates / _dates(args.start, stock_end)
            results["s0_stock_bare_floor"] = (stock[0] * scale, stock[1], "")
            stock_events = _events(stock_env)
        if "c0" in wanted:
            print(f"c0: bare no-op twins, {args.start}..{args.end}", flush=True)
            results["c0_bare_floor"] = _report(_run([*scenario, "bare", args.start, args.end, *args.groups], _fresh_env(tmp / "c0")))
        if "c" in wanted:
            print("c: no-op twins, the same per-date check records", flush=True)
            floor_env = _fresh_env(tmp / "c")
            results["c_noop_floor"] = _report(_run([*scenario, "noop", args.start, args.end, *args.groups], floor_env))
            floor_events = _events(floor_env)
        if "a" in wanted:
            print(f"a: the real assets, {args.start}..{args.end}", flush=True)
            deployment = _fresh_env(tmp / "a")
            results["a_full_backfill"] = _report(_run([*scenario, "real", args.start, args.end, *args.groups], deployment))
            real_events = _events(deployment)
        if "b" in wanted:
            print(f"b: one date ({args.day}) through `dagster asset materialize`", flush=True)
            copy_root = tmp / "a" / "published"
            before = _files(copy_root)
            results["b_one_partition"] = _report(_run(
                [dagster, "asset", "materialize", "-m", "nba_pipeline.definitions", "--select", selection, "--partition", args.day],
                deployment,
            ))
            copy_written = _written(before, _files(copy_root))
        if "e" in wanted:
            print(f"e: one date ({args.day}) of raw + analytics through `nba-pipeline materialize`, {args.repeat} runs", flush=True)
            one_date = [str(Path(python).with_name("nba-pipeline")), "materialize", "--no-summary", "--select",
                        "group:raw or group:analytics", "--partition-range", f"{args.day}...{args.day}"]
            cli_runs = sorted(_report(_run(one_date, deployment))[:2] for _ in range(args.repeat))
            cli_walls = [wall for wall, _ in cli_runs]
            results["e_one_date_cli"] = (*cli_runs[len(cli_runs) // 2], "")
        if args.postgres and "p" in wanted:
            print("p: (a) on the production instance (PostgreSQL)", flush=True)
            results["p_full_backfill_postgres"] = _report(_postgres_run(args.postgres, tmp / "p", [*scenario, "real", args.start, args.end, *args.groups]))
        if "ml" in args.groups and "d" in wanted:
            results["d_train_model"] = _report(_run([python, "-c", TRAIN, str(tmp / "a" / "warehouse.duckdb")], dict(os.environ)))
    print(f"range {args.start}..{args.end} ({dates} dates) of {' '.join(args.groups)}; one partition {args.day} of the same phases")
    print(f"{'scenario':<22}{'wall s':>10}{'peak MiB':>10}")
    for name, (wall, rss, _) in results.items():
        label = f"{name} (x{scale:.1f})" if name.startswith("s0") else name
        print(f"{label:<22}{wall:>10.1f}{rss:>10.0f}")
    if real_events and floor_events and stock_events:
        print(f"events stored per date: (a) {real_events[0] / dates:.1f}, (c) {floor_events[0] / dates:.1f}; "
              f"Dagster's ms per stored event: shipped {1000 * floor_events[1] / floor_events[0]:.2f} (c), "
              f"stock {1000 * stock_events[1] / stock_events[0]:.2f} (s0)  (target <= 3 ms)")
    if {"a_full_backfill", "c_noop_floor", "c0_bare_floor", "s0_stock_bare_floor"} <= results.keys():
        ratio = results["a_full_backfill"][0] / results["c_noop_floor"][0]
        bare = results["a_full_backfill"][0] / results["c0_bare_floor"][0]
        plain = results["a_full_backfill"][0] / results["s0_stock_bare_floor"][0]
        print(f"full backfill (a) {results['a_full_backfill'][0]:.1f} s (target <= 300 s); ratio (a)/(c) = {ratio:.3f}  "
              f"(target <= 1.25); (a)/(c0) = {bare:.3f}; (a)/(s0) = {plain:.3f} (plain Dagster's bare floor)")
    if "b_one_partition" in results:
        files, written, total_files, total = copy_written
        print(f"one date of the daily job (b) {results['b_one_partition'][0]:.1f} s (target <= 20 s) on {dates} dates of "
              f"history; it wrote {files} of the read copy's {total_files} files, {written / 2**20:.1f} of "
              f"{total / 2**20:.1f} MiB")
    if "e_one_date_cli" in results:
        print(f"one date of raw + analytics through the CLI (e): median {results['e_one_date_cli'][0]:.1f} s of {len(cli_walls)} "
              f"(range {cli_walls[0]:.1f}-{cli_walls[-1]:.1f} s; target <= 10 s)")
    if "p_full_backfill_postgres" in results:
        print(f"full backfill on PostgreSQL (p) {results['p_full_backfill_postgres'][0]:.1f} s (target <= 600 s)")
    if "d_train_model" in results:
        seconds, rows, seasons, mae, baseline = results["d_train_model"][2].split()
        print(f"model training: {seconds} s on {rows} feature rows over {seasons} seasons (target <= 60 s); "
              f"validation MAE {mae} vs 10-game-average baseline {baseline}")


def _files(root: Path) -> dict[Path, tuple[int, int, int]]:
    """Every file of a read copy: (inode, mtime, size); a file replaced by rename gets a new inode."""
    found = {}
    for path in root.rglob("*") if root.exists() else ():
        if path.is_file():
            stat = path.stat()
            found[path] = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return found


def _written(before: dict, after: dict) -> tuple[int, int, int, int]:
    """(files written, their bytes, files now, their bytes) between two listings of a read copy."""
    changed = [stat[2] for path, stat in after.items() if before.get(path, (None, None))[:2] != stat[:2]]
    return len(changed), sum(changed), len(after), sum(stat[2] for stat in after.values())

if __name__ == "__main__":
    main()
