"""Game day: every points line of a date is predicted before tip-off, from pre-game feeds and earlier box scores.

Two warehouses share the same history (built once, then copied) (raw + analytics + precompute + ml for 2023-10-24..2023-12-15, and a model
trained on it). For the predicted date, one has only what exists on its morning (schedule with no game final,
injury report, lines); the other also has the date's box scores and analytics. The pre-game phases run on both
and must produce the same rows.
"""

import shutil

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.analytics.assets import analytics_assets
from nba_pipeline.definitions import ALL_ASSETS
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.resources import resources_for
from nba_pipeline.sources import SimulatedLeagueSource
from nba_pipeline_tests.conftest import read_table, shipped_instance

HISTORY = ("2023-10-24", "2023-12-15")
DAY = "2023-12-16"
MORNING = "2023-12-16T10:00:00"  # lines and injury report are out, no game has tipped off
PRE_GAME_FEEDS = ["schedule", "injury_report", "prop_lines"]
PRE_GAME_PHASES = ["player_composite_factors", "player_daily_cache", "ml_feature_store", "points_prop_predictions"]
RAW_AND_ANALYTICS = [a.key.to_user_string() for a in (*raw_assets, *analytics_assets)]
TRAINING = [*RAW_AND_ANALYTICS, "player_composite_factors", "player_daily_cache", "ml_feature_store", "points_model"]


def _materialize(warehouse: str, instance: dg.DagsterInstance, names: list[str], start: str, end: str | None = None, as_of=None):
    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = SimulatedLeagueSource(as_of=as_of)
    kwargs = {"partition_key": start} if end is None else {
        "tags": {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    }
    result = dg.materialize(
        ALL_ASSETS, selection=dg.AssetSelection.assets(*names), resources=resources, instance=instance,
        raise_on_error=False, **kwargs,
    )
    failures = [e.step_failure_data.user_failure_data for e in result.all_events if e.is_step_failure]
    assert result.success, [f.description if f else None for f in failures]
    failed_checks = [(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed]
    return result, failed_checks


def _morning(warehouse: str, instance: dg.DagsterInstance) -> None:
    _materialize(warehouse, instance, TRAINING, *HISTORY)
    _materialize(warehouse, instance, PRE_GAME_FEEDS, DAY, as_of=MORNING)  # the morning: what is out before tip-off


def _game_day(warehouse: str, instance: dg.DagsterInstance, with_box_scores: bool) -> str:
    if with_box_scores:  # the date's games are over: its box scores and analytics are in too
        post_game = [a for a in RAW_AND_ANALYTICS if a not in ("prop_lines", "injury_report", "referee_assignments")]
        _materialize(warehouse, instance, post_game, DAY)
    _, failed = _materialize(warehouse, instance, PRE_GAME_PHASES, DAY)
    assert set(failed) <= {("player_game_summary", "shot_zone_coverage")}, failed
    return warehouse


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    """The history and the morning are built once; the 'after' warehouse starts as a copy of them (its folder: the
    DuckDB file, its Parquet read copy and its models), on the same instance, once 'before' is done."""
    tmp = tmp_path_factory.mktemp("game_day")
    before, after = tmp / "before", tmp / "after"
    with shipped_instance() as instance:
        _morning(str(before / "warehouse.duckdb"), instance)
        shutil.copytree(before, after)
        return (_game_day(str(before / "warehouse.duckdb"), instance, with_box_scores=False),
                _game_day(str(after / "warehouse.duckdb"), instance, with_box_scores=True))


def _on_day(warehouse: str, table: str, key: list[str]) -> pd.DataFrame:
    frame = read_table(warehouse, table)
    frame = frame[frame["game_date"] == pd.Timestamp(DAY)]
    return frame.sort_values(key).reset_index(drop=True)


def test_every_line_is_predicted_before_tip_off(warehouses):
    before, _ = warehouses
    schedule = _on_day(before, "raw.schedule", ["game_id"])
    assert len(schedule) > 0 and (schedule["game_status"] != "Final").all()  # no game of the date has finished
    for table in ("raw.player_boxscores", "raw.team_boxscores", "raw.shot_zones", "analytics.player_game_summary",
                  "analytics.team_defense_game_summary"):
        assert _on_day(before, table, ["game_id"]).empty, f"{table} has rows of {DAY}"
    lines = _on_day(before, "raw.prop_lines", ["player_id"])
    predictions = _on_day(before, "predictions.points_prop_predictions", ["player_id"])
    assert len(lines) > 50 and predictions["player_id"].tolist() == lines["player_id"].tolist()
    assert predictions["predicted_points"].notna().all()
    assert set(predictions["recommendation"]) <= {"OVER", "UNDER", "PASS"}


def test_the_predictions_do_not_depend_on_the_dates_box_scores(warehouses):
    before, after = warehouses
    assert not _on_day(after, "analytics.player_game_summary", ["game_id", "player_id"]).empty
    key = ["player_id"]
    for table in ("precompute.player_composite_factors", "precompute.player_daily_cache", "ml.ml_feature_store"):
        rows = _on_day(before, table, key)
        assert len(rows) > 100, table
        pd.testing.assert_frame_equal(rows, _on_day(after, table, key), check_exact=True)
    run_specific = ["predicted_in_run"]  # two warehouses, two runs: everything else is equal
    pd.testing.assert_frame_equal(
        _on_day(before, "predictions.points_prop_predictions", key).drop(columns=run_specific),
        _on_day(after, "predictions.points_prop_predictions", key).drop(columns=run_specific),
    )
