"""player_daily_cache: the state prediction reads for a player on a date's slate — his windows, his status, his line.

All of it is known before tip-off: the composite factors of the date's pre-game population, the date's injury
report and its points lines."""

from __future__ import annotations

import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.precompute.composite_factors import PLAYER_COMPOSITE_FACTORS, POINTS_MARKET
from nba_pipeline.raw.injuries import latest_before_tipoff

__all__ = ["PLAYER_DAILY_CACHE", "POINTS_MARKET", "build_player_daily_cache"]

PLAYER_DAILY_CACHE = {
    **PLAYER_COMPOSITE_FACTORS,
    "injury_status": schemas.STR,
    "prop_line": schemas.FLOAT,
    "has_prop_line": schemas.BOOL,
}


def build_player_daily_cache(
    composite: pd.DataFrame, injury_report: pd.DataFrame, prop_lines: pd.DataFrame, schedule: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Composite factors plus the player's own injury status ('Available' when unlisted) on the report's version in
    force at tip-off (`raw.injuries.latest_before_tipoff`; the latest version without a schedule) and his points line."""
    report = latest_before_tipoff(injury_report, schedule)
    status = report.drop_duplicates(["game_date", "player_id"])[["game_date", "player_id", "status"]]
    lines = prop_lines[prop_lines["market"] == POINTS_MARKET].drop_duplicates(["game_date", "player_id"])
    lines = lines[["game_date", "player_id", "line"]].rename(columns={"line": "prop_line"})
    cache = composite.merge(status, on=["game_date", "player_id"], how="left").merge(
        lines, on=["game_date", "player_id"], how="left"
    )
    cache["injury_status"] = cache["status"].fillna("Available")
    cache["has_prop_line"] = cache["prop_line"].notna().astype("boolean")
    return schemas.conform(cache, PLAYER_DAILY_CACHE, "player_daily_cache")
