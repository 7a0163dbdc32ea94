"""team_defense_game_summary: one row per team-game describing what the opponent's offense managed."""

from __future__ import annotations

import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.analytics.box_scores import safe_ratio

TEAM_DEFENSE = {
    "game_id": schemas.STR,
    "game_date": schemas.DATE,
    "season": schemas.STR,
    "team_id": schemas.INT,
    "team_abbreviation": schemas.STR,
    "opponent_team_id": schemas.INT,
    "is_home": schemas.BOOL,
    "possessions": schemas.FLOAT,
    "points_allowed": schemas.INT,
    "opp_fgm": schemas.INT,
    "opp_fga": schemas.INT,
    "opp_fg3m": schemas.INT,
    "opp_fg3a": schemas.INT,
    "opp_fta": schemas.INT,
    "opp_oreb": schemas.INT,
    "forced_turnovers": schemas.INT,
    "stl": schemas.INT,
    "blk": schemas.INT,
    "dreb": schemas.INT,
    "defensive_rating": schemas.FLOAT,
    "opp_effective_fg_pct": schemas.FLOAT,
    "defensive_rebound_pct": schemas.FLOAT,
    "production_ready": schemas.BOOL,
}


def build_team_defense(team_offense: pd.DataFrame) -> pd.DataFrame:
    """Mirror each team-game's opponent offense; games without both team rows stay not production-ready."""
    own = team_offense.dropna(subset=["game_id"])
    opp = own[["game_id", "team_id", "fgm", "fga", "fg3m", "fg3a", "fta", "oreb", "tov", "pts", "production_ready"]]
    opp = opp.rename(columns=lambda c: c if c == "game_id" else f"opp_{c}").rename(columns={"opp_team_id": "opponent_team_id"})
    own = own[
        ["game_id", "game_date", "season", "team_id", "team_abbreviation", "opponent_team_id", "is_home",
         "possessions", "stl", "blk", "dreb", "production_ready"]
    ]
    d = own.merge(opp, on=["game_id", "opponent_team_id"], how="left")
    d["points_allowed"] = d["opp_pts"]
    d["forced_turnovers"] = d["opp_tov"]
    d["defensive_rating"] = safe_ratio(100 * d["opp_pts"], d["possessions"])
    d["opp_effective_fg_pct"] = safe_ratio(d["opp_fgm"] + 0.5 * d["opp_fg3m"], d["opp_fga"])
    d["defensive_rebound_pct"] = safe_ratio(d["dreb"], d["dreb"] + d["opp_oreb"])
    d["production_ready"] = (
        d["production_ready"].fillna(False) & d["opp_production_ready"].fillna(False) & d["defensive_rating"].notna()
    ).astype("boolean")
    return schemas.conform(d, TEAM_DEFENSE, "team_defense_game_summary")
