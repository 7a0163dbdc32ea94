"""Milliseconds Dagster spends per stored event, per event type, on the stock SQLite instance, the shipped one
(`dagster_home/dagster.yaml`: the tuned event-log storage) and the production one (PostgreSQL, optional).

The workload is what a range run of this project stores per date: one real run (`dg.materialize`, in process) of one
asset over DATES daily partitions as a single-run range, with CHECKS partitioned checks, each logging one evaluation
per date aimed at that date's materialization (as `nba_pipeline/checks/runner.py` does). The run stores DATES
materialization-planned events, DATES materializations and CHECKS x DATES check evaluations, each type in one
back-to-back burst (plus CHECKS x DATES check-planned events at run creation). The cost of one event is read from the
run's own event log: the time from its timestamp to the next event's (what Dagster spends storing it and building the
next: serialize, insert, index), the median per event type.
Each instance gets a fresh DAGSTER_HOME (and a fresh database); the kinds run alternately, REPEAT times, and the
median is reported, so a busy shared machine affects them alike: compare the ratio more than the absolute numbers.

    python benchmarks/event_cost.py [--dates 60] [--checks 3] [--repeat 3] [--kinds stock tuned postgres]

stock = the shipped yaml without its `event_log_storage` block (Dagster's default SQLite storage);
tuned = the shipped yaml as it is; postgres = deploy/production/dagster.yaml on a fresh database of
NBA_PIPELINE_TEST_PG_SERVER (default postgresql+psycopg2://postgres@127.0.0.1:5432/test). Target: <= 3 ms per event
on the shipped instance.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml

from nba_pipeline.plumbing.dagster_private import materialization_targets

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_YAML = ROOT / "dagster_home" / "dagster.yaml"
PRODUCTION_YAML = ROOT / "deploy" / "production" / "dagster.yaml"
PG_SERVER = os.environ.get("NBA_PIPELINE_TEST_PG_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
KINDS = ("stock", "tuned", "postgres")
TYPES = {  # the events a range run stores per date (each also mirrored into the index shard on SQLite)
    "ASSET_MATERIALIZATION_PLANNED": "materialization planned",
    "ASSET_CHECK_EVALUATION_PLANNED": "check planned",
    "ASSET_MATERIALIZATION": "materialization",
    "ASSET_CHECK_EVALUATION": "check evaluation",
}
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def stock_yaml() -> str:
    """The shipped instance with Dagster's own event-log storage: the same file minus `event_log_storage`."""
    config = yaml.safe_load(SHIPPED_YAML.read_text())
    config.pop("event_log_storage", None)
    return yaml.safe_dump(config)


@contextmanager
def instance_of(kind: str, workdir: Path) -> Iterator[dg.DagsterInstance]:
    """A fresh persistent instance of `kind` in `workdir`."""
    home = workdir / f"{kind}_{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    if kind == "postgres":
        with _fresh_pg_database() as url:
            (home / "dagster.yaml").write_text(PRODUCTION_YAML.read_text())
            previous = os.environ.get("DAGSTER_PG_URL")
            os.environ["DAGSTER_PG_URL"] = url
            try:
                with dg.DagsterInstance.from_config(str(home)) as instance:
                    yield instance
            finally:
                if previous is None:
                    os.environ.pop("DAGSTER_PG_URL", None)
                else:
                    os.environ["DAGSTER_PG_URL"] = previous
        return
    (home / "dagster.yaml").write_text(SHIPPED_YAML.read_text() if kind == "tuned" else stock_yaml())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@contextmanager
