"""Rules for the analytics tables: completeness against the schedule, usage/minutes population, quality."""

from __future__ import annotations

import pandas as pd

from nba_pipeline.checks import names
from nba_pipeline.checks.factories import (
    MAX_NAMED,
    min_mean,
    min_share,
    no_bad_rows,
    no_duplicate_keys,
)
from nba_pipeline.checks.rules import CheckInputs, CheckRule, verdicts_by_date
from nba_pipeline.config import Thresholds
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.metadata import Measure, by_date_and_season

REGULATION_PLAYER_MINUTES, OVERTIME_PLAYER_MINUTES = 240, 25  # five players for 48 minutes; for each 5-minute overtime


def _played(f: pd.DataFrame) -> pd.Series:
    return f["played"].fillna(False)


def _everyone(f: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=f.index)


def _ids(values) -> str:
    values = sorted(set(map(str, values)))
    return ", ".join(values[:MAX_NAMED]) + (f" (+{len(values) - MAX_NAMED} more)" if len(values) > MAX_NAMED else "")


def _scheduled_games_complete(inputs: CheckInputs) -> pd.DataFrame:
    """Every scheduled game is final and has exactly two team rows; rows that match no game are named.

    Counted for all dates at once; only failing dates get their problems spelled out."""
    f, schedule = inputs.frame, inputs.schedule
    rows_per_game = f.dropna(subset=["game_id"]).groupby("game_id").size()
    games = schedule[["game_id", "game_status"]].assign(game_date=to_datetime(schedule["game_date"]))
    games["team_rows"] = games["game_id"].map(rows_per_game).fillna(0).astype(int)
    games["not_final"] = games["game_status"] != "Final"
    games["wrong"] = (games["team_rows"] != 2) & ~games["not_final"]
    row_dates = to_datetime(f["game_date"])
    unmatched = f[f["game_id"].isna()]
    per_date = games.groupby("game_date").agg(scheduled=("game_id", "size"), not_final=("not_final", "sum"), wrong=("wrong", "sum"))
    per_date["rows"] = row_dates.value_counts().reindex(per_date.index, fill_value=0)
    per_date["value"] = 100.0 * (per_date["scheduled"] - per_date["not_final"] - per_date["wrong"]) / per_date["scheduled"]
    problems = pd.concat(
        [
            games[games["not_final"]].groupby("game_date")["game_id"].agg(lambda g: f"not final yet: {_ids(g)}"),
            games[games["wrong"]].assign(label=lambda g: g["game_id"] + " (" + g["team_rows"].astype(str) + ")")
            .groupby("game_date")["label"].agg(lambda g: f"games without exactly two team rows: {_ids(g)}"),
            unmatched.groupby(to_datetime(unmatched["game_date"]))["source_game_id"].agg(
                lambda g: f"rows matching no scheduled game: {_ids(g)}"
            ),
        ],
        axis=1,
    )
    detail = problems.apply(lambda r: "; ".join(r.dropna()), axis=1) if not problems.empty else pd.Series(dtype=str)
    per_date["detail"] = detail.reindex(per_date.index).fillna("")
    per_date["passed"] = per_date["detail"] == ""
    return verdicts_by_date(per_date[["rows", "value", "passed", "detail"]].reset_index(names="game_date"), inputs)


def _team_minutes_invalid(f: pd.DataFrame, t: Thresholds) -> pd.Series:
    """Team minutes that are not player-minutes of a game (240 + 25 per overtime), or that disagree with the sum of
    the team's player minutes when those players reconcile on points (otherwise the player feed is at fault, and
    players_reconcile / usage_rate_populated say so). Game minutes (48, 53) fail both."""
    tol = t.team_offense_game_summary.team_minutes_tolerance
    minutes = f["team_minutes"].astype("Float64")
    overtimes = ((minutes - REGULATION_PLAYER_MINUTES) / OVERTIME_PLAYER_MINUTES).round().clip(lower=0)
    off_grid = (minutes - (REGULATION_PLAYER_MINUTES + OVERTIME_PLAYER_MINUTES * overtimes)).abs() > tol
    players_reconcile = (f["pts"] == f["player_pts_sum"]).fillna(False) & f["player_minutes_sum"].notna()
    disagree = players_reconcile & ((minutes - f["player_minutes_sum"]).abs() > tol).fillna(False)
    return (minutes.isna() | off_grid.fillna(True) | disagree).astype(bool)


