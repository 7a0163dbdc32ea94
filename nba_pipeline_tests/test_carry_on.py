"""The dates that pass carry on: one bad date in a range run holds back exactly itself and the dates that read it,
and every other date is built through predictions in the same run (Dagster's own in-run blocking would skip
every downstream step for every date of the range: dagster-io/dagster#26854)."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.checks import names
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline_tests.conftest import EVERY_PHASE, read_table, run_range

START, BAD, END = "2021-10-19", "2022-03-01", "2022-11-30"
SEASON_ONE_END = "2022-04-10"
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
PRE_GAME = ["player_composite_factors", "player_daily_cache", "ml_feature_store", "points_prop_predictions"]


def _published(warehouse: str, asset: str) -> set[str]:
    log = read_table(warehouse, f"pipeline.publish_log where asset = '{asset}' and outcome = 'published'")
    return set(pd.to_datetime(log["game_date"]).dt.strftime("%Y-%m-%d"))


def _days(first: str, last: str) -> set[str]:
    return set(pd.date_range(first, last).strftime("%Y-%m-%d"))


@pytest.fixture(scope="module")
def two_seasons(tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp("carry_on") / "warehouse.duckdb")
    instance = dg.DagsterInstance.ephemeral()
    result = run_range(warehouse, START, END, faults=FAULT, instance=instance, assets=EVERY_PHASE)
    return warehouse, instance, result


def test_one_quarantined_date_holds_back_only_the_dates_that_read_it(two_seasons):
    warehouse, _, result = two_seasons
    assert result.success  # every step ran; the bad date is stopped per date, not per step
    assert BAD not in _published(warehouse, "player_game_summary")
    assert _published(warehouse, "player_game_summary") >= _days(START, END) - {BAD} - _days("2022-06-17", "2022-10-17")
    held = _days("2022-03-02", SEASON_ONE_END)  # season 1 after the bad date: their windows read it
    for asset in PRE_GAME:
        published = _published(warehouse, asset)
        assert BAD in published, asset  # its pre-game rows read only the days before it
        assert not (published & held), asset
        assert _days(START, "2022-02-28") <= published, asset  # the earlier dates
        assert _days("2022-10-18", END) <= published, asset  # the other season
    grading = _published(warehouse, "prediction_grading")
    assert BAD not in grading and not (grading & held) and _days("2022-10-18", END) <= grading
    predictions = read_table(warehouse, "predictions.points_prop_predictions where game_date >= '2022-10-18'")
    assert (predictions["recommendation"] != "NO_PREDICTION").mean() > 0.9  # the model trained on every readable date


def test_the_run_says_which_dates_were_held_back_and_why(two_seasons):
    _, _, result = two_seasons
    usage = next(e for e in result.get_asset_check_evaluations()
                 if e.check_name == names.USAGE_RATE_POPULATED and "dates_checked" in e.metadata)
    assert not usage.passed and usage.severity == dg.AssetCheckSeverity.WARN  # visible, and not stopping every date
    assert "held back downstream" in usage.description
    pcf = next(e for e in result.get_asset_materialization_events()
               if e.asset_key.to_user_string() == "player_composite_factors").materialization.metadata
    assert pcf["dates_held_back"].value == len(_days("2022-03-02", SEASON_ONE_END))
    assert f"| 2022-03-02 | player_game_summary | {BAD} | player_game_summary failed " in pcf["held_back"].value


def test_held_back_dates_stay_unreadable_downstream(two_seasons):
    _, instance, _ = two_seasons
    from nba_pipeline.checks.gate import blocking_problems

    problems = blocking_problems(instance, dg.AssetKey("player_composite_factors"), ["2022-03-05", "2022-10-25"], None)
    assert set(problems["game_date"]) == {"2022-03-05"}
