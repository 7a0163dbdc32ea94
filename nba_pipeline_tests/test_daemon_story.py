"""The original team's night, played through a real `dagster dev` (webserver + daemon, queued runs, automation).

1. A range backfill of raw + analytics with the game-id fault on one date: usage_rate fails there; automation
   builds composite factors (and what follows) for the clean dates and the bad date itself (its pre-game rows read
   box scores only up to the day before) — not the later dates whose windows read it. An explicit launch on a
   blocked date is refused by name.
2. The fault fixed and the bad date re-materialized: automation rebuilds the blocked dates by itself, and the
   final tables equal a clean in-process run's, row for row.
3. Two overlapping backfills launched at once never write at the same time, and end equal to a serial execution.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from nba_pipeline.checks import names
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline_tests.conftest import run_range
from nba_pipeline_tests.dagster_dev import start_dagster_dev, stop_dagster_dev

RAW = ["schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines"]
ANALYTICS = ["team_offense_game_summary", "team_defense_game_summary", "player_game_summary"]
FOLLOWERS = ["player_composite_factors", "player_daily_cache", "ml_feature_store"]
START, BAD, END = "2021-10-19", "2021-10-23", "2021-10-27"
TABLES = [f"raw.{t}" for t in RAW] + [f"analytics.{t}" for t in ANALYTICS] + [
    "precompute.player_composite_factors", "precompute.player_daily_cache", "ml.ml_feature_store"
]


def _dates(first: str, last: str) -> list[str]:
    days = pd.date_range(first, last)
    return [d.strftime("%Y-%m-%d") for d in days]


def _materialized(instance: dg.DagsterInstance, asset: str) -> set[str]:
    return set(instance.get_materialized_partitions(dg.AssetKey(asset)))


def _tables(warehouse, tables) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {t: conn.execute(f"select * from {t}").fetchdf() for t in tables}


def _assert_same_rows(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for table, frame in expected.items():
        got = actual[table]
        assert len(got) == len(frame), table
        order = list(frame.columns)
        pd.testing.assert_frame_equal(
            got[order].sort_values(order).reset_index(drop=True), frame.sort_values(order).reset_index(drop=True), obj=table
        )


@pytest.fixture
def dev(tmp_path):
    dev = start_dagster_dev(tmp_path)
    yield dev
    stop_dagster_dev(dev)


def test_the_night_gating_automation_and_the_fix(dev, tmp_path):
    fault = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
    dev.faults_file.write_text(yaml.safe_dump(fault.model_dump()))
    backfill = dev.launch_backfill(RAW + ANALYTICS, _dates(START, END))
    dev.wait_for_backfill(backfill)

    clean = set(_dates(START, "2021-10-22"))
    pre_game = clean | {BAD}  # the bad date's slate reads box scores of the days before it only
    dev.wait_until_quiet(lambda i: all(_materialized(i, a) == pre_game for a in FOLLOWERS))
    instance = dev.instance
    usage = dg.AssetCheckKey(dg.AssetKey("player_game_summary"), names.USAGE_RATE_POPULATED)
    per_date = {i.partition_key: i.latest_execution_status.value for i in instance.event_log_storage.get_asset_check_partition_info([usage]) if i.partition_key}
    assert per_date[BAD] == "FAILED" and all(per_date[d] == "SUCCEEDED" for d in clean)
    for asset in FOLLOWERS:  # nothing after the bad date: their windows read it
        assert _materialized(instance, asset) == pre_game, asset

    refused = dev.launch_backfill(["player_composite_factors"], [END])  # a user insists on a blocked date
    dev.wait_for_backfill(refused)
    run = next(r for r in dev.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": refused})))
    failures = [e.dagster_event.step_failure_data.user_failure_data for e in dev.instance.all_logs(run.run_id)
                if e.dagster_event and e.dagster_event.is_step_failure]
    assert f"player_game_summary failed {names.USAGE_RATE_POPULATED} on {BAD}" in failures[0].description
    assert _materialized(dev.instance, "player_composite_factors") == pre_game

    dev.faults_file.write_text(yaml.safe_dump(SimulatorFaults().model_dump()))  # the feed is fixed
    fix = dev.launch_backfill(RAW + ANALYTICS, [BAD])
    assert dev.wait_for_backfill(fix) in ("COMPLETED", "COMPLETED_SUCCESS")
    everything = set(_dates(START, END))
    dev.wait_until_quiet(lambda i: all(_materialized(i, a) == everything for a in FOLLOWERS))
    failed = [i for i in dev.instance.event_log_storage.get_asset_check_partition_info([usage]) if i.latest_execution_status.value == "FAILED" and i.partition_key]
    assert not failed

    stop_dagster_dev(dev)  # release the warehouse before reading it
    reference = tmp_path / "clean.duckdb"
    from nba_pipeline.definitions import ALL_ASSETS

    clean_run = run_range(str(reference), START, END, assets=[a for a in ALL_ASSETS if a.key.to_user_string() in RAW + ANALYTICS + FOLLOWERS])
    assert clean_run.success
    _assert_same_rows(_tables(dev.warehouse, TABLES), _tables(reference, TABLES))


def test_overlapping_backfills_wait_for_each_other_and_end_as_a_serial_run(dev, tmp_path):
    first, second = _dates("2021-10-19", "2021-11-02"), _dates("2021-10-26", "2021-11-09")
    ids = [dev.launch_backfill(RAW + ANALYTICS, first), dev.launch_backfill(RAW + ANALYTICS, second)]
    for backfill in ids:
        assert dev.wait_for_backfill(backfill) in ("COMPLETED", "COMPLETED_SUCCESS")
    dev.wait_until_quiet(lambda i: True)

    instance = dev.instance
    intervals = []
    for run in instance.get_runs(filters=dg.RunsFilter(tags={})):
        if run.tags.get("dagster/backfill") not in ids:
            continue
        starts = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[event.step_key] = record.timestamp
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                intervals.append((starts[event.step_key], record.timestamp, run.run_id, event.step_key))
    assert len({run for *_, run, _ in intervals}) >= 2
    intervals.sort()
    for (s1, e1, r1, k1), (s2, e2, r2, k2) in zip(intervals, intervals[1:]):
        assert s2 >= e1 - 0.5, f"{k1} ({r1[:8]}) and {k2} ({r2[:8]}) wrote the warehouse at the same time"

    stop_dagster_dev(dev)
    serial = tmp_path / "serial.duckdb"
    assert run_range(str(serial), first[0], first[-1]).success and run_range(str(serial), second[0], second[-1]).success
    tables = [f"raw.{t}" for t in RAW] + [f"analytics.{t}" for t in ANALYTICS]
    _assert_same_rows(_tables(dev.warehouse, tables), _tables(serial, tables))
