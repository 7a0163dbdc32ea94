"""Prediction assets: calls for every points line of a date, then their grades once the games are final."""

import dagster as dg
import pandas as pd

from nba_pipeline.automation import gated_eager
from nba_pipeline.checks.gate import refuse_failed_upstream
from nba_pipeline.checks.runner import check_results, check_specs
from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.metadata import frame_summary
from nba_pipeline.ml.model import PointsModel
from nba_pipeline.precompute.daily_cache import POINTS_MARKET
from nba_pipeline.predictions import checks
from nba_pipeline.predictions.grading import grade_predictions, grading_summary
from nba_pipeline.predictions.predict import predict_props
from nba_pipeline.tables import daily_table


@dg.asset(
    check_specs=check_specs(checks.PREDICTION_RULES, "points_prop_predictions"),
    # a retrained model does not re-predict history
    **daily_table("predictions", automation_condition=gated_eager(ignore=dg.AssetSelection.assets("points_model"))),
)
def points_prop_predictions(
    context: dg.AssetExecutionContext,
    prop_lines: pd.DataFrame,
    ml_feature_store: pd.DataFrame,
    points_model: PointsModel,
    thresholds: ThresholdsResource,
):
    """One row per player with a points line per game date: predicted points, the line, OVER/UNDER/PASS and a
    confidence. Source: raw.prop_lines, ml.ml_feature_store, ml.points_model."""
    refuse_failed_upstream(context)
    limits = thresholds.load()
    frame = predict_props(prop_lines, ml_feature_store, points_model, limits.points_prop_predictions.min_edge_points)
    calls = frame["recommendation"].value_counts()
    yield dg.Output(
        frame,
        metadata=frame_summary(frame, **{f"calls_{c.lower()}": int(calls.get(c, 0)) for c in ("OVER", "UNDER", "PASS")}),
    )
    lines = prop_lines[prop_lines["market"] == POINTS_MARKET]
    yield from check_results(context, checks.PREDICTION_RULES, frame, limits, reference={checks.PROP_LINES: lines})


@dg.asset(check_specs=check_specs(checks.GRADING_RULES, "prediction_grading"), **daily_table("predictions"))
def prediction_grading(
    context: dg.AssetExecutionContext,
    points_prop_predictions: pd.DataFrame,
    player_game_summary: pd.DataFrame,
    schedule: pd.DataFrame,
    thresholds: ThresholdsResource,
):
    """One row per prediction once its game is final: actual points, absolute error, WIN/LOSS/PUSH/VOID/NO_BET;
    hit rate and MAE by confidence bucket in metadata. Source: predictions.points_prop_predictions,
    analytics.player_game_summary, raw.schedule."""
    refuse_failed_upstream(context)
    frame = grade_predictions(points_prop_predictions, player_game_summary, schedule)
    summary = grading_summary(frame)
    table = summary.pop("by_confidence_bucket")
    yield dg.Output(frame, metadata={**frame_summary(frame, **summary), "by_confidence_bucket": dg.MetadataValue.md(table)})
    yield from check_results(context, checks.GRADING_RULES, frame, thresholds.load(), schedule=schedule)


prediction_assets = [points_prop_predictions, prediction_grading]
