"""Analytics assets: thin wrappers that run the pure transforms over the run's game dates and check the result."""


import dagster as dg
import pandas as pd

from nba_pipeline.analytics import checks
from nba_pipeline.analytics.player_game_summary import build_player_game_summary
from nba_pipeline.analytics.team_defense import build_team_defense
from nba_pipeline.analytics.team_offense import build_team_offense
from nba_pipeline.checks.gate import refuse_failed_upstream
from nba_pipeline.checks.runner import check_results, check_specs
from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.metadata import frame_summary
from nba_pipeline.tables import daily_table

_ANALYTICS = daily_table("analytics")


@dg.asset(check_specs=check_specs(checks.TEAM_OFFENSE_RULES, "team_offense_game_summary"), **_ANALYTICS)
def team_offense_game_summary(
    context: dg.AssetExecutionContext,
    team_boxscores: pd.DataFrame,
    player_boxscores: pd.DataFrame,
    schedule: pd.DataFrame,
    thresholds: ThresholdsResource,
):
    """One row per team per game: possessions, pace, offensive rating, the team totals usage needs, quality.

    Source: raw.team_boxscores joined to raw.schedule (opponent) and raw.player_boxscores (reconciliation),
    all game ids normalised first.
    """
    refuse_failed_upstream(context)
    limits = thresholds.load()
    frame = build_team_offense(team_boxscores, player_boxscores, schedule, limits.team_boxscores.max_team_turnover_excess)
    yield dg.Output(frame, metadata=frame_summary(frame, avg_quality_score=frame["quality_score"].mean() if len(frame) else 100))
    yield from check_results(context, checks.TEAM_OFFENSE_RULES, frame, limits, schedule)


@dg.asset(check_specs=check_specs(checks.TEAM_DEFENSE_RULES, "team_defense_game_summary"), **_ANALYTICS)
def team_defense_game_summary(
    context: dg.AssetExecutionContext, team_offense_game_summary: pd.DataFrame, thresholds: ThresholdsResource
):
    """One row per team per game: points allowed, defensive rating, opponent shooting, forced turnovers.

    Source: analytics.team_offense_game_summary (each team's opponent row).
    """
    refuse_failed_upstream(context)
    frame = build_team_defense(team_offense_game_summary)
    yield dg.Output(frame, metadata=frame_summary(frame))
    yield from check_results(context, checks.TEAM_DEFENSE_RULES, frame, thresholds.load())


@dg.asset(check_specs=check_specs(checks.PLAYER_GAME_SUMMARY_RULES, "player_game_summary"), **_ANALYTICS)
def player_game_summary(
    context: dg.AssetExecutionContext,
    player_boxscores: pd.DataFrame,
    team_offense_game_summary: pd.DataFrame,
    shot_zones: pd.DataFrame,
    schedule: pd.DataFrame,
    thresholds: ThresholdsResource,
):
    """One row per player per game: minutes, box score, shot-zone shares, usage_rate, quality score and tier.

    Source: raw.player_boxscores joined (on normalised game ids) to analytics.team_offense_game_summary for team
    totals and raw.shot_zones for zone shares.
    """
    refuse_failed_upstream(context)
    limits = thresholds.load()
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
    yield dg.Output(frame, metadata=frame_summary(frame, **extra))
    yield from check_results(context, checks.PLAYER_GAME_SUMMARY_RULES, frame, limits, schedule)


analytics_assets = [team_offense_game_summary, team_defense_game_summary, player_game_summary]
