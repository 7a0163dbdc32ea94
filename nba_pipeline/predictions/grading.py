"""prediction_grading: each prediction against what happened once the game is final."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.metadata import Measure, by_date_and_season, markdown_table
from nba_pipeline.predictions.predict import POINTS_PROP_PREDICTIONS

GRADED_RESULTS = ("WIN", "LOSS", "PUSH", "VOID", "NO_BET")

PREDICTION_GRADING = {
    **POINTS_PROP_PREDICTIONS,
    "game_final": schemas.BOOL,
    "played": schemas.BOOL,
    "actual_points": schemas.INT,
    "abs_error": schemas.FLOAT,
    "result": schemas.STR,
    "graded": schemas.BOOL,
    "baseline_abs_error": schemas.FLOAT,
    "baseline_result": schemas.STR,
}


def grade_predictions(predictions: pd.DataFrame, player_game_summary: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
    """WIN/LOSS/PUSH for OVER/UNDER calls, NO_BET for a PASS, VOID when the player did not play, PENDING until final."""
    final_ids = schedule.loc[schedule["game_status"] == "Final", "game_id"]
    actual = player_game_summary[["game_date", "player_id", "pts", "played"]].drop_duplicates(["game_date", "player_id"])
    g = predictions.merge(actual, on=["game_date", "player_id"], how="left")
    g["game_final"] = g["game_id"].isin(final_ids).astype("boolean")
    played = g["played"].fillna(False).astype(bool)
    g["actual_points"] = g["pts"].where(played & g["game_final"])
    g["abs_error"] = (g["predicted_points"] - g["actual_points"]).abs()
    actual_pts = g["actual_points"].astype("Float64")
    over = (actual_pts > g["prop_line"]).to_numpy(dtype=bool, na_value=False)
    push = (actual_pts == g["prop_line"]).to_numpy(dtype=bool, na_value=False)
    call = g["recommendation"].to_numpy()
    won = ((call == "OVER") & over) | ((call == "UNDER") & ~over & ~push)
    g["result"] = np.select(
        [~g["game_final"].to_numpy(dtype=bool), ~played.to_numpy(), ~np.isin(call, ["OVER", "UNDER"]), push, won],
        ["PENDING", "VOID", "NO_BET", "PUSH", "WIN"],
        default="LOSS",
    )
    g["graded"] = g["result"].isin(GRADED_RESULTS).astype("boolean")
    # the naive baseline (10-game average, else season average) graded on the same lines: OVER when above the line
    g["baseline_abs_error"] = (g["baseline_points"] - g["actual_points"]).abs()
    base_call = np.where((g["baseline_points"] > g["prop_line"]).to_numpy(dtype=bool, na_value=False), "OVER", "UNDER")
    base_won = ((base_call == "OVER") & over) | ((base_call == "UNDER") & ~over & ~push)
    g["baseline_result"] = np.select(
        [~g["game_final"].to_numpy(dtype=bool), ~played.to_numpy(), g["baseline_points"].isna().to_numpy(), push, base_won],
        ["PENDING", "VOID", "NO_BET", "PUSH", "WIN"],
        default="LOSS",
    )
    return schemas.conform(g, PREDICTION_GRADING, "prediction_grading")


def _scores(graded: pd.DataFrame) -> pd.Series:
    """Hit rate over decided bets and MAE over players who played, for the model and the naive baseline."""
    bets = graded["result"].isin(["WIN", "LOSS"])
    base_bets = graded["baseline_result"].isin(["WIN", "LOSS"])
    return pd.Series(
        {
            "predictions": len(graded),
            "bets": int(bets.sum()),
            "hit_rate": float((graded.loc[bets, "result"] == "WIN").mean()) if bets.any() else float("nan"),
            "baseline_hit_rate": float((graded.loc[base_bets, "baseline_result"] == "WIN").mean()) if base_bets.any() else float("nan"),
            "mae": float(graded["abs_error"].astype(float).mean()),
            "baseline_mae": float(graded.loc[graded["abs_error"].notna(), "baseline_abs_error"].astype(float).mean()),
        }
    )


def _score_table(graded: pd.DataFrame, by: str, label: str) -> str:
    scores = graded.groupby(by, dropna=False)[list(graded.columns)].apply(_scores) if len(graded) else pd.DataFrame()
    rows = [
        [str(key), int(r.predictions), int(r.bets), f"{r.hit_rate:.3f}", f"{r.baseline_hit_rate:.3f}", f"{r.mae:.2f}", f"{r.baseline_mae:.2f}"]
        for key, r in scores.iterrows()
    ]
    return markdown_table([label, "predictions", "bets", "hit rate", "baseline hit rate", "MAE", "baseline MAE"], rows)


def grading_summary(graded: pd.DataFrame) -> dict[str, float | int | str]:
    """Out of sample by construction (walk-forward): hit rate and MAE of the model against the naive baseline
    (10-game, else season average, calling OVER when above the line) on the same lines — overall, and as markdown
    tables by season and by confidence bucket."""
    oos = graded[graded["out_of_sample"].fillna(False)]
    overall = _scores(oos)
    return {
        "predictions": len(graded),
        "graded": int(graded["graded"].sum()),
        "bets": int(graded["result"].isin(["WIN", "LOSS"]).sum()),
        "out_of_sample_predictions": len(oos),
        "out_of_sample_hit_rate": overall["hit_rate"],
        "baseline_hit_rate": overall["baseline_hit_rate"],
        "out_of_sample_mae": overall["mae"],
        "baseline_mae": overall["baseline_mae"],
        "by_season": _score_table(oos, "season", "season"),
        "by_confidence_bucket": _score_table(oos, "confidence_bucket", "confidence"),
    }


def grading_by_date(graded: pd.DataFrame) -> pd.DataFrame:
    """The summary's out-of-sample hit rate and MAE, model and baseline, per date and season (plotted in the UI)."""
    oos = graded["out_of_sample"].fillna(False).astype(bool)
    bets, base_bets = graded["result"].isin(["WIN", "LOSS"]), graded["baseline_result"].isin(["WIN", "LOSS"])
    played = graded["abs_error"].notna()
    return by_date_and_season(graded["game_date"], {
        "hit_rate": Measure(graded["result"] == "WIN", oos & bets, scale=1.0),
        "baseline_hit_rate": Measure(graded["baseline_result"] == "WIN", oos & base_bets, scale=1.0),
        "mae": Measure(graded["abs_error"], oos & played, scale=1.0),
        "baseline_mae": Measure(graded["baseline_abs_error"], oos & played, scale=1.0),
    })
