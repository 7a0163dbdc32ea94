"""points_prop_predictions: the model's points for every player with a line, an over/under call and its confidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from nba_pipeline import schemas
from nba_pipeline.ml.model import PointsModel
from nba_pipeline.precompute.daily_cache import POINTS_MARKET

CONFIDENCE_BUCKETS = (0.5, 0.55, 0.6, 0.65, 0.7, 1.0)

POINTS_PROP_PREDICTIONS = {
    "game_id": schemas.STR,
    "game_date": schemas.DATE,
    "player_id": schemas.INT,
    "player_name": schemas.STR,
    "team_id": schemas.INT,
    "prop_line": schemas.FLOAT,
    "predicted_points": schemas.FLOAT,
    "edge": schemas.FLOAT,
    "recommendation": schemas.STR,
    "confidence": schemas.FLOAT,
    "confidence_bucket": schemas.STR,
    "no_prediction_reason": schemas.STR,
    "model_trained_through": schemas.DATE,
    "out_of_sample": schemas.BOOL,
    "feature_version": schemas.STR,
}


def confidence_bucket(confidence: pd.Series) -> pd.Series:
    edges = list(CONFIDENCE_BUCKETS)
    labels = [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(edges[:-1], edges[1:])]
    return pd.cut(confidence.astype(float), edges, labels=labels, right=False, include_lowest=True).astype("string")


def predict_props(prop_lines: pd.DataFrame, features: pd.DataFrame, model: PointsModel, min_edge: float) -> pd.DataFrame:
    """One row per points line. Confidence = P(the result lands on the called side) under the model's
    validation error spread; an edge under `min_edge` points is a PASS."""
    lines = prop_lines[prop_lines["market"] == POINTS_MARKET].drop_duplicates(["game_date", "player_id"])
    lines = lines[["game_id", "game_date", "player_id", "player_name", "line"]].rename(columns={"line": "prop_line", "game_id": "line_game_id"})
    rows = lines.merge(features.drop(columns=["player_name", "prop_line"]), on=["game_date", "player_id"], how="left")
    has_features = rows["feature_version"].notna()
    predicted = np.full(len(rows), np.nan)
    if has_features.any():
        predicted[has_features.to_numpy()] = model.predict(rows[has_features])
    rows["game_id"] = rows["game_id"].fillna(rows["line_game_id"])
    rows["predicted_points"] = pd.array(predicted, dtype="Float64")
    rows["edge"] = rows["predicted_points"] - rows["prop_line"]
    confidence = pd.Series(ndtr(np.abs(rows["edge"].to_numpy(dtype=float, na_value=np.nan)) / max(model.residual_std, 1e-6)), index=rows.index)
    rows["confidence"] = confidence.astype("Float64")
    rows["confidence_bucket"] = confidence_bucket(confidence)
    rows["recommendation"] = np.select(
        [rows["predicted_points"].isna().to_numpy(dtype=bool, na_value=True), (rows["edge"].abs() < min_edge).to_numpy(dtype=bool, na_value=True), (rows["edge"] > 0).to_numpy(dtype=bool, na_value=False)],
        ["NO_PREDICTION", "PASS", "OVER"],
        default="UNDER",
    )
    rows["no_prediction_reason"] = pd.Series(np.where(has_features, None, "no feature row for the player on this date"), index=rows.index, dtype="string")
    rows["model_trained_through"] = pd.Timestamp(model.trained_through)
    rows["out_of_sample"] = (rows["game_date"] > rows["model_trained_through"]).astype("boolean")
    rows["feature_version"] = model.feature_version
    return schemas.conform(rows, POINTS_PROP_PREDICTIONS, "points_prop_predictions")
