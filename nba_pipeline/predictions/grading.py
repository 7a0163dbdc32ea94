"""prediction_grading: each prediction against what happened once the game is final."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.metadata import markdown_table
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
    return schemas.conform(g, PREDICTION_GRADING, "prediction_grading")


def _hit_rate_and_mae(graded: pd.DataFrame) -> tuple[float, float]:
    bets = graded[graded["result"].isin(["WIN", "LOSS"])]
    errors = graded["abs_error"].dropna().astype(float)
    return (
        float((bets["result"] == "WIN").mean()) if len(bets) else float("nan"),
        float(errors.mean()) if len(errors) else float("nan"),
    )


def grading_summary(graded: pd.DataFrame) -> dict[str, float | int | str]:
    """Hit rate over decided bets and MAE over players who played — overall, on dates the model never trained
    on (out of sample: the honest numbers), and by confidence bucket (markdown)."""
    hit_rate, mae = _hit_rate_and_mae(graded)
    oos_hit_rate, oos_mae = _hit_rate_and_mae(graded[graded["out_of_sample"].fillna(False)])
    by_bucket = graded.groupby("confidence_bucket", dropna=False).apply(
        lambda b: pd.Series(
            {
                "predictions": len(b),
                "bets": int(b["result"].isin(["WIN", "LOSS"]).sum()),
                "wins": int((b["result"] == "WIN").sum()),
                "mae": b["abs_error"].astype(float).mean(),
            }
        ),
        include_groups=False,
    )
    rows = [
        [str(bucket), int(r.predictions), int(r.bets), f"{(r.wins / r.bets if r.bets else float('nan')):.3f}", f"{r.mae:.2f}"]
        for bucket, r in by_bucket.iterrows()
    ]
    return {
        "predictions": len(graded),
        "graded": int(graded["graded"].sum()),
        "bets": int(graded["result"].isin(["WIN", "LOSS"]).sum()),
        "hit_rate": hit_rate,
        "mae": mae,
        "out_of_sample_predictions": int(graded["out_of_sample"].fillna(False).sum()),
        "out_of_sample_hit_rate": oos_hit_rate,
        "out_of_sample_mae": oos_mae,
        "by_confidence_bucket": markdown_table(["confidence", "predictions", "bets", "hit rate", "MAE"], rows),
    }
