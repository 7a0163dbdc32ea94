"""Gating across runs: per-date check records from range runs, refusal on explicit launches, and automation that
rebuilds exactly the dates whose upstream passed — then the dates that read a fixed upstream date."""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus as Status,
)

from nba_pipeline.checks import names
from nba_pipeline.definitions import build_definitions
from nba_pipeline.precompute.assets import player_composite_factors
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline_tests.conftest import EVERY_PHASE, run_range
from nba_pipeline_tests.postgres import persistent_instance

START, BAD, END = "2021-10-19", "2021-10-22", "2021-10-25"
USAGE = dg.AssetCheckKey(dg.AssetKey("player_game_summary"), names.USAGE_RATE_POPULATED)
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
DOWNSTREAM = ["player_composite_factors", "player_daily_cache", "ml_feature_store"]


def _dates(first: str, last: str) -> set[str]:
    day, out = dt.date.fromisoformat(first), set()
    while day <= dt.date.fromisoformat(last):
        out.add(day.isoformat())
        day += dt.timedelta(days=1)
    return out


def _statuses(instance, key) -> dict[str, Status]:
    infos = instance.event_log_storage.get_asset_check_partition_info([key])
    return {i.partition_key: i.latest_execution_status for i in infos if i.partition_key}


@pytest.fixture(params=["ephemeral", "production"])
def night(request, warehouse, tmp_path):
    """The original team's night, in-process: a range run of raw + analytics with the game-id fault on one date.
    On an ephemeral instance, then on the production one (deploy/production/dagster.yaml: check records, runs and
    automation state in PostgreSQL, a fresh database) — the gate reads the same verdicts from either."""
    if request.param == "production":
        request.getfixturevalue("postgres_url")
        instance = persistent_instance(tmp_path / "dagster_home", "production")
    else:
        instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions("local", warehouse_path=warehouse)
    first_tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    result = run_range(warehouse, START, END, faults=FAULT, instance=instance)
    yield instance, defs, first_tick, result
    instance.dispose()


def test_a_range_run_records_each_dates_verdict(night):
    instance, _, _, result = night
    assert result.success  # the bad date is stopped per date: the run itself goes on
    statuses = _statuses(instance, USAGE)
    assert statuses[BAD] == Status.FAILED
    assert {d for d, s in statuses.items() if s == Status.SUCCEEDED} == _dates(START, END) - {BAD}


def test_an_explicit_launch_on_a_failed_upstream_date_is_refused_by_name(night, warehouse):
    instance, _, _, _ = night
    result = dg.materialize(
        EVERY_PHASE,
        selection=[player_composite_factors],
        partition_key=END,  # its windows read the failed date
        resources=resources_for("local", warehouse_path=warehouse),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data
    assert f"player_game_summary failed {names.USAGE_RATE_POPULATED} on {BAD}" in failure.description
    assert not instance.get_materialized_partitions(dg.AssetKey("player_composite_factors"))


def test_automation_rebuilds_clean_dates_now_and_the_rest_once_the_bad_date_is_fixed(night, warehouse):
    instance, defs, first_tick, _ = night
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first_tick.cursor)
    # the bad date's own pre-game rows read box scores only up to the day before, so it is built too; every later
    # date reads the bad date and waits
    for asset in DOWNSTREAM:
        assert tick.get_requested_partitions(dg.AssetKey(asset)) == _dates(START, BAD), asset
    assert not tick.get_requested_partitions(dg.AssetKey("points_prop_predictions"))  # no model yet

    fixed = run_range(warehouse, BAD, BAD, instance=instance)  # fixed; a one-date range, as backfills launch it
    assert fixed.success and _statuses(instance, USAGE)[BAD] == Status.SUCCEEDED
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    # the dates whose windows read the fixed box scores; the bad date itself was requested on the previous tick
    assert after.get_requested_partitions(dg.AssetKey("player_composite_factors")) == _dates("2021-10-23", END)
