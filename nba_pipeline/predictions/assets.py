"""Prediction assets: calls for every points line of a date, then their grades once the games are final."""

import dagster as dg
import pandas as pd

from nba_pipeline.plumbing.automation import gated_eager
from nba_pipeline.config import Thresholds
from nba_pipeline.ml.model import WalkForwardModels
from nba_pipeline.predictions import checks, grading, predict
from nba_pipeline.predictions.grading import grade_predictions, grading_by_date, grading_summary
from nba_pipeline.predictions.predict import predict_props
from nba_pipeline.raw.lines import current_lines
from nba_pipeline.tables import Table, published_table


@published_table(
    "predictions",
    checks.PREDICTION_RULES,
    code=[predict],
    # a retrained model does not re-predict history
    automation_condition=gated_eager(ignore=dg.AssetSelection.assets("points_model")),
)
def points_prop_predictions(
    context: dg.AssetExecutionContext,
    prop_lines: pd.DataFrame,
    ml_feature_store: pd.DataFrame,
    points_model: WalkForwardModels,
    limits: Thresholds,
    previous: pd.DataFrame | None,
) -> Table:
    """One row per player with a points line per game date: predicted points, the line, its source (vendor,
    synthetic, simulated), price and the snapshot it was posted in, P(OVER), OVER/UNDER only where that probability
    clears the price's break-even (else PASS; a placeholder line is never called), the simple averages, the model version and the run that predicted it.
    The model is the latest of ml.points_model's walk-forward series trained strictly before the date. Re-run after
    a line refresh, a row keeps its earlier prediction unless its line, model or features changed. Source: the
    date's raw.prop_lines (latest snapshot) and ml.ml_feature_store (both pre-game), ml.points_model. Exists for
    a date before its games tip off (after each `line_refresh_*`); nothing in it reads the date's box scores."""
    lines = current_lines(prop_lines)
    frame = predict_props(
        lines, ml_feature_store, points_model, limits.points_prop_predictions.min_edge_points,
        run_id=context.run.run_id, previous=previous,
    )
    calls = frame["recommendation"].value_counts()
    predicted_now = frame["predicted_in_run"] == context.run.run_id
    return Table(
        frame,
        metadata={
            **{f"calls_{c.lower()}": int(calls.get(c, 0)) for c in ("OVER", "UNDER", "PASS", "NO_PREDICTION")},
            "predicted_in_this_run": int(predicted_now.sum()),
            "kept_unchanged": int((~predicted_now).sum()),
            "models_used": ", ".join(sorted(frame["model_version"].dropna().unique())[-5:]) or "none",
        },
        reference={checks.PROP_LINES: lines},
    )


@published_table("predictions", checks.GRADING_RULES, code=[grading])
def prediction_grading(
    points_prop_predictions: pd.DataFrame, player_game_summary: pd.DataFrame, schedule: pd.DataFrame
) -> Table:
    """One row per prediction once its game is final: actual points, absolute error, WIN/LOSS/PUSH/VOID/NO_BET, whether
    it went over, and the 10-game average graded on the same line. Metadata, out of sample: the model's MAE against
    the 10-game average, the season average and the EWMA on the same rows (overall, by season, minutes bucket and
    month; "beats the best simple baseline" only when it does), OVER and UNDER picks per line source (never mixed;
    hit rate against the market on vendor lines only), the reliability table, Brier score and plot of P(OVER). Source: predictions.points_prop_predictions,
    analytics.player_game_summary, raw.schedule."""
    frame = grade_predictions(points_prop_predictions, player_game_summary, schedule)
    summary = grading_summary(frame)
    tables = {k: dg.MetadataValue.md(summary.pop(k)) for k in grading.MARKDOWN_KEYS}
    return Table(frame, metadata={**summary, **tables}, schedule=schedule, by_date=grading_by_date(frame))


prediction_assets = [points_prop_predictions, prediction_grading]
