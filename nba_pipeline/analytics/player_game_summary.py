"""player_game_summary: one row per player-game with minutes, box score, shot-zone shares and usage_rate."""

from __future__ import annotations

import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.analytics.box_scores import (
    impossible_stats,
    parse_minutes,
    safe_ratio,
)
from nba_pipeline.analytics.game_ids import normalize_game_ids
from nba_pipeline.analytics.quality import score_rows
from nba_pipeline.league.seasons import season_labels

NOT_PLAYED = "not_played"  # quality_tier of a player who did not play (quality_score NULL)

PLAYER_GAME_SUMMARY = {
    "game_id": schemas.STR,
    "source_game_id": schemas.STR,
    "game_date": schemas.DATE,
    "season": schemas.STR,
    "player_id": schemas.INT,
    "player_name": schemas.STR,
    "team_id": schemas.INT,
    "team_abbreviation": schemas.STR,
    "opponent_team_id": schemas.INT,
    "is_home": schemas.BOOL,
    "starter": schemas.BOOL,
    "played": schemas.BOOL,
    "dnp_reason": schemas.STR,
    "minutes": schemas.FLOAT,
    **{c: schemas.INT for c in schemas.BOX_STAT_COLUMNS},
    "has_shot_zones": schemas.BOOL,
    "paint_fga_share": schemas.FLOAT,
    "mid_fga_share": schemas.FLOAT,
    "three_fga_share": schemas.FLOAT,
    "usage_rate": schemas.FLOAT,
    "quality_score": schemas.INT,
    "quality_tier": schemas.STR,
    "quality_issues": schemas.STR,
    "production_ready": schemas.BOOL,
}


def usage_rate(
    fga: pd.Series,
    fta: pd.Series,
    tov: pd.Series,
    minutes: pd.Series,
    team_minutes: pd.Series,
    team_fga: pd.Series,
    team_fta: pd.Series,
    team_tov: pd.Series,
) -> pd.Series:
    """Basketball-Reference USG% = 100·(FGA + 0.44·FTA + TOV)·(Tm MP / 5) / (MP·(Tm FGA + 0.44·Tm FTA + Tm TOV))."""
    player_plays = fga + 0.44 * fta + tov
    team_plays = team_fga + 0.44 * team_fta + team_tov
    return safe_ratio(100 * player_plays * (team_minutes / 5), minutes * team_plays)


def build_player_game_summary(
    player_box: pd.DataFrame,
    team_offense: pd.DataFrame,
    shot_zones: pd.DataFrame,
    schedule: pd.DataFrame,
    max_minutes: float,
) -> pd.DataFrame:
    p = player_box.copy()
    p["source_game_id"] = p["game_id"].astype("string")
    p["game_id"] = normalize_game_ids(p["game_id"], schedule)
    comment = p["comment"].fillna("").str.strip()
    p["dnp_reason"] = comment.where(comment != "", pd.NA)
    p["minutes"] = parse_minutes(p["minutes"])
    # Played: minutes on the clock, or no DNP comment and minutes not known to be zero. A '0:00' row did not
    # play; missing or unreadable minutes without a comment still count as played, so minutes_populated names them.
    zero_minutes = (p["minutes"] == 0).fillna(False)
    p["played"] = (((comment == "") & ~zero_minutes) | (p["minutes"] > 0).fillna(False)).astype("boolean")
    p["starter"] = (p["start_position"].fillna("") != "").astype("boolean")

    team = team_offense.dropna(subset=["game_id"]).drop_duplicates(["game_id", "team_id"])
    team = team[["game_id", "team_id", "opponent_team_id", "is_home", "team_minutes", "fga", "fta", "tov"]].rename(
        columns={"fga": "team_fga", "fta": "team_fta", "tov": "team_tov"}
    )
    p = p.merge(team, on=["game_id", "team_id"], how="left")

    zones = shot_zones.assign(game_id=normalize_game_ids(shot_zones["game_id"], schedule))
    zones = zones.dropna(subset=["game_id"]).drop_duplicates(["game_id", "player_id"])
    zones = zones[["game_id", "player_id", "paint_fga", "mid_fga", "three_fga"]]
    p = p.merge(zones, on=["game_id", "player_id"], how="left")
    p["has_shot_zones"] = p["paint_fga"].notna().astype("boolean")
    for zone in ("paint", "mid", "three"):
        p[f"{zone}_fga_share"] = safe_ratio(p[f"{zone}_fga"], p["fga"])

    p["usage_rate"] = usage_rate(
        p["fga"], p["fta"], p["tov"], p["minutes"], p["team_minutes"], p["team_fga"], p["team_fta"], p["team_tov"]
    ).where(p["played"])
    p["season"] = season_labels(p["game_date"])

    played = p["played"].fillna(False)
    # the formula estimates a share of the team's plays: above 100 (a few seconds on the floor) or below 0 it is
    # the formula's artefact, not the player's usage — the value stays (it is the reference formula's), the row is
    # not fit for use
    usage_impossible = played & ((p["usage_rate"] > 100) | (p["usage_rate"] < 0)).fillna(False)
    quality = score_rows(
        p.index,
        {
            "unmatched_game_id": (p["game_id"].isna(), 40),
            "usage_rate_missing": (played & p["usage_rate"].isna(), 35),
            "minutes_missing": (played & p["minutes"].isna(), 35),
            "impossible_stats": (impossible_stats(p.assign(minutes=p["minutes"].astype("string")), max_minutes), 50),
            "no_shot_zones": (played & (p["fga"] > 0) & ~p["has_shot_zones"], 10),
            "usage_rate_out_of_range": (usage_impossible, 30),
        },
    )
    # a player who did not play has no stats to judge: no score (averages of quality are over players who played)
    # and his own tier; issues about the row itself (an unmatched game id) are still named
    quality["quality_score"] = quality["quality_score"].mask(~played)
    quality["quality_tier"] = quality["quality_tier"].mask(~played, NOT_PLAYED)
    p = pd.concat([p, quality], axis=1)
    p["production_ready"] = (
        played & (p["quality_score"] >= 75).fillna(False) & p["usage_rate"].notna() & p["minutes"].notna() & ~usage_impossible
    ).astype("boolean")
    return schemas.conform(p, PLAYER_GAME_SUMMARY, "player_game_summary")