TEAM_OFFENSE_RULES = [
    CheckRule(
        names.SCHEDULED_GAMES_COMPLETE,
        "Every scheduled game of the date is final and present with exactly two team rows.",
        _scheduled_games_complete,
        worse="lower",  # value: % of scheduled games complete
    ),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["source_game_id", "team_id"]),
    no_bad_rows(
        names.TEAM_MINUTES_VALID,
        "Team minutes are player-minutes, 240 plus 25 per overtime (not game minutes: 48 would make usage_rate a "
        "fifth of the truth), and equal the sum of the team's player minutes when the players reconcile on points, "
        "within the configured tolerance.",
        _team_minutes_invalid,
        ["source_game_id", "team_id"],
    ),
    min_mean(
        names.AVG_QUALITY_SCORE,
        "Average row quality score is at least the configured minimum.",
        "quality_score",
        _everyone,
        lambda t: t.team_offense_game_summary.avg_quality_score_min,
        unit="/100",
    ),
    min_share(
        names.PRODUCTION_READY,
        "Share of production-ready team-games is at least the configured minimum.",
        lambda f: f["production_ready"],
        _everyone,
        lambda t: t.team_offense_game_summary.production_ready_min_pct,
    ),
]

TEAM_OFFENSE_RULES.append(
    no_bad_rows(
        names.PLAYERS_RECONCILE,
        "Team points equal the sum of the team's player rows (warning: a player-feed fault shows up as NULL usage_rate).",
        lambda f, _: (f["pts"] != f["player_pts_sum"]).fillna(True),
        ["source_game_id", "team_id"],
        blocking=False,
    )
)

TEAM_OFFENSE_RULES.append(
    no_bad_rows(
        names.TEAM_TURNOVERS_KNOWN,
        "The feed gives each team's official turnovers (team turnovers included). Warning: where it does not, "
        "team_turnovers is NULL and possessions and usage_rate use the players' sum, a lower bound.",
        lambda f, _: f["quality_issues"].str.contains("team_turnovers_unknown", regex=False),
        ["source_game_id", "team_id"],
        blocking=False,
    )
)

TEAM_DEFENSE_RULES = [
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_id", "team_id"]),
    no_bad_rows(
        names.OPPONENT_MATCHED,
        "Every team-game found its opponent's offense (points allowed is known).",
        lambda f, _: f["points_allowed"].isna(),
        ["game_id", "team_id"],
    ),
]

PLAYER_GAME_SUMMARY_RULES = [
    min_share(
        names.USAGE_RATE_POPULATED,
        "usage_rate is populated for at least the configured share of players who played.",
        lambda f: f["usage_rate"].notna(),
        _played,
        lambda t: t.player_game_summary.usage_rate_populated_min_pct,
    ),
    min_share(
        names.MINUTES_POPULATED,
        "minutes is populated for at least the configured share of players who played.",
        lambda f: f["minutes"].notna(),
        _played,
        lambda t: t.player_game_summary.minutes_populated_min_pct,
    ),
    min_share(
        names.SHOT_ZONE_COVERAGE,
        "Shot zones exist for at least the configured share of players with attempts (warning: coverage is partial).",
        lambda f: f["has_shot_zones"],
        lambda f: _played(f) & (f["fga"] > 0).fillna(False),
        lambda t: t.player_game_summary.shot_zone_coverage_min_pct,
        blocking=False,
    ),
    min_mean(
        names.AVG_QUALITY_SCORE,
        "Average quality score of players who played is at least the configured minimum.",
        "quality_score",
        _played,
        lambda t: t.player_game_summary.avg_quality_score_min,
        unit="/100",
    ),
    min_share(
        names.PRODUCTION_READY,
        "Share of production-ready rows among players who played is at least the configured minimum.",
        lambda f: f["production_ready"],
        _played,
        lambda t: t.player_game_summary.production_ready_min_pct,
    ),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["source_game_id", "player_id"]),
]


def team_offense_quality(f: pd.DataFrame) -> pd.DataFrame:
    """Per date and season, over the populations of the rules above: average quality score, production-ready %
    and % of team-games whose points reconcile with their players (plotted in the UI)."""
    everyone = _everyone(f)
    return by_date_and_season(f["game_date"], {
        "avg_quality_score": Measure(f["quality_score"], everyone, scale=1.0),
        "production_ready_pct": Measure(f["production_ready"], everyone),
        "players_reconcile_pct": Measure((f["pts"] == f["player_pts_sum"]).fillna(False), everyone),
    })


def player_game_quality(f: pd.DataFrame) -> pd.DataFrame:
    """Per date and season, over the populations of the rules above: usage_rate populated %, shot-zone coverage %,
    production-ready % and average quality score of players who played (plotted in the UI)."""
    played = _played(f)
    return by_date_and_season(f["game_date"], {
        "usage_rate_populated_pct": Measure(f["usage_rate"].notna(), played),
        "shot_zone_coverage_pct": Measure(f["has_shot_zones"].fillna(False), played & (f["fga"] > 0).fillna(False)),
        "production_ready_pct": Measure(f["production_ready"].fillna(False), played),
        "avg_quality_score": Measure(f["quality_score"], played, scale=1.0),
    })
