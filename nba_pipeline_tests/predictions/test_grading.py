"""Grading rules on hand-made predictions: each result, coverage of final games."""

import pandas as pd
import pytest

from nba_pipeline.predictions.grading import grade_predictions, grading_by_date, grading_summary
from nba_pipeline.predictions.predict import POINTS_PROP_PREDICTIONS

DAY = pd.Timestamp("2024-01-15")


def test_each_result_is_graded_by_its_rule():
    predictions = pd.DataFrame(
        {
            "game_id": ["g1", "g1", "g1", "g1", "g1", "g2"],
            "game_date": DAY,
            "player_id": [1, 2, 3, 4, 5, 6],
            "prop_line": [20.5, 20.5, 20.0, 15.5, 10.5, 12.5],
            "predicted_points": [24.0, 24.0, 23.0, 16.0, 14.0, 15.0],
            "recommendation": ["OVER", "OVER", "OVER", "PASS", "OVER", "OVER"],
            "confidence": [0.7, 0.7, 0.6, 0.5, 0.7, 0.6],
            "confidence_bucket": ["0.70-1.00", "0.70-1.00", "0.60-0.65", "0.50-0.55", "0.70-1.00", "0.60-0.65"],
            "out_of_sample": True,
            "baseline_points": [22.0, 19.0, 21.0, 14.0, 10.0, 13.0],
            "baseline_season_avg": [20.0, 20.0, 20.0, 20.0, 20.0, 20.0],
            "baseline_ewma_10": [24.0, 19.0, 20.0, 16.0, 10.0, 13.0],
            "expected_minutes": [34.0, 30.0, 20.0, 10.0, 20.0, 20.0],
            "p_over": [0.6, 0.6, 0.55, 0.5, 0.6, 0.55],
            "break_even": [0.524, 0.524, 0.524, None, 0.524, 0.524],
            "line_source": "synthetic",
            "season": "2023-24",
        }
    ).reindex(columns=list(POINTS_PROP_PREDICTIONS))
    pgs = pd.DataFrame(
        {
            "game_date": DAY,
            "player_id": [1, 2, 3, 4, 5, 6],
            "pts": [25, 18, 20, 30, pd.NA, 30],
            "played": [True, True, True, True, False, True],
        }
    )
    schedule = pd.DataFrame({"game_id": ["g1", "g2"], "game_status": ["Final", "Scheduled"]})
    graded = grade_predictions(predictions, pgs, schedule)
    assert list(graded["result"]) == ["WIN", "LOSS", "PUSH", "NO_BET", "VOID", "PENDING"]
    assert list(graded["graded"]) == [True, True, True, True, True, False]
    # the naive baseline on the same lines: 22 > 20.5 OVER wins, 19 < 20.5 UNDER wins, 21 vs 20 pushes, 14 < 15.5 UNDER loses
    assert list(graded["baseline_result"]) == ["WIN", "WIN", "PUSH", "LOSS", "VOID", "PENDING"]
    summary = grading_summary(graded)
    assert summary["bets"] == 2 and summary["out_of_sample_hit_rate"] == 0.5
    assert summary["baseline_hit_rate"] == 2 / 3
    assert summary["out_of_sample_mae"] == (1 + 6 + 3 + 14) / 4
    assert summary["baseline_mae"] == (3 + 1 + 1 + 16) / 4
    assert "| 2023-24 / synthetic | 6 | 2 | 0.500 | 0.667 |" in summary["by_season"]
    # the simple averages on the same rows (the four played, final ones): 10-game, season, EWMA
    assert summary["compared_rows"] == 4
    assert summary["baseline_mae_10_game_avg"] == (3 + 1 + 1 + 16) / 4
    assert summary["baseline_mae_season_avg"] == (5 + 2 + 0 + 10) / 4
    assert summary["baseline_mae_ewma_10"] == (1 + 1 + 0 + 14) / 4
    assert summary["best_simple_baseline"] == "ewma_10" and not summary["beats_best_simple_baseline"]  # 6.0 vs 4.0
    assert summary["verdict"].startswith("does not beat the best simple baseline (ewma_10)")
    assert "| 2024-01 | 4 | 6.000 | 5.250 | 4.250 | 4.000 | ewma_10 | no |" in summary["mae_by_month"]
    assert "| 15-25 min | 1 | 3.000 |" in summary["mae_by_minutes"] and "| 32-60 min | 1 | 1.000 |" in summary["mae_by_minutes"]
    # picks by side and source: two OVER bets decided (one won), the push and the VOID not
    assert summary["over_picks_synthetic"] == 5 and summary["over_hit_rate_synthetic"] == 0.5
    assert summary["hit_rate_against_the_market"].startswith("n/a")  # no vendor line: no market to beat
    # reliability on the rows with an outcome (the push has none): P(OVER) 0.6, 0.6, 0.5 against over, under, over
    assert summary["calibration_rows_synthetic"] == 3
    assert summary["brier_synthetic"] == pytest.approx((0.4**2 + 0.6**2 + 0.5**2) / 3)
    assert summary["brier_constant_synthetic"] == pytest.approx(((1 / 3) ** 2 * 2 + (2 / 3) ** 2) / 3)
    assert "| synthetic | [0.5, 0.55) | 1 | 0.500 | 1.000 |" in summary["reliability"]
    plot = summary["reliability_plot"]
    assert plot.startswith("```") and "[0.5, 0.55) |" in plot and "[0.6, 0.65) |" in plot and "[0.55, 0.6)" not in plot
    row = next(line for line in plot.splitlines() if line.startswith("[0.5, 0.55)"))  # predicted 0.5, observed 1.0
    assert row.index("P") == row.index("|") + 1 + 25 and row.index("o") == row.index("|") + 1 + 50
    # the same numbers on the date's own materialization, for the UI's plots over partitions
    per_date = grading_by_date(graded).loc[f"{DAY:%Y-%m-%d}"]
    assert per_date["date_hit_rate"] == summary["out_of_sample_hit_rate"]
    assert per_date["date_baseline_hit_rate"] == summary["baseline_hit_rate"]
    assert per_date["date_mae"] == summary["out_of_sample_mae"] and per_date["date_baseline_mae"] == summary["baseline_mae"]


