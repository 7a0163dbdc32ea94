"""Raw assets: each fetches its feed for the run's game dates from the bound source and stores it as delivered."""


import dagster as dg
import pandas as pd

from nba_pipeline.raw import checks
from nba_pipeline.sources import NbaSource
from nba_pipeline.tables import Table, published_table

RAW_FEEDS = {
    "schedule": (
        "One row per scheduled game: NBA.com game id, Eastern game date, tip-off, home/away teams, status at fetch. "
        "Source: the bound NbaSource's schedule feed.",
        checks.SCHEDULE_RULES,
    ),
    "player_boxscores": (
        "One row per rostered player per final game (DNP rows included), NBA.com traditional box score columns. "
        "Source: box-score feed.",
        checks.PLAYER_BOXSCORE_RULES,
    ),
    "team_boxscores": (
        "One row per team per final game: team totals (team turnovers included). Source: box-score feed.",
        checks.TEAM_BOXSCORE_RULES,
    ),
    "shot_zones": (
        "One row per player with attempts in a game play-by-play covers: paint / mid-range / three attempts "
        "and makes. Source: play-by-play shot locations.",
        checks.SHOT_ZONE_RULES,
    ),
    "injury_report": (
        "One row per player listed on a game's injury report: status (Out / Questionable / Probable) and reason. "
        "Source: the league's injury report.",
        checks.INJURY_REPORT_RULES,
    ),
    "prop_lines": (
        "One row per player per game with a points prop: line and over/under prices. Source: sportsbook feed.",
        checks.PROP_LINE_RULES,
    ),
}


def _raw_asset(feed: str, description: str, rules) -> dg.AssetsDefinition:
    def fetch(source: NbaSource, dates: list[pd.Timestamp], context: dg.AssetExecutionContext) -> Table:
        frame = source.fetch_conformed(feed, dates[0].date(), dates[-1].date())
        context.log.info(f"{feed}: {len(frame)} rows for {len(dates)} game date(s) {dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}")
        return Table(frame, schedule=frame if feed == "schedule" else None)

    return published_table("raw", rules, name=feed, description=description)(fetch)


raw_assets = [_raw_asset(feed, description, rules) for feed, (description, rules) in RAW_FEEDS.items()]
