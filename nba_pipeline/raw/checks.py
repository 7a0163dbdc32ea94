"""Rules for the raw feeds: each feed's declared schema (`raw.schema_check`), duplicates, unknown teams, impossible
numbers, id forms."""

from __future__ import annotations

import pandas as pd

from nba_pipeline.analytics.box_scores import impossible_stats
from nba_pipeline.checks import names
from nba_pipeline.checks.factories import no_bad_rows, no_duplicate_keys
from nba_pipeline.league.teams import TEAM_IDS, TRICODES
from nba_pipeline.raw.schema_check import matches_schema

CANONICAL_GAME_ID = r"^00[1-6]\d{7}$"


def _unknown_team(*id_columns: str, tricode: str | None = None):
    def bad(f: pd.DataFrame, _) -> pd.Series:
        mask = pd.Series(False, index=f.index)
        for col in id_columns:
            mask |= ~f[col].isin(TEAM_IDS)
        if tricode:
            mask |= ~f[tricode].isin(TRICODES)
        return mask

    return no_bad_rows(names.KNOWN_TEAMS, "Every team id and tricode is one of the 30 NBA teams.", bad, ["game_id", *id_columns])


def _canonical_ids():
    return no_bad_rows(
        names.CANONICAL_GAME_IDS,
        "Game ids arrive as 10-character NBA.com ids. Other forms are normalised in analytics; this warns that a feed changed.",
        lambda f, _: ~f["game_id"].astype("string").str.fullmatch(CANONICAL_GAME_ID).fillna(False),
        ["game_id"],
        blocking=False,
    )


def _valid_stats(label: list[str], per_player: bool):
    return no_bad_rows(
        names.VALID_STATS,
        "No negative counts, no more makes than attempts, points = 2·FGM + 3PM + FTM, minutes within a game.",
        lambda f, t: impossible_stats(f, t.player_boxscores.max_minutes_per_game if per_player else None),
        label,
    )


SCHEDULE_RULES = [
    matches_schema("schedule", ["game_id"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id"]),
    _unknown_team("home_team_id", "away_team_id"),
]
PLAYER_BOXSCORE_RULES = [
    matches_schema("player_boxscores", ["game_id", "player_id"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id", "player_id"]),
    _unknown_team("team_id", tricode="team_abbreviation"),
    _valid_stats(["game_id", "player_id"], per_player=True),
    _canonical_ids(),
]
TEAM_BOXSCORE_RULES = [
    matches_schema("team_boxscores", ["game_id", "team_id"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id", "team_id"]),
    _unknown_team("team_id", tricode="team_abbreviation"),
    _valid_stats(["game_id", "team_id"], per_player=False),
    _canonical_ids(),
]
SHOT_ZONE_RULES = [
    matches_schema("shot_zones", ["game_id", "player_id"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id", "player_id"]),
    no_bad_rows(
        names.VALID_STATS,
        "Zone makes never exceed zone attempts and nothing is negative.",
        lambda f, _: pd.concat(
            [(f[f"{z}_fgm"] > f[f"{z}_fga"]) | (f[f"{z}_fgm"] < 0) for z in ("paint", "mid", "three")], axis=1
        ).any(axis=1),
        ["game_id", "player_id"],
    ),
    _canonical_ids(),
]
INJURY_REPORT_RULES = [
    # every published version is kept (report_at); a row is named by its player's name, as an unmatched name has no id
    matches_schema("injury_report", ["game_id", "player_name", "report_at"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id", "player_id", "player_name", "report_at"]),
    _unknown_team("team_id", tricode="team_abbreviation"),
]
PROP_LINE_RULES = [
    matches_schema("prop_lines", ["game_id", "player_id", "snapshot_at"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id", "player_id", "player_name", "market", "sportsbook", "snapshot_at"]),
    no_bad_rows(names.POSITIVE_LINES, "Every line is a positive number.", lambda f, _: ~(f["line"] > 0), ["game_id", "player_id"]),
    no_bad_rows(
        names.VENDOR_NAMES_MATCHED,
        "Every player name the odds vendor sends matched exactly one NBA.com player of the game's two teams. A name "
        "that matched none or several keeps its row with no player id (never dropped); that line gets no prediction. "
        "The fetch's log says which candidates a name had.",
        lambda f, _: f["player_id"].isna(),
        ["game_id", "sportsbook", "player_name"],
        blocking=False,
    ),
]
REFEREE_RULES = [
    matches_schema("referee_assignments", ["game_id", "official_id"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id", "official_id"]),
    no_bad_rows(
        names.FULL_CREWS,
        "Every game with an assignment has a crew of three (crew chief, referee, umpire).",
        lambda f, _: f.groupby("game_id")["official_id"].transform("nunique") != 3,
        ["game_id", "official_id"],
        blocking=False,
    ),
]
