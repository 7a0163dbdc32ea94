"""Grading rules on hand-made predictions: each result, coverage of final games."""

import pandas as pd

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
    assert "| 2023-24 | 6 | 2 | 0.500 | 0.667 |" in summary["by_season"]
    # the same numbers on the date's own materialization, for the UI's plots over partitions
    per_date = grading_by_date(graded).loc[f"{DAY:%Y-%m-%d}"]
    assert per_date["date_hit_rate"] == summary["out_of_sample_hit_rate"]
    assert per_date["date_baseline_hit_rate"] == summary["baseline_hit_rate"]
    assert per_date["date_mae"] == summary["out_of_sample_mae"] and per_date["date_baseline_mae"] == summary["baseline_mae"]
