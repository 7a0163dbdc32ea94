"""ml_feature_store: one row per player on a date's pre-game slate and a fixed, versioned feature list.

The store holds no label: a row for date D exists before D's games are played. The label (points, minutes) is
joined at training time (`with_labels`, from that date's player_game_summary).

Changing the list means a new FEATURE_VERSION: a model records the version it was trained on and refuses rows
of another version.
"""

from __future__ import annotations

import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime

FEATURE_VERSION = "v2"
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
# v2: form as EWMAs (halflives in games) and the last game, shot volume, and how many games the season has shown
# (early rows are learned from too)
FEATURES = (
    *FEATURES_V1,
    *(f"{v}_ewma_{h}" for v in ("points", "minutes") for h in (3, 5, 10, 20)),
    "fga_ewma_10", "fta_ewma_10", "fg3a_ewma_10", "usage_rate_ewma_10",
    "last_points", "last_minutes",
    "games_before",
)
BOOTSTRAP_GAMES = 10  # the longest window: before it fills, a row is bootstrap

ML_FEATURE_STORE = {
    **schemas.PLAYER_GAME_KEYS,
    "feature_version": schemas.STR,
    **{f: schemas.FLOAT for f in FEATURES},
    "feature_completeness": schemas.FLOAT,
    "bootstrap": schemas.BOOL,
    "bootstrap_date": schemas.BOOL,
    "latest_input_game_date": schemas.DATE,
    "prop_line": schemas.FLOAT,
}
LABELS = {"played": schemas.BOOL, "actual_points": schemas.INT, "actual_minutes": schemas.FLOAT}


def build_feature_store(daily_cache: pd.DataFrame) -> pd.DataFrame:
    """Features from the pre-game cache, nothing else: no column of a row depends on its game having been played."""
    f = daily_cache.copy()
    for feature in FEATURES:
        f[feature] = f[feature].astype("Float64")
    f["feature_version"] = FEATURE_VERSION
    f["feature_completeness"] = f[list(FEATURES)].notna().mean(axis=1).astype("Float64")
    f["bootstrap"] = (f["games_before"] < BOOTSTRAP_GAMES).astype("boolean")
    f["latest_input_game_date"] = f[["last_game_date", "opponent_last_game_date"]].max(axis=1)
    return schemas.conform(f, ML_FEATURE_STORE, "ml_feature_store")


def with_labels(store: pd.DataFrame, player_game_summary: pd.DataFrame) -> pd.DataFrame:
    """The store's rows with what happened: `played`, `actual_points`, `actual_minutes` from the game date's
    player_game_summary (NULL / not played for a row whose player has no box score that day). Training only."""
    label = player_game_summary[["game_date", "player_id", "pts", "minutes", "played"]].drop_duplicates(["game_date", "player_id"])
    label = label.assign(game_date=to_datetime(label["game_date"]).astype("datetime64[ns]"))
    f = store.drop(columns=[c for c in (*LABELS, "pts", "minutes") if c in store.columns])
    f = f.assign(game_date=to_datetime(f["game_date"]).astype("datetime64[ns]")).merge(label, on=["game_date", "player_id"], how="left")
    played = f["played"].fillna(False).astype(bool)
    f["played"] = played.astype("boolean")
    f["actual_points"] = f["pts"].where(played)
    f["actual_minutes"] = f["minutes"].where(played)
    return schemas.conform(f, {**ML_FEATURE_STORE, **LABELS}, "ml_feature_store with labels")
