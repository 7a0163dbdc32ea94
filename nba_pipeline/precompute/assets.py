"""Precompute assets: per date's pre-game slate, windows over the season before it and the state prediction reads.

Partition D means "the slate of games on D as known before tip-off": rows come from D's schedule, D's points
lines and box scores before D; history inputs are mapped to the days *before* D (`season_history_before`)."""

import dagster as dg
import pandas as pd

from nba_pipeline.checks.gate import READS, SEASON_SO_FAR
from nba_pipeline.partitions import season_history, season_history_before
from nba_pipeline.precompute import checks, composite_factors, daily_cache, windows
from nba_pipeline.precompute.composite_factors import (
    build_player_composite_factors,
    missing_history,
    unmaterialized_history,
)
from nba_pipeline.precompute.daily_cache import POINTS_MARKET, build_player_daily_cache
from nba_pipeline.raw.lines import current_lines
from nba_pipeline.tables import Table, published_table

# box-score history: the season so far up to the day before (D's games are not played when D is predicted)
_SEASON_BEFORE = dg.AssetIn(partition_mapping=season_history_before, metadata={READS: SEASON_SO_FAR})
# the schedule: the season so far *and* D itself (published days ahead: D's slate is known before tip-off)
_SEASON_THROUGH = dg.AssetIn(partition_mapping=season_history, metadata={READS: SEASON_SO_FAR})


def _on(dates: list[pd.Timestamp], frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["game_date"].isin(pd.DatetimeIndex(dates))]


@published_table(
    "precompute",
    checks.COMPOSITE_FACTOR_RULES,
    ins={"player_game_summary": _SEASON_BEFORE, "team_defense_game_summary": _SEASON_BEFORE, "schedule": _SEASON_THROUGH},
    code=[composite_factors, windows],
)
def player_composite_factors(
    context: dg.AssetExecutionContext,
    player_game_summary: pd.DataFrame,
    team_defense_game_summary: pd.DataFrame,
    schedule: pd.DataFrame,
    injury_report: pd.DataFrame,
    prop_lines: pd.DataFrame,
    dates: list[pd.Timestamp],
) -> Table:
    """One row per player on a date's slate, as known before tip-off: every player with a points line, plus every
    player whose team (that of his latest game this season before the date) plays that day. Opponent and venue
    from the schedule; 7-game usage average, projected usage, usage spike score and its context (rest,
    back-to-back, teammates out, opponent defense), 5/10-game points and minutes averages, their EWMAs (halflives 3-20
    games) and last game, shot-volume and usage EWMAs, completeness flags
    with reasons. Nothing in a row depends on whether the date's games were played.

    Source: analytics.player_game_summary and analytics.team_defense_game_summary for the date's season *before*
    the date (a 200-day lookback mapping ending the day before, read and gated within the season), raw.schedule
    for the season through the date (slate, bootstrap, history completeness), the date's raw.injury_report (the version in
    force at each game's tip-off) and raw.prop_lines (the latest snapshot of each line). Exists for a date as soon as its schedule, injury report and lines are in and every earlier
    date of the season passed — before its games tip off.
    """
    prop_lines = current_lines(prop_lines)
    frame = build_player_composite_factors(
        player_game_summary, team_defense_game_summary, schedule, injury_report, prop_lines, dates
    )
    bootstrap = frame.groupby("game_date")["bootstrap_date"].all()
    eligible = frame[frame["games_before"] >= 7]
    extra = {"l7_populated_pct_outside_bootstrap": 100 * eligible["avg_usage_rate_last_7_games"].notna().mean()} if len(eligible) else {}
    extra["bootstrap"] = f"skipped: bootstrap, {int(bootstrap.sum())} dates" if bootstrap.any() else "none"
    lines = _on(dates, prop_lines)
    stored = context.instance.get_materialized_partitions(dg.AssetKey("player_game_summary"))
    history = pd.concat(
        [missing_history(schedule, player_game_summary, dates), unmaterialized_history(stored, dates)], axis=1
    )
    return Table(
        frame,
        metadata=extra,
        schedule=_on(dates, schedule),
        reference={
            checks.PROP_LINES: lines[lines["market"] == POINTS_MARKET],
            checks.MISSING_HISTORY: history.rename_axis("game_date").reset_index(),
        },
    )


@published_table("precompute", checks.DAILY_CACHE_RULES, code=[daily_cache])
def player_daily_cache(
    player_composite_factors: pd.DataFrame, injury_report: pd.DataFrame, prop_lines: pd.DataFrame, schedule: pd.DataFrame
) -> Table:
    """One row per player on a date's pre-game slate: his composite factors, his own injury status and his points
    line — the latest state prediction needs, all known before tip-off. Source: precompute.player_composite_factors,
    raw.injury_report (the version in force at each game's tip-off, from raw.schedule), raw.prop_lines (latest
    snapshot of each line), for the same dates."""
    lines = current_lines(prop_lines)
    frame = build_player_daily_cache(player_composite_factors, injury_report, lines, schedule)
    return Table(
        frame, metadata={"players_with_lines": int(frame["has_prop_line"].sum())}, reference={checks.PROP_LINES: lines}
    )


precompute_assets = [player_composite_factors, player_daily_cache]