def test_lines_of_different_sources_are_never_mixed_and_the_market_is_only_vendor_lines():
    n = 8
    predictions = pd.DataFrame({
        "game_id": "g1", "game_date": DAY, "player_id": range(n), "prop_line": 10.5, "predicted_points": 13.0,
        "recommendation": ["OVER"] * 4 + ["UNDER"] * 4, "confidence": 0.6, "confidence_bucket": "0.60-0.65",
        "out_of_sample": True, "baseline_points": 11.0, "baseline_season_avg": 11.0, "baseline_ewma_10": 11.0,
        "p_over": 0.6, "break_even": 0.524, "season": "2023-24",
        "line_source": ["vendor", "vendor", "synthetic", "synthetic"] * 2,
    }).reindex(columns=list(POINTS_PROP_PREDICTIONS))
    pgs = pd.DataFrame({"game_date": DAY, "player_id": range(n), "pts": [12, 12, 12, 8, 12, 12, 8, 8], "played": True})
    graded = grade_predictions(predictions, pgs, pd.DataFrame({"game_id": ["g1"], "game_status": ["Final"]}))
    summary = grading_summary(graded)
    # vendor: OVER 2 of 2, UNDER 0 of 2 -> 0.5; synthetic: OVER 1 of 2, UNDER 2 of 2 -> 0.75
    assert summary["over_hit_rate_vendor"] == 1.0 and summary["under_hit_rate_vendor"] == 0.0
    assert summary["over_hit_rate_synthetic"] == 0.5 and summary["under_hit_rate_synthetic"] == 1.0
    assert summary["hit_rate_against_the_market"] == summary["hit_rate_vendor"] == 0.5
    assert summary["hit_rate_synthetic"] == 0.75
    assert pd.isna(summary["out_of_sample_hit_rate"])  # one hit rate over both sources would mix them
    assert summary["line_sources"] == "synthetic, vendor"
