"""team_offense_game_summary: one row per team-game with possessions, pace, offensive rating and reconciliation."""

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

TEAM_OFFENSE = {
    "game_id": schemas.STR,
    "source_game_id": schemas.STR,
    "game_date": schemas.DATE,
    "season": schemas.STR,
    "team_id": schemas.INT,
    "team_abbreviation": schemas.STR,
    "opponent_team_id": schemas.INT,
    "is_home": schemas.BOOL,
    "team_minutes": schemas.FLOAT,
    **{c: schemas.INT for c in ("fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "ast", "stl", "blk", "tov", "pf", "pts")},
    "opp_pts": schemas.INT,
    "player_pts_sum": schemas.INT,
    "player_minutes_sum": schemas.FLOAT,
    "team_turnovers": schemas.INT,
    "possessions": schemas.FLOAT,
    "pace": schemas.FLOAT,
    "offensive_rating": schemas.FLOAT,
    "quality_score": schemas.INT,
    "quality_tier": schemas.STR,
    "quality_issues": schemas.STR,
    "production_ready": schemas.BOOL,
}
_OPP_COLUMNS = ["fgm", "fga", "fta", "oreb", "dreb", "tov", "pts"]


def _shooting_possessions(fga, fta, oreb, opp_dreb, fgm, tov) -> pd.Series:
    """Basketball-Reference's one-team possession estimate."""
    oreb_share = safe_ratio(oreb, oreb + opp_dreb)
    return fga + 0.4 * fta - 1.07 * oreb_share * (fga - fgm) + tov


def _player_minutes(player_box: pd.DataFrame) -> pd.Series:
    """Each player row's minutes; a DNP (a comment, no minutes) played zero, anything else unreadable is NA."""
    minutes = parse_minutes(player_box["minutes"])
    dnp = player_box["comment"].fillna("").str.strip() != ""
    return minutes.mask(dnp & minutes.isna(), 0.0)


def build_team_offense(
    team_box: pd.DataFrame, player_box: pd.DataFrame, schedule: pd.DataFrame, max_team_turnover_excess: int
) -> pd.DataFrame:
    tb = team_box.copy()
    tb["source_game_id"] = tb["game_id"].astype("string")
    tb["game_id"] = normalize_game_ids(tb["game_id"], schedule)
    tb["team_minutes"] = parse_minutes(tb["minutes"])

    games = schedule[["game_id", "home_team_id", "away_team_id"]]
    tb = tb.merge(games, on="game_id", how="left")
    tb["is_home"] = (tb["team_id"] == tb["home_team_id"]).astype("boolean")
    tb["opponent_team_id"] = tb["away_team_id"].where(tb["is_home"].fillna(False), tb["home_team_id"]).astype("Int64")

    pb = player_box.assign(game_id=normalize_game_ids(player_box["game_id"], schedule), minutes=_player_minutes(player_box))
    by_team = pb.groupby(["game_id", "team_id"], dropna=True)
    sums = by_team[["pts", "tov", "minutes"]].sum().add_prefix("player_").add_suffix("_sum")
    # the players' minutes add up only if every one of them is known
    sums["player_minutes_sum"] = sums["player_minutes_sum"].where(by_team["minutes"].count() == by_team.size())
    tb = tb.merge(sums.reset_index(), on=["game_id", "team_id"], how="left")
    # A feed without the official team total (e.g. the 2023-24 replay) leaves tov NULL: team turnovers are then
    # unknown (NULL, not 0) and possessions and usage use the players' sum, a lower bound, marked in quality_issues.
    tov_unknown = tb["tov"].isna() & tb["player_tov_sum"].notna()
    tb["team_turnovers"] = (tb["tov"] - tb["player_tov_sum"]).astype("Int64")
    tb["tov"] = tb["tov"].astype("Int64").fillna(tb["player_tov_sum"].astype("Int64"))

    opp = tb[["game_id", "team_id", *_OPP_COLUMNS]].dropna(subset=["game_id"]).rename(
        columns={"team_id": "opponent_team_id", **{c: f"opp_{c}" for c in _OPP_COLUMNS}}
    )
    opp = opp.drop_duplicates(["game_id", "opponent_team_id"])
    tb = tb.merge(opp, on=["game_id", "opponent_team_id"], how="left")

    team_poss = _shooting_possessions(tb["fga"], tb["fta"], tb["oreb"], tb["opp_dreb"], tb["fgm"], tb["tov"])
    opp_poss = _shooting_possessions(tb["opp_fga"], tb["opp_fta"], tb["opp_oreb"], tb["dreb"], tb["opp_fgm"], tb["opp_tov"])
    tb["possessions"] = (0.5 * (team_poss + opp_poss)).astype("Float64")
    tb["pace"] = safe_ratio(48 * tb["possessions"], tb["team_minutes"] / 5)
    tb["offensive_rating"] = safe_ratio(100 * tb["pts"], tb["possessions"])
    tb["season"] = season_labels(tb["game_date"])

    quality = score_rows(
        tb.index,
        {
            "unmatched_game_id": (tb["game_id"].isna(), 60),
            "missing_opponent_row": (tb["opp_pts"].isna(), 40),
            # A broken player feed is judged on player_game_summary (usage_rate); here it only marks the row,
            # since the team totals themselves stand (the players_reconcile warning names such games).
            "points_do_not_reconcile": (tb["pts"] != tb["player_pts_sum"], 10),
            "no_player_rows": (tb["player_pts_sum"].isna(), 10),
            "bad_minutes": (tb["team_minutes"].isna() | (tb["team_minutes"] < 240), 20),
            "turnovers_do_not_reconcile": (
                (tb["team_turnovers"] < 0) | (tb["team_turnovers"] > max_team_turnover_excess), 15
            ),
            "team_turnovers_unknown": (tov_unknown, 5),
            "impossible_stats": (impossible_stats(tb.assign(minutes=None)), 40),
        },
    )
    tb = pd.concat([tb, quality], axis=1)
    tb["production_ready"] = ((tb["quality_score"] >= 75) & tb["possessions"].notna()).astype("boolean")
    tb["player_pts_sum"] = tb["player_pts_sum"].astype("Int64")
    return schemas.conform(tb, TEAM_OFFENSE, "team_offense_game_summary")
