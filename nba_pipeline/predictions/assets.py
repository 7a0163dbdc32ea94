"""Prediction assets: calls for every points line of a date, then their grades once the games are final."""

import dagster as dg
import pandas as pd

from nba_pipeline.automation import gated_eager
from nba_pipeline.config import Thresholds
from nba_pipeline.ml.model import PointsModel
from nba_pipeline.precompute.daily_cache import POINTS_MARKET
from nba_pipeline.predictions import checks, grading, predict
from nba_pipeline.predictions.grading import grade_predictions, grading_summary
from nba_pipeline.predictions.predict import predict_props
from nba_pipeline.tables import Table, published_table


@published_table(
    "predictions",
    checks.PREDICTION_RULES,
    code=[predict],
    # a retrained model does not re-predict history
    automation_condition=gated_eager(ignore=dg.AssetSelection.assets("points_model")),
)
def points_prop_predictions(
    prop_lines: pd.DataFrame, ml_feature_store: pd.DataFrame, points_model: PointsModel, limits: Thresholds
) -> Table:
    """One row per player with a points line per game date: predicted points, the line, OVER/UNDER/PASS and a
    confidence. Source: the date's raw.prop_lines and ml.ml_feature_store (both pre-game), the latest trained
    ml.points_model. Exists for a date before its games tip off; nothing in it reads the date's box scores."""
    frame = predict_props(prop_lines, ml_feature_store, points_model, limits.points_prop_predictions.min_edge_points)
    calls = frame["recommendation"].value_counts()
    lines = prop_lines[prop_lines["market"] == POINTS_MARKET]
    return Table(
        frame,
        metadata={f"calls_{c.lower()}": int(calls.get(c, 0)) for c in ("OVER", "UNDER", "PASS")},
        reference={checks.PROP_LINES: lines},
    )


@published_table("predictions", checks.GRADING_RULES, code=[grading])
def prediction_grading(
    points_prop_predictions: pd.DataFrame, player_game_summary: pd.DataFrame, schedule: pd.DataFrame
) -> Table:
    """One row per prediction once its game is final: actual points, absolute error, WIN/LOSS/PUSH/VOID/NO_BET;
    hit rate and MAE by confidence bucket in metadata. Source: predictions.points_prop_predictions,
    analytics.player_game_summary, raw.schedule."""
    frame = grade_predictions(points_prop_predictions, player_game_summary, schedule)
    summary = grading_summary(frame)
    table = summary.pop("by_confidence_bucket")
    return Table(frame, metadata={**summary, "by_confidence_bucket": dg.MetadataValue.md(table)}, schedule=schedule)


prediction_assets = [points_prop_predictions, prediction_grading]