def _fresh_pg_database() -> Iterator[str]:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"nba_pipeline_bench_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def workload(dates: int, checks: int) -> tuple[dg.AssetsDefinition, list[str]]:
    """One daily-partitioned asset with `checks` partitioned checks, and the first `dates` partition keys."""
    partitions = dg.DailyPartitionsDefinition(start_date="2021-10-19", timezone="America/New_York")
    specs = [dg.AssetCheckSpec(f"check_{i}", asset="events", partitions_def=partitions, blocking=True) for i in range(checks)]

    @dg.asset(key="events", partitions_def=partitions, check_specs=specs, backfill_policy=dg.BackfillPolicy.single_run())
    def _events(context):
        yield dg.Output(None)
        targets = materialization_targets(context.instance, context.asset_key, context.run.run_id, context.partition_keys)
        for spec in specs:
            for key, target in targets.items():
                context.log_event(
                    dg.AssetCheckEvaluation(
                        asset_key=spec.asset_key, check_name=spec.name, passed=True, partition=key,
                        target_materialization_data=target,
                    )
                )
            yield dg.AssetCheckResult(check_name=spec.name, passed=True)

    keys = partitions.get_partition_keys()[:dates]
    return _events, keys


class _NoopIO(dg.IOManager):
    def handle_output(self, context, obj) -> None:
        return None

    def load_input(self, context):
        return None


def measure(instance: dg.DagsterInstance, dates: int, checks: int) -> dict[str, tuple[int, float]]:
    """Per event type: (events stored, median ms from such an event to the next one) of one range run on `instance`."""
    asset, keys = workload(dates, checks)
    result = dg.materialize(
        [asset],
        instance=instance,
        resources={"io_manager": _NoopIO()},
        tags={RANGE_TAGS[0]: keys[0], RANGE_TAGS[1]: keys[-1]},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},  # measure storage, not the console
    )
    assert result.success
    records = sorted(instance.get_records_for_run(result.run_id, limit=1_000_000).records, key=lambda r: r.storage_id)
    gaps: dict[str, list[float]] = {}
    for this, following in zip(records, records[1:]):
        event = this.event_log_entry.dagster_event
        name = event.event_type_value if event is not None else "LOG_MESSAGE"
        gaps.setdefault(name, []).append((following.event_log_entry.timestamp - this.event_log_entry.timestamp) * 1000)
    return {name: (len(values), statistics.median(values)) for name, values in gaps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dates", type=int, default=60)
    parser.add_argument("--checks", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    args = parser.parse_args()
    if args.dates < 2 or args.checks < 1 or args.repeat < 1:
        parser.error("--dates must be >= 2, --checks and --repeat >= 1")
    samples: dict[str, dict[str, list[float]]] = {k: {t: [] for t in TYPES} for k in args.kinds}
    counts: dict[str, dict[str, int]] = {k: {} for k in args.kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            for kind in args.kinds:
                started = time.perf_counter()
                with instance_of(kind, Path(tmp)) as instance:
                    measured = measure(instance, args.dates, args.checks)
                for type_name in TYPES:
                    n, ms = measured.get(type_name, (0, float("nan")))
                    samples[kind][type_name].append(ms)
                    counts[kind][type_name] = n
                print(f"  round {round_ + 1} {kind}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(f"ms per stored event (median of {args.repeat}; one range run of {args.dates} dates, {args.checks} checks)")
    print(f"{'instance':<10}" + "".join(f"{label:>24}" for label in TYPES.values()) + f"{'all (weighted)':>18}")
    medians: dict[str, float] = {}
    for kind in args.kinds:
        cells, total_ms, total_n = [], 0.0, 0
        for type_name in TYPES:
            ms, n = statistics.median(samples[kind][type_name]), counts[kind][type_name]
            cells.append(f"{ms:>8.2f} ms ({n:>5} events)")
            total_ms, total_n = total_ms + ms * n, total_n + n
        medians[kind] = total_ms / total_n
        print(f"{kind:<10}" + "".join(f"{c:>24}" for c in cells) + f"{medians[kind]:>15.2f} ms")
    if "stock" in medians and "tuned" in medians:
        print(f"stock / tuned = {medians['stock'] / medians['tuned']:.1f}x; "
              f"shipped instance {medians['tuned']:.2f} ms per event (target <= 3 ms)")


if __name__ == "__main__":
    main()
