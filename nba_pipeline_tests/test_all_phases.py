"""A whole season through every phase on the embedded default: predictions and grading with their metrics."""

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.checks import names
from nba_pipeline.predictions.predict import NO_MODEL
from nba_pipeline_tests.conftest import EVERY_PHASE, read_table, run_range, run_results, shipped_instance

SEASON = ("2023-10-24", "2024-04-14")


@pytest.fixture(scope="module")
def season_run(tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp("season") / "warehouse.duckdb")
    with shipped_instance() as instance:
        return warehouse, run_range(warehouse, *SEASON, assets=EVERY_PHASE, instance=instance)


def _metadata(result, asset: str) -> dict:
    event = next(m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == asset)
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_every_blocking_check_passes_over_the_season(season_run):
    _, result = season_run
    assert result.success
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in run_results(result) if not e.passed]
    assert set(failed) <= {("player_game_summary", names.SHOT_ZONE_COVERAGE)}  # the one warning-only check
    composite = next(
        e for e in run_results(result)
        if e.asset_key.to_user_string() == "player_composite_factors" and e.check_name == names.USAGE_L7_POPULATED
    )
    assert composite.metadata["status"].value.startswith("skipped: bootstrap, ")
    assert composite.metadata["dates_skipped_bootstrap"].value >= 5


def test_one_prediction_per_points_line_and_every_final_game_graded(season_run):
    warehouse, _ = season_run
    lines = read_table(warehouse, "raw.prop_lines")
    predictions = read_table(warehouse, "predictions.points_prop_predictions")
    graded = read_table(warehouse, "predictions.prediction_grading")
    assert len(predictions) == len(lines) > 15_000
    # walk-forward: every date after the first model's cutoff is predicted by a model trained strictly before it;
    # the season's first weeks have no model yet and say so
    modelled = predictions["model_version"].notna()
    assert modelled.mean() > 0.7 and predictions.loc[modelled, "predicted_points"].notna().all()
    assert (predictions.loc[modelled, "model_trained_through"] < predictions.loc[modelled, "game_date"]).all()
    first_model = predictions.loc[modelled, "model_trained_through"].min()
    assert (predictions.loc[~modelled, "game_date"] <= first_model).all()
    assert (predictions.loc[~modelled, "no_prediction_reason"] == NO_MODEL).all()
    assert set(predictions["recommendation"]) <= {"OVER", "UNDER", "PASS", "NO_PREDICTION"}
    assert graded["graded"].mean() == 1.0  # every game of a past season is final


def test_model_and_grading_metrics_are_in_asset_metadata(season_run):
    _, result = season_run
    model = _metadata(result, "points_model")
    assert model["mae"] > 0 and model["baseline_mae_10_game_avg"] > 0 and "10-game" in model["walk_forward"]
    assert model["models"] >= 5  # one per two-week cutoff of the season
    grading = _metadata(result, "prediction_grading")
    for key in ("out_of_sample_hit_rate", "out_of_sample_mae", "baseline_hit_rate", "baseline_mae", "by_season", "by_confidence_bucket"):
        assert key in grading
    assert 0 < grading["out_of_sample_hit_rate"] < 1 and grading["out_of_sample_predictions"] > 1000
    assert 0 < grading["baseline_hit_rate"] < 1 and grading["baseline_mae"] > 0
    assert "| confidence / line source |" in grading["by_confidence_bucket"] and "| 2023-24 / simulated |" in grading["by_season"]
    assert "| season / line source | predictions | bets | hit rate | 10-game hit rate | MAE | 10-game MAE |" in grading["by_season"]
    # the simple averages on the same rows, the verdict only when earned, calibration of P(OVER) with its plot
    best = grading["best_simple_baseline_mae"]
    assert grading["beats_best_simple_baseline"] == (grading["out_of_sample_mae_compared"] < best)
    assert grading["verdict"].startswith("beats" if grading["beats_best_simple_baseline"] else "does not beat")
    assert "| month |" in grading["mae_by_month"] and "| expected minutes |" in grading["mae_by_minutes"]
    assert 0 < grading["brier_simulated"] < 0.3 and "| simulated |" in grading["reliability"]
    assert grading["reliability_plot"].startswith("```\nsimulated: P = mean predicted P(OVER)")
    # numeric, so the UI plots them: the model's over time, grading's per partition (date and season figures)
    raw = {m.asset_key.to_user_string(): m.materialization.metadata for m in result.get_asset_materialization_events()}
    for key in ("mae", "baseline_mae_10_game_avg", "baseline_mae_ewma_10", "calibration_slope"):
        assert isinstance(raw["points_model"][key], dg.FloatMetadataValue), key
    late = next(m.materialization.metadata for m in result.get_asset_materialization_events()
                if m.asset_key.to_user_string() == "prediction_grading" and m.partition == "2024-04-10")
    assert 0 < late["date_hit_rate"].value < 1 and late["date_mae"].value > 0
    assert late["season_hit_rate"].value == pytest.approx(grading["out_of_sample_hit_rate"])


def test_composite_factors_cover_every_points_line_and_almost_every_player_who_played(season_run):
    """Rows are the pre-game slate (was: every player who played): every line has one, and nearly everyone who
    went on to play was expected (the others: season debuts without a line, players just traded)."""
    warehouse, _ = season_run
    pgs = read_table(warehouse, "analytics.player_game_summary")
    lines = read_table(warehouse, "raw.prop_lines")
    factors = read_table(warehouse, "precompute.player_composite_factors")
    keys = factors.set_index(["game_date", "player_id"]).index
    assert lines.set_index(["game_date", "player_id"]).index.isin(keys).all()
    played = pgs[pgs["played"]].set_index(["game_date", "player_id"]).index
    assert played.isin(keys).mean() > 0.98
    outside = factors[factors["games_before"] >= 7]
    assert outside["avg_usage_rate_last_7_games"].notna().mean() > 0.97
    assert pd.api.types.is_bool_dtype(factors["l7_is_complete"])
