"""ml_feature_store: one row per player-game, a fixed and versioned feature list, and the label after the game.

Changing the list means a new FEATURE_VERSION: a model records the version it was trained on and refuses rows
of another version.
"""

from __future__ import annotations

import pandas as pd

from nba_pipeline import schemas

FEATURE_VERSION = "v1"
FEATURES_V1 = (
    "avg_usage_rate_last_7_games",
    "projected_usage_rate",
    "usage_spike_score",
    "usage_rate_season_avg",
    "points_avg_last_5",
    "points_avg_last_10",
    "minutes_avg_last_5",
    "minutes_avg_last_10",
    "points_season_avg",
    "rest_days",
    "back_to_back",
    "teammates_out",
    "opponent_def_rating",
    "is_home",
)
BOOTSTRAP_GAMES = 10  # the longest window: before it fills, a row is bootstrap

ML_FEATURE_STORE = {
    **schemas.PLAYER_GAME_KEYS,
    "feature_version": schemas.STR,
    **{f: schemas.FLOAT for f in FEATURES_V1},
    "feature_completeness": schemas.FLOAT,
    "bootstrap": schemas.BOOL,
    "bootstrap_date": schemas.BOOL,
    "latest_input_game_date": schemas.DATE,
    "prop_line": schemas.FLOAT,
    "played": schemas.BOOL,
    "actual_points": schemas.INT,
    "actual_minutes": schemas.FLOAT,
}


def build_feature_store(daily_cache: pd.DataFrame, player_game_summary: pd.DataFrame) -> pd.DataFrame:
    """Features from the pre-game cache; the label (points, minutes) from the date's player_game_summary."""
    f = daily_cache.copy()
    for feature in FEATURES_V1:
        f[feature] = f[feature].astype("Float64")
    f["feature_version"] = FEATURE_VERSION
    f["feature_completeness"] = f[list(FEATURES_V1)].notna().mean(axis=1).astype("Float64")
    f["bootstrap"] = (f["games_before"] < BOOTSTRAP_GAMES).astype("boolean")
    f["latest_input_game_date"] = f[["last_game_date", "opponent_last_game_date"]].max(axis=1)
    label = player_game_summary[["game_date", "player_id", "pts", "minutes", "played"]].drop_duplicates(["game_date", "player_id"])
    f = f.drop(columns="played").merge(label, on=["game_date", "player_id"], how="left")
    played = f["played"].fillna(False)
    f["actual_points"] = f["pts"].where(played)
    f["actual_minutes"] = f["minutes"].where(played)
    return schemas.conform(f, ML_FEATURE_STORE, "ml_feature_store")
