"""The warehouse's share of the daily job, apart from Dagster and the transforms: one date of every published table
republished (its published rows staged again, audited as passed, published, the Parquet read copy exported), on a
copy of a warehouse and its read copy, so that the history it holds is the only thing that differs between runs.

    python benchmarks/publish_cost.py WAREHOUSE.duckdb [--day 2024-01-15]

Prints the seconds of the publishes (the export included) and what they wrote to the read copy. Run it with another
checkout first on PYTHONPATH to compare two versions of the warehouse code on the same history.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from nba_pipeline.warehouse.base import TableRef
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse


def _files(root: Path) -> dict[Path, tuple[int, int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("--day", default="2024-01-15")
    args = parser.parse_args()
    source = Path(args.warehouse)
    if not source.is_file():
        raise SystemExit(f"no warehouse file at {source}")
    with tempfile.TemporaryDirectory(prefix="publish_cost_") as scratch:
        database = Path(scratch) / "warehouse.duckdb"
        shutil.copy(source, database)
        shutil.copytree(source.parent / "published", Path(scratch) / "published")
        with duckdb.connect(str(database), read_only=True) as conn:
            tables = conn.execute(
                """
                select t.table_schema, t.table_name, p.code_version from information_schema.tables t
                join (select asset, code_version from pipeline.promotions
                      qualify row_number() over (partition by asset order by promoted_at desc) = 1) p
                  on p.asset = t.table_name
                where t.table_schema not in ('pipeline', 'quarantine', 'staging') order by all
                """
            ).fetchall()
            dates = conn.execute("select count(distinct game_date) from pipeline.publish_log").fetchone()[0]
        warehouse = DuckDBWarehouse(database=str(database))
        before = _files(warehouse.read_copy_root)
        seconds = {}
        for schema, table, version in tables:
            ref = TableRef(schema, table)
            rows = warehouse.read(ref, [args.day])
            outcomes = pd.DataFrame({"game_date": [pd.Timestamp(args.day)], "passed": [True], "rows": [len(rows)],
                                     "failed_checks": [""], "checks": ["benchmark"]})
            with warehouse.session():
                staging = warehouse.stage(ref, rows, "0123456789abcdef")
                started = time.perf_counter()
                warehouse.publish(ref, staging, outcomes, asset=table, run_id="publish-cost", code_version=version)
                seconds[table] = time.perf_counter() - started
        after = _files(warehouse.read_copy_root)
        written = [stat[2] for path, stat in after.items() if before.get(path, (None, None))[:2] != stat[:2]]
    slowest = ", ".join(f"{t} {s:.2f}" for t, s in sorted(seconds.items(), key=lambda kv: -kv[1])[:3])
    print(f"{source} ({dates} dates of history): {len(seconds)} tables' publishes of {args.day} took "
          f"{sum(seconds.values()):.2f} s (slowest: {slowest}); they wrote {len(written)} of the read copy's "
          f"{len(after)} files, {sum(written) / 2**20:.1f} of {sum(s[2] for s in after.values()) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
