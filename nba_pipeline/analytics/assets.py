"""Analytics assets: thin wrappers that run the pure transforms over the step's game dates."""

import pandas as pd

from nba_pipeline.analytics import box_scores, checks, game_ids, quality, team_defense, team_offense
from nba_pipeline.analytics import player_game_summary as pgs_module
from nba_pipeline.analytics.player_game_summary import build_player_game_summary
from nba_pipeline.analytics.team_defense import build_team_defense
from nba_pipeline.analytics.team_offense import build_team_offense
from nba_pipeline.plumbing.automation import analytics_eager
from nba_pipeline.config import Thresholds
from nba_pipeline.tables import Table, published_table


@published_table(
    "analytics", checks.TEAM_OFFENSE_RULES, code=[team_offense, box_scores, game_ids, quality], automation_condition=analytics_eager()
)
def team_offense_game_summary(
    team_boxscores: pd.DataFrame, player_boxscores: pd.DataFrame, schedule: pd.DataFrame, limits: Thresholds
) -> Table:
    """One row per team per game: possessions, pace, offensive rating, the team totals usage needs, quality.

    Source: raw.team_boxscores joined to raw.schedule (opponent) and raw.player_boxscores (reconciliation),
    all game ids normalised first. Exists for a date once every game of it is final and its raw feeds passed
    (automation waits while the stored schedule lists a game of the date as not final).
    """
    frame = build_team_offense(team_boxscores, player_boxscores, schedule, limits.team_boxscores.max_team_turnover_excess)
    quality = {"avg_quality_score": frame["quality_score"].mean()} if len(frame) else {}  # an off day has no score
    return Table(frame, metadata=quality, schedule=schedule, by_date=checks.team_offense_quality(frame))


@published_table("analytics", checks.TEAM_DEFENSE_RULES, code=[team_defense])
def team_defense_game_summary(team_offense_game_summary: pd.DataFrame) -> Table:
    """One row per team per game: points allowed, defensive rating, opponent shooting, forced turnovers.

    Source: analytics.team_offense_game_summary (each team's opponent row), for the same dates.
    """
    return Table(build_team_defense(team_offense_game_summary))


@published_table(
    "analytics",
    checks.PLAYER_GAME_SUMMARY_RULES,
    code=[pgs_module, box_scores, game_ids, quality],
    automation_condition=analytics_eager(),
)
def player_game_summary(
    player_boxscores: pd.DataFrame,
    team_offense_game_summary: pd.DataFrame,
    shot_zones: pd.DataFrame,
    schedule: pd.DataFrame,
    limits: Thresholds,
) -> Table:
    """One row per player per game: minutes, box score, shot-zone shares, usage_rate, quality score and tier.

    Source: raw.player_boxscores joined (on normalised game ids) to analytics.team_offense_game_summary for team
    totals and raw.shot_zones for zone shares. Exists for a date once its games are final and its upstream passed.
    """
    frame = build_player_game_summary(
        player_boxscores, team_offense_game_summary, shot_zones, schedule, limits.player_boxscores.max_minutes_per_game
    )
    played = frame[frame["played"].fillna(False)]
    extra = {}
    if len(played):
        extra = {
            "usage_rate_populated_pct": 100 * played["usage_rate"].notna().mean(),
            "avg_quality_score": played["quality_score"].mean(),
        }
    return Table(frame, metadata=extra, schedule=schedule, by_date=checks.player_game_quality(frame))


analytics_assets = [team_offense_game_summary, team_defense_game_summary, player_game_summary]
