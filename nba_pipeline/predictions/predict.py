"""points_prop_predictions: the model's points for every player with a line, an over/under call and its confidence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.ml.model import WalkForwardModels

CONFIDENCE_BUCKETS = (0.5, 0.55, 0.6, 0.65, 0.7, 1.0)

POINTS_PROP_PREDICTIONS = {
    "game_id": schemas.STR,
    "game_date": schemas.DATE,
    "season": schemas.STR,
    "player_id": schemas.INT,
    "player_name": schemas.STR,
    "team_id": schemas.INT,
    "prop_line": schemas.FLOAT,
    "line_snapshot_at": schemas.DATE,
    "predicted_points": schemas.FLOAT,
    "edge": schemas.FLOAT,
    "recommendation": schemas.STR,
    "confidence": schemas.FLOAT,
    "confidence_bucket": schemas.STR,
    "no_prediction_reason": schemas.STR,
    "baseline_points": schemas.FLOAT,
    "model_version": schemas.STR,
    "model_trained_through": schemas.DATE,
    "out_of_sample": schemas.BOOL,
    "feature_version": schemas.STR,
    "inputs_fingerprint": schemas.STR,
    "predicted_in_run": schemas.STR,
}
NO_MODEL = "no model was trained before this date (walk-forward: the first model's cutoff is later)"
NO_FEATURES = "no feature row for the player on this date"


def confidence_bucket(confidence: pd.Series) -> pd.Series:
    edges = list(CONFIDENCE_BUCKETS)
    labels = [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(edges[:-1], edges[1:])]
    return pd.cut(confidence.astype(float), edges, labels=labels, right=False, include_lowest=True).astype("string")


def _fingerprint(rows: pd.DataFrame, features: tuple[str, ...]) -> pd.Series:
    """A hash of everything a prediction depends on: the line, the model and the feature values."""
    inputs = rows[["prop_line", "model_version", *features]].astype("string").fillna("<NA>")
    return pd.util.hash_pandas_object(inputs, index=False).astype("uint64").astype(str).astype("string")


def predict_props(
    lines: pd.DataFrame,
    features: pd.DataFrame,
    models: WalkForwardModels,
    min_edge: float,
    *,
    run_id: str,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per current points line (`raw.lines.current_lines`), from the latest model trained strictly before
    the row's date. Confidence = P(the result lands on the called side) under that model's validation error
    spread; an edge under `min_edge` points is a PASS. A row whose line, model and features are unchanged since
    `previous` (the date's stored predictions) keeps its earlier prediction: only what changed is re-predicted."""
    lines = lines[["game_id", "game_date", "player_id", "player_name", "line", "snapshot_at"]].rename(
        columns={"line": "prop_line", "game_id": "line_game_id", "snapshot_at": "line_snapshot_at"}
    )
    rows = lines.merge(features.drop(columns=["player_name", "prop_line"]), on=["game_date", "player_id"], how="left")
    rows["game_id"] = rows["game_id"].fillna(rows["line_game_id"])
    rows["season"] = rows["season"].astype("string").fillna(season_labels(rows["game_date"]).astype("string"))
    has_features = rows["feature_version"].notna().to_numpy()
    which = models.model_index(rows["game_date"])
    predicted = np.full(len(rows), np.nan)
    spread = np.full(len(rows), np.nan)
    version = np.full(len(rows), None, dtype=object)
    through = np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]")
    for i in np.unique(which[which >= 0]):  # a handful of models per range, each applied vectorised
        model = models.models[i]
        use = which == i
        version[use], through[use], spread[use] = model.version, np.datetime64(model.trained_through, "ns"), max(model.residual_std, 1e-6)
        if (use & has_features).any():
            predicted[use & has_features] = model.predict(rows[use & has_features])
    rows["predicted_points"] = pd.array(predicted, dtype="Float64")
    rows["edge"] = rows["predicted_points"] - rows["prop_line"]
    from scipy.special import ndtr  # here, not at the top: scipy costs ~0.3 s at every start of the Definitions

    confidence = pd.Series(ndtr(np.abs(rows["edge"].to_numpy(dtype=float, na_value=np.nan)) / spread), index=rows.index)
    rows["confidence"] = confidence.astype("Float64")
    rows["confidence_bucket"] = confidence_bucket(confidence)
    rows["recommendation"] = np.select(
        [rows["predicted_points"].isna().to_numpy(dtype=bool, na_value=True), (rows["edge"].abs() < min_edge).to_numpy(dtype=bool, na_value=True), (rows["edge"] > 0).to_numpy(dtype=bool, na_value=False)],
        ["NO_PREDICTION", "PASS", "OVER"],
        default="UNDER",
    )
    reason = np.where(which < 0, NO_MODEL, np.where(has_features, None, NO_FEATURES))
    rows["no_prediction_reason"] = pd.Series(reason, index=rows.index, dtype="string")
    rows["baseline_points"] = rows["points_avg_last_10"].astype("Float64").fillna(rows["points_season_avg"].astype("Float64"))
    rows["model_version"] = pd.Series(version, index=rows.index, dtype="string")
    rows["model_trained_through"] = through
    rows["out_of_sample"] = (rows["game_date"] > rows["model_trained_through"]).astype("boolean")
    rows["feature_version"] = models.latest.feature_version
    rows["inputs_fingerprint"] = _fingerprint(rows, models.latest.features)
    rows["predicted_in_run"] = run_id
    fresh = schemas.conform(rows, POINTS_PROP_PREDICTIONS, "points_prop_predictions")
    return keep_unchanged(previous, fresh)


def keep_unchanged(previous: pd.DataFrame | None, fresh: pd.DataFrame) -> pd.DataFrame:
    """`fresh`, except that a row whose inputs fingerprint equals the stored row's keeps the stored row (its
    prediction, snapshot and the run that made it)."""
    if previous is None or previous.empty or "inputs_fingerprint" not in previous.columns:
        return fresh
    key = ["game_date", "player_id"]
    stored = schemas.conform(previous, POINTS_PROP_PREDICTIONS, "stored points_prop_predictions").drop_duplicates(key)
    matched = fresh[key + ["inputs_fingerprint"]].merge(stored[key + ["inputs_fingerprint"]], on=key, how="left", suffixes=("", "_stored"))
    unchanged = (matched["inputs_fingerprint"] == matched["inputs_fingerprint_stored"]).fillna(False).to_numpy(dtype=bool)
    kept = fresh[unchanged][key].merge(stored, on=key, how="left")
    return pd.concat([fresh[~unchanged], kept], ignore_index=True).sort_values(key, ignore_index=True)
