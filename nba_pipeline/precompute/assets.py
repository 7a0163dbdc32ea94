"""Precompute assets: windows over each date's season history, and the per-player state prediction reads."""

import dagster as dg
import pandas as pd

from nba_pipeline.checks.gate import refuse_failed_upstream
from nba_pipeline.checks.runner import check_results, check_specs, window_dates
from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.metadata import frame_summary
from nba_pipeline.partitions import season_history
from nba_pipeline.precompute import checks
from nba_pipeline.precompute.composite_factors import (
    build_player_composite_factors,
    missing_history,
    unmaterialized_history,
)
from nba_pipeline.precompute.daily_cache import POINTS_MARKET, build_player_daily_cache
from nba_pipeline.tables import daily_table

_PRECOMPUTE = daily_table("precompute")


def _on(dates: list[pd.Timestamp], frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["game_date"].isin(pd.DatetimeIndex(dates))]


@dg.asset(
    ins={
        "player_game_summary": dg.AssetIn(partition_mapping=season_history),
        "team_defense_game_summary": dg.AssetIn(partition_mapping=season_history),
        "schedule": dg.AssetIn(partition_mapping=season_history),
    },
    check_specs=check_specs(checks.COMPOSITE_FACTOR_RULES, "player_composite_factors"),
    **_PRECOMPUTE,
)
def player_composite_factors(
    context: dg.AssetExecutionContext,
    player_game_summary: pd.DataFrame,
    team_defense_game_summary: pd.DataFrame,
    schedule: pd.DataFrame,
    injury_report: pd.DataFrame,
    thresholds: ThresholdsResource,
):
    """One row per player on a date's box score (DNPs flagged): 7-game usage average, projected usage, usage
    spike score and its context (rest, back-to-back, teammates out, opponent defense), 5/10-game points and
    minutes averages, completeness flags with reasons.

    Source: analytics.player_game_summary and analytics.team_defense_game_summary over the date's season so far
    (a 200-day lookback mapping), raw.schedule for bootstrap and history completeness, raw.injury_report.
    """
    refuse_failed_upstream(context)
    dates = window_dates(context)
    frame = build_player_composite_factors(player_game_summary, team_defense_game_summary, schedule, injury_report, dates)
    bootstrap = frame.groupby("game_date")["bootstrap_date"].all()
    eligible = frame[frame["games_before"] >= 7]
    extra = {"l7_populated_pct_outside_bootstrap": 100 * eligible["avg_usage_rate_last_7_games"].notna().mean()} if len(eligible) else {}
    metadata = frame_summary(frame, **extra)
    metadata["bootstrap"] = f"skipped: bootstrap, {int(bootstrap.sum())} dates" if bootstrap.any() else "none"
    yield dg.Output(frame, metadata=metadata)
    today = _on(dates, player_game_summary)
    stored = context.instance.get_materialized_partitions(dg.AssetKey("player_game_summary"))
    history = pd.concat(
        [missing_history(schedule, player_game_summary, dates), unmaterialized_history(stored, dates)], axis=1
    )
    yield from check_results(
        context,
        checks.COMPOSITE_FACTOR_RULES,
        frame,
        thresholds.load(),
        schedule=_on(dates, schedule),
        reference={
            checks.PLAYED: today[today["played"].fillna(False)],
            checks.MISSING_HISTORY: history.rename_axis("game_date").reset_index(),
        },
    )


@dg.asset(check_specs=check_specs(checks.DAILY_CACHE_RULES, "player_daily_cache"), **_PRECOMPUTE)
def player_daily_cache(
    context: dg.AssetExecutionContext,
    player_composite_factors: pd.DataFrame,
    injury_report: pd.DataFrame,
    prop_lines: pd.DataFrame,
    thresholds: ThresholdsResource,
):
    """One row per player per game date: his composite factors, his own injury status and his points line —
    the latest state prediction needs. Source: precompute.player_composite_factors, raw.injury_report,
    raw.prop_lines."""
    refuse_failed_upstream(context)
    frame = build_player_daily_cache(player_composite_factors, injury_report, prop_lines)
    yield dg.Output(frame, metadata=frame_summary(frame, players_with_lines=int(frame["has_prop_line"].sum())))
    lines = prop_lines[prop_lines["market"] == POINTS_MARKET]
    yield from check_results(context, checks.DAILY_CACHE_RULES, frame, thresholds.load(), reference={checks.PROP_LINES: lines})


precompute_assets = [player_composite_factors, player_daily_cache]
