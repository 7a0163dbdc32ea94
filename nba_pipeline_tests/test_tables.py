"""A step's warehouse failures, through real runs on a real DuckDB file: each ends the step with one message that
names the table and says what was (not) published, never a bare traceback, and leaves the warehouse as it was."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dagster as dg
import duckdb

from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.resources import resources_for
from nba_pipeline.sources import SimulatedLeagueSource
from nba_pipeline.analytics.assets import team_offense_game_summary
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline.warehouse.io_manager import WarehouseIOManager
from nba_pipeline_tests.conftest import read_table, run_range

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
