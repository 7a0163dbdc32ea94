"""points_prop_predictions: the model's points for every player with a line, its P(OVER), and a call only where
that probability clears the break-even of the line's price."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.ml.model import WalkForwardModels, simple_baselines
from nba_pipeline.raw.lines import break_even, line_source, placeholder_lines

CONFIDENCE_BUCKETS = (0.5, 0.55, 0.6, 0.65, 0.7, 1.0)

POINTS_PROP_PREDICTIONS = {
    "game_id": schemas.STR,
    "game_date": schemas.DATE,
    "season": schemas.STR,
    "player_id": schemas.INT,
    "player_name": schemas.STR,
    "team_id": schemas.INT,
    "prop_line": schemas.FLOAT,
    "line_source": schemas.STR,
    "sportsbook": schemas.STR,
    "over_odds": schemas.FLOAT,
    "under_odds": schemas.FLOAT,
    "placeholder_line": schemas.BOOL,
    "line_snapshot_at": schemas.DATE,
    "predicted_points": schemas.FLOAT,
    "edge": schemas.FLOAT,
    "recommendation": schemas.STR,
    "p_over": schemas.FLOAT,
    "break_even": schemas.FLOAT,
    "confidence": schemas.FLOAT,
    "confidence_bucket": schemas.STR,
    "no_prediction_reason": schemas.STR,
    "baseline_points": schemas.FLOAT,
    "baseline_season_avg": schemas.FLOAT,
    "baseline_ewma_10": schemas.FLOAT,
    "expected_minutes": schemas.FLOAT,
    "model_version": schemas.STR,
    "model_trained_through": schemas.DATE,
    "out_of_sample": schemas.BOOL,
    "feature_version": schemas.STR,
    "inputs_fingerprint": schemas.STR,
    "predicted_in_run": schemas.STR,
}
NO_MODEL = "no model was trained before this date (walk-forward: the first model's cutoff is later)"
NO_FEATURES = "no feature row for the player on this date"
PLACEHOLDER = "placeholder line (one value for much of the date's board): not a price, not bet"


def confidence_bucket(confidence: pd.Series) -> pd.Series:
    edges = list(CONFIDENCE_BUCKETS)
    labels = [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(edges[:-1], edges[1:])]
    return pd.cut(confidence.astype(float), edges, labels=labels, right=False, include_lowest=True).astype("string")


def _fingerprint(rows: pd.DataFrame, features: tuple[str, ...]) -> pd.Series:
    """A hash of everything a prediction depends on: the line, the model and the feature values."""
    inputs = rows[["prop_line", "over_odds", "under_odds", "sportsbook", "model_version", *features]].astype("string").fillna("<NA>")
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
    the row's date: predicted points, P(OVER) from that model's calibrated predictive distribution, and OVER (or
    UNDER) only where its probability clears the break-even of the line's price (-110 when unpriced) and the edge
    is at least `min_edge` points; else PASS. A placeholder line is never called. A row whose line, price, model
    and features are unchanged since `previous` (the date's stored predictions) keeps its earlier prediction."""
    lines = lines.assign(
        over_odds=lines["over_odds"] if "over_odds" in lines else pd.NA,
        under_odds=lines["under_odds"] if "under_odds" in lines else pd.NA,
        sportsbook=lines["sportsbook"] if "sportsbook" in lines else pd.NA,
    )
    lines = lines[["game_id", "game_date", "player_id", "player_name", "line", "snapshot_at", "over_odds", "under_odds", "sportsbook"]].rename(
        columns={"line": "prop_line", "game_id": "line_game_id", "snapshot_at": "line_snapshot_at"}
    )
    lines["line_source"] = line_source(lines["sportsbook"])
    lines["placeholder_line"] = placeholder_lines(lines).astype("boolean")
    rows = lines.merge(features.drop(columns=["player_name", "prop_line"]), on=["game_date", "player_id"], how="left")
    rows["game_id"] = rows["game_id"].fillna(rows["line_game_id"])
    rows["season"] = rows["season"].astype("string").fillna(season_labels(rows["game_date"]).astype("string"))
    has_features = rows["feature_version"].notna().to_numpy()
    which = models.model_index(rows["game_date"])
    predicted = np.full(len(rows), np.nan)
    p_over = np.full(len(rows), np.nan)
    version = np.full(len(rows), None, dtype=object)
    through = np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]")
    line = rows["prop_line"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    for i in np.unique(which[which >= 0]):  # a handful of models per range, each applied vectorised
        model = models.models[i]
        use = which == i
        version[use], through[use] = model.version, np.datetime64(model.trained_through, "ns")
        known = use & has_features
        if known.any():
            predicted[known] = model.predict(rows[known].assign(prop_line=line[known]))
            p_over[known] = model.p_over(predicted[known], line[known])
    rows["predicted_points"] = pd.array(predicted, dtype="Float64")
    rows["edge"] = rows["predicted_points"] - rows["prop_line"]
    rows["p_over"] = pd.array(p_over, dtype="Float64")
    over_needs, under_needs = break_even(rows["over_odds"]).to_numpy(), break_even(rows["under_odds"]).to_numpy()
    edge = rows["edge"].to_numpy(dtype=float, na_value=np.nan)
    big_enough = np.abs(edge) >= min_edge
    placeholder = rows["placeholder_line"].to_numpy(dtype=bool, na_value=False)
    call_over = (p_over >= over_needs) & (edge > 0) & big_enough & ~placeholder
    call_under = (1 - p_over >= under_needs) & (edge < 0) & big_enough & ~placeholder
    rows["recommendation"] = np.select(
        [np.isnan(predicted), call_over, call_under], ["NO_PREDICTION", "OVER", "UNDER"], default="PASS",
    )
    rows["break_even"] = pd.array(np.where(call_over, over_needs, np.where(call_under, under_needs, np.nan)), dtype="Float64")
    confidence = pd.Series(np.where(call_under | (~call_over & (p_over < 0.5)), 1 - p_over, p_over), index=rows.index)
    rows["confidence"] = confidence.astype("Float64")
    rows["confidence_bucket"] = confidence_bucket(confidence)
    reason = np.where(which < 0, NO_MODEL, np.where(has_features, np.where(placeholder, PLACEHOLDER, None), NO_FEATURES))
    rows["no_prediction_reason"] = pd.Series(reason, index=rows.index, dtype="string")
    baselines = simple_baselines(rows)
    rows["baseline_points"] = pd.array(baselines["10_game_avg"], dtype="Float64")
    rows["baseline_season_avg"] = pd.array(baselines["season_avg"], dtype="Float64")
    rows["baseline_ewma_10"] = pd.array(baselines["ewma_10"], dtype="Float64")
    rows["expected_minutes"] = rows["minutes_ewma_10"].astype("Float64")
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
