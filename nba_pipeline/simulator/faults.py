"""Fault injection: the failures the original team really had, switchable by config, chosen per game by a hash.

The simulator never reports which rows it corrupted: detecting faults is the checks' job.
"""

from __future__ import annotations

from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

GameIdFormat = Literal["canonical", "int", "date_team", "vendor"]
GameIdFeed = Literal["player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines"]
MinutesUnit = Literal["player_minutes", "game_minutes"]
# a value no real box score has, in one played player row per game: what each raw schema must catch by name
HostileValue = Literal["none", "negative_minutes", "non_numeric_points", "html_name", "made_over_attempted"]
HOSTILE = {
    "negative_minutes": ("minutes", "-26:00"),
    "non_numeric_points": ("pts", "twelve"),
    "html_name": ("player_name", "<b>LeBron James</b>"),
}


class SimulatorFaults(dg.Config):
    """Which faults to inject, how often (share of games) and on which game dates (empty = every date)."""

    game_id_format: GameIdFormat = Field(
        "canonical",
        description="Id form in `game_id_feed`: int (leading zeros dropped), date_team ('20240115_LAL_DEN'), "
        "vendor (a sportsbook's opaque id that no schedule maps).",
    )
    game_id_feed: GameIdFeed = "team_boxscores"
    missing_team_row_rate: float = Field(0.0, ge=0, le=1, description="games whose team feed lacks one team")
    late_game_rate: float = Field(0.0, ge=0, le=1, description="games whose box scores arrive late")
    late_hours: float = Field(36.0, ge=0, description="how late a late game's box score arrives")
    duplicate_row_rate: float = Field(0.0, ge=0, le=1, description="games with a player row delivered twice")
    impossible_stat_rate: float = Field(0.0, ge=0, le=1, description="games with one player row of impossible stats")
    hostile_value: HostileValue = Field("none", description="one played player row per game gets this value")
    hostile_value_rate: float = Field(0.0, ge=0, le=1, description="games with a hostile player row")
    duplicate_game_rate: float = Field(0.0, ge=0, le=1, description="games the schedule feed lists twice")
    unknown_team_rate: float = Field(0.0, ge=0, le=1, description="games whose player rows carry an unknown team")
    team_minutes_unit: MinutesUnit = Field(
        "player_minutes",
        description="Unit of the team feed's minutes: player_minutes (240, +25 per overtime) or game_minutes "
        "(48, +5 per overtime: usage_rate comes out a fifth of the truth).",
    )
    shot_zone_coverage: float | None = Field(None, ge=0, le=1, description="override play-by-play coverage")
    affected_dates: list[str] = Field(default_factory=list, description="ISO game dates; empty = all dates")
    fetch_delay_seconds: float = Field(0.0, ge=0, le=600, description="seconds every fetch waits first: a slow vendor API")


def game_uniform(game_ids: pd.Series, seed: int, salt: str) -> np.ndarray:
    """A stable uniform [0, 1) per game id: the same game gets the same draw in every fetch."""
    keys = pd.Series(f"{seed}:{salt}:", index=game_ids.index) + game_ids.astype(str)
    return pd.util.hash_pandas_object(keys, index=False).to_numpy() / np.float64(2**64)


def picked(frame: pd.DataFrame, faults: SimulatorFaults, seed: int, salt: str, rate: float) -> np.ndarray:
    """Rows whose game is hit by a fault of this `rate`, restricted to the affected dates."""
    if rate <= 0 or frame.empty:
        return np.zeros(len(frame), dtype=bool)
    hit = game_uniform(frame["game_id"], seed, salt) < rate
    if faults.affected_dates:
        hit &= frame["game_date"].dt.strftime("%Y-%m-%d").isin(faults.affected_dates).to_numpy()
    return hit


def reformat_game_ids(frame: pd.DataFrame, schedule: pd.DataFrame, fmt: GameIdFormat, mask: np.ndarray) -> pd.Series:
    """The game ids of `frame` as another feed would spell them, on the masked rows."""
    ids = frame["game_id"].astype("string").copy()
    if fmt == "canonical" or not mask.any():
        return ids
    if fmt == "int":
        ids[mask] = ids[mask].str.lstrip("0")
    elif fmt == "date_team":
        teams = schedule.set_index("game_id")[["away_team", "home_team"]]
        rows = frame.loc[mask, ["game_id", "game_date"]]
        away = teams["away_team"].reindex(rows["game_id"]).to_numpy()
        home = teams["home_team"].reindex(rows["game_id"]).to_numpy()
        ids[mask] = rows["game_date"].dt.strftime("%Y%m%d").to_numpy() + "_" + away + "_" + home
    elif fmt == "vendor":
        digest = pd.util.hash_pandas_object(ids[mask], index=False).to_numpy() % 10**8
        ids[mask] = "sr:match:" + pd.Series(digest, index=ids[mask].index).astype(str).str.zfill(8)
    return ids
