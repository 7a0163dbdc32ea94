"""A step's warehouse failures, through real runs on a real DuckDB file: each ends the step with one message that
names the table and says what was (not) published, never a bare traceback, and leaves the warehouse as it was."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dagster as dg
import duckdb

from nba_pipeline.partitions import game_date_partitions
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.sources import SimulatedLeagueSource
from nba_pipeline.analytics.assets import team_offense_game_summary
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline.warehouse.io_manager import WarehouseIOManager
from nba_pipeline_tests.conftest import read_table, run_range
from nba_pipeline_tests.postgres import instance_home

FAILED, MATERIALIZED = dg.AssetPartitionStatus.FAILED, dg.AssetPartitionStatus.MATERIALIZED
DAY = "2024-01-15"
BOXSCORES = [a for a in raw_assets if a.key.path[-1] == "player_boxscores"]


def _failure(result: dg.ExecuteInJobResult, step: str) -> dg.DagsterEvent:
    (failure,) = [e for e in result.all_events if e.is_step_failure and e.step_key == step]
    return failure


def test_a_column_an_older_version_typed_otherwise_fails_the_step_by_name_and_keeps_the_table(warehouse):
    """The published table holds `pts` as text (created by an older code version); today's code stages integers.
    DuckDB would cast them into the text column silently: the step refuses instead and publishes nothing."""
    assert run_range(warehouse, DAY, assets=BOXSCORES).success
    with duckdb.connect(warehouse) as conn:
        conn.execute("alter table raw.player_boxscores alter column pts type varchar")
    before = read_table(warehouse, "raw.player_boxscores")
    log_before = read_table(warehouse, "pipeline.publish_log")

    again = run_range(warehouse, DAY, assets=BOXSCORES)
    assert not again.success
    error = _failure(again, "player_boxscores").step_failure_data.error
    assert error.cls_name == "Failure"
    assert "refusing to publish raw.player_boxscores: pts is VARCHAR in raw.player_boxscores but BIGINT in this step's rows" in error.message
    assert "nothing of this step was published" in error.message
    assert not again.get_asset_materialization_events()
    assert read_table(warehouse, "raw.player_boxscores").equals(before)
    assert len(read_table(warehouse, "pipeline.publish_log")) == len(log_before)
    with duckdb.connect(warehouse, read_only=True) as conn:  # the refused rows' staging table is dropped
        assert conn.execute("select count(*) from duckdb_tables() where schema_name = 'staging'").fetchone()[0] == 0


def test_an_input_the_warehouse_cannot_give_fails_the_step_with_the_warehouse_s_words(warehouse):
    """Another process holds the DuckDB file read-write past the lock timeout while a step loads its inputs."""
    instance = dg.DagsterInstance.ephemeral()  # the gate reads the first run's checks from it
    assert run_range(warehouse, DAY, instance=instance).success
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        conn = duckdb.connect({warehouse!r})
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        resources = resources_for("local", warehouse_path=warehouse)
        resources["warehouse"] = DuckDBWarehouse(database=warehouse, lock_timeout_seconds=1)
        resources["io_manager"] = WarehouseIOManager(warehouse=resources["warehouse"])
        resources["source"] = SimulatedLeagueSource()
        result = dg.materialize([team_offense_game_summary, *raw_assets], selection=[team_offense_game_summary.key],
                                resources=resources, partition_key=DAY, raise_on_error=False, instance=instance)
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    error = _failure(result, "team_offense_game_summary").step_failure_data.error
    assert error.cls_name == "Failure"
    assert "Failure: cannot read raw." in error.message
    assert f"is locked by PID {holder.pid}" in error.message and "Parquet read copy" in error.message


def test_a_date_whose_rows_were_not_published_reads_failed_until_a_run_publishes_it(tmp_path):
    """The step's one output materializes its whole range; a quarantined date still reads FAILED through Dagster's
    public partition status (the UI's partition bar and asset health read the same), the published dates
    MATERIALIZED, and a later run that publishes the date makes it MATERIALIZED."""
    dates = ["2021-10-19", "2021-10-20", "2021-10-21", "2021-10-22", "2021-10-23"]
    bad = "2021-10-22"
    faults = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[bad])
    instance = dg.DagsterInstance.local_temp(str(instance_home(tmp_path / "home", "local")))  # configured as shipped
    warehouse = str(tmp_path / "warehouse.duckdb")
    summary, boxscores = dg.AssetKey("player_game_summary"), dg.AssetKey(["player_boxscores"])
    status = lambda key: instance.get_status_by_partition(key, dates, game_date_partitions)  # noqa: E731

    assert run_range(warehouse, dates[0], dates[-1], faults=faults, instance=instance).success
    quarantined = read_table(warehouse, "pipeline.publish_log where outcome = 'quarantined'")
    assert set(quarantined["asset"]) == {"player_game_summary"}
    assert set(quarantined["game_date"].astype(str)) == {bad}
    assert status(summary) == {d: FAILED if d == bad else MATERIALIZED for d in dates}
    assert status(boxscores) == dict.fromkeys(dates, MATERIALIZED)  # its vendor ids are valid raw rows

    assert run_range(warehouse, bad, instance=instance).success  # the feed fixed: the date publishes
    assert status(summary) == dict.fromkeys(dates, MATERIALIZED)
    instance.dispose()
