"""Column contracts of every table, and `conform`, which enforces them at the edges (sources and transforms).

A frame that lacks a column, or whose values cannot take the declared type, is an error — never a table with a
silently different shape. An empty frame still carries its columns and types, so an off-day partition writes
a correctly typed zero-row slice.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

DATE = "datetime64[ns]"
INT = "Int64"
FLOAT = "Float64"
STR = "string"
BOOL = "boolean"

_BOX_STATS = {c: INT for c in ("fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf", "pts", "plus_minus")}
BOX_STAT_COLUMNS = tuple(_BOX_STATS)

SCHEDULE = {
    "game_id": STR,
    "game_date": DATE,
    "season": STR,
    "tipoff_et": DATE,
    "home_team_id": INT,
    "home_team": STR,
    "away_team_id": INT,
    "away_team": STR,
    "game_status": STR,
}
PLAYER_BOXSCORES = {
    "game_id": STR,
    "game_date": DATE,
    "team_id": INT,
    "team_abbreviation": STR,
    "player_id": INT,
    "player_name": STR,
    "start_position": STR,
    "comment": STR,
    "minutes": STR,
    **_BOX_STATS,
}
TEAM_BOXSCORES = {
    "game_id": STR,
    "game_date": DATE,
    "team_id": INT,
    "team_abbreviation": STR,
    "minutes": STR,
    **_BOX_STATS,
}
SHOT_ZONES = {
    "game_id": STR,
    "game_date": DATE,
    "team_id": INT,
    "player_id": INT,
    **{f"{zone}_{stat}": INT for zone in ("paint", "mid", "three") for stat in ("fga", "fgm")},
}
INJURY_REPORT = {
    "game_id": STR,
    "game_date": DATE,
    "team_id": INT,
    "team_abbreviation": STR,
    "player_id": INT,
    "player_name": STR,
    "status": STR,
    "reason": STR,
    "report_at": DATE,  # Eastern time of the report version the row is from (a newer version supersedes it)
}
PROP_LINES = {
    "game_id": STR,
    "game_date": DATE,
    "player_id": INT,
    "player_name": STR,
    "team_abbreviation": STR,
    "market": STR,
    "line": FLOAT,
    "over_odds": INT,
    "under_odds": INT,
    "sportsbook": STR,
    "snapshot_at": DATE,  # Eastern time the book posted this number (the fetch time, for a source that does not say)
}
REFEREE_ASSIGNMENTS = {
    "game_id": STR,
    "game_date": DATE,
    "official_id": INT,
    "official_name": STR,
    "role": STR,  # Crew Chief / Referee / Umpire
}
# The leading columns of every player-per-game-date table downstream of analytics.
PLAYER_GAME_KEYS = {
    "game_id": STR,
    "game_date": DATE,
    "season": STR,
    "player_id": INT,
    "player_name": STR,
    "team_id": INT,
}
RAW_SCHEMAS: dict[str, dict[str, str]] = {
    "schedule": SCHEDULE,
    "player_boxscores": PLAYER_BOXSCORES,
    "team_boxscores": TEAM_BOXSCORES,
    "shot_zones": SHOT_ZONES,
    "injury_report": INJURY_REPORT,
    "prop_lines": PROP_LINES,
    "referee_assignments": REFEREE_ASSIGNMENTS,
}


class SchemaError(ValueError):
    """A frame does not match its table's column contract."""


def conform(df: pd.DataFrame, schema: Mapping[str, str], table: str) -> pd.DataFrame:
    """Select the schema's columns in order and cast them; name the table and column on any mismatch."""
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise SchemaError(f"{table}: missing column(s) {missing}")
    out = {}
    for column, dtype in schema.items():
        try:
            values = df[column]
            if dtype == DATE:
                values = pd.to_datetime(values).astype(DATE)
            out[column] = values.astype(dtype)
        except (TypeError, ValueError) as err:
            raise SchemaError(f"{table}.{column}: cannot be read as {dtype}: {err}") from None
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def empty(schema: Mapping[str, str], table: str) -> pd.DataFrame:
    return conform(pd.DataFrame({c: [] for c in schema}), schema, table)
