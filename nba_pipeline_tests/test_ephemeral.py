"""The tests' ephemeral instance keeps its event log's connection (nba_pipeline_tests/ephemeral.py): the same events,
check records and reads as Dagster's stock storage, from the run's thread and from another."""

from __future__ import annotations

import threading

import dagster as dg
import pytest
import sqlalchemy as db

from nba_pipeline.checks.readiness import State, check_states
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline_tests import ephemeral
from nba_pipeline_tests.conftest import run_range

BAD = "2021-10-20"
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
PGS = dg.AssetKey("player_game_summary")


def _stored(tmp_path, keep: bool) -> tuple[list[tuple], list[str], str | None]:
    ephemeral.keep_connections(keep)
    try:
        instance = dg.DagsterInstance.ephemeral()
        result = run_range(str(tmp_path / f"warehouse-{keep}.duckdb"), "2021-10-19", BAD, faults=FAULT, instance=instance)
        events = [
            (r.event_log_entry.dagster_event_type, r.asset_key.to_user_string() if r.asset_key else None, r.partition_key)
            for r in instance.get_records_for_run(result.run_id, limit=100_000).records
        ]
        states = check_states(instance, PGS, ["2021-10-19", BAD])[["game_date", "check", "state"]].astype(str).values.tolist()
        # a write from another thread (its own kept connection), read back from this one
        thread = threading.Thread(target=lambda: instance.report_runless_asset_event(dg.AssetMaterialization("side", partition="x")))
        thread.start()
        thread.join()
        return events, states, instance.get_latest_materialization_event(dg.AssetKey("side")).dagster_event.partition
    finally:
        ephemeral.keep_connections(True)


def test_kept_connections_store_and_read_what_the_stock_storage_does(tmp_path):
    assert ephemeral.InMemoryEventLogStorage._connect is ephemeral._kept_connect  # conftest installed it for the session
    kept, stock = _stored(tmp_path, True), _stored(tmp_path, False)
    kept_events, kept_states, kept_side = kept
    stock_events, stock_states, stock_side = stock
    assert kept_events == stock_events and len(kept_events) > 100
    assert {e[0] for e in kept_events} >= {dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.ASSET_MATERIALIZATION}
    assert kept_states == stock_states
    assert {row[-1] for row in kept_states} >= {State.PASSED.value, State.FAILED.value}  # BAD's usage_rate failed
    assert kept_side == stock_side == "x"



def _rows_after_a_failed_write(keep: bool) -> int:
    ephemeral.keep_connections(keep)
    try:
        storage = dg.DagsterInstance.ephemeral().event_log_storage
        with storage.index_connection() as conn:
            conn.execute(db.text("create table half_done (x int)"))
        with pytest.raises(RuntimeError, match="inside"):
            with storage.index_connection() as conn:
                conn.execute(db.text("insert into half_done values (1)"))
                raise RuntimeError("failed inside the transaction")
        with storage.index_connection() as conn:  # the kept connection again, its transaction rolled back
            return conn.execute(db.text("select count(*) from half_done")).scalar()
    finally:
        ephemeral.keep_connections(True)


def test_a_write_that_fails_inside_a_kept_connection_is_rolled_back_and_the_connection_still_serves():
    assert _rows_after_a_failed_write(True) == _rows_after_a_failed_write(False) == 0
