"""Raw assets: each fetches its feed for the run's game dates from the bound source and stores it as delivered."""


import dagster as dg
import pandas as pd

from nba_pipeline.plumbing.automation import DATES_NOT_FINAL
from nba_pipeline.raw import checks
from nba_pipeline.raw.lines import append_snapshots
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
        "and makes. Source: shot locations (production: NBA.com `shotchartdetail`, every attempt with its zone).",
        checks.SHOT_ZONE_RULES,
    ),
    "injury_report": (
        "One row per player listed on a game's injury report per version: status (Out / Doubtful / Questionable / "
        "Probable / Available), reason and the time of the report version (`report_at`); every version published "
        "is kept, and readers take the latest one before each game's tip-off (`raw.injuries.latest_before_tipoff`). "
        "Source: the league's injury report, posted the evening before and updated on the game day "
        "(`injury_report_discovery` polls for new versions).",
        checks.INJURY_REPORT_RULES,
    ),
    "prop_lines": (
        "One row per change of a player's points prop: line, over/under prices and `snapshot_at`, when the book "
        "posted that number. Every refresh appends the lines that moved, so a date's line movement is kept, never "
        "overwritten; readers take the latest snapshot (`raw.lines.current_lines`). Source: sportsbook feed, from "
        "the game day's morning until tip-off (`line_refresh_*` schedules).",
        checks.PROP_LINE_RULES,
    ),
    "referee_assignments": (
        "One row per official per game: id, name, role (Crew Chief / Referee / Umpire). Source: the league's "
        "referee assignments, posted on the game day's morning (`referee_discovery` polls until every game has a crew).",
        checks.REFEREE_RULES,
    ),
}


def feed_metadata(feed: str, frame: pd.DataFrame) -> dict[str, object]:
    """What the day's sensors read back from the instance (no warehouse query): how far a feed has got."""
    if feed == "schedule":
        final = frame["game_status"] == "Final"
        open_dates = sorted(frame.loc[~final, "game_date"].dt.strftime("%Y-%m-%d").unique())
        return {
            "games_scheduled": len(frame),
            "games_final": int(final.sum()),
            "games_not_final": int((~final).sum()),
            DATES_NOT_FINAL: ", ".join(open_dates) or "none",
        }
    if feed == "injury_report":
        return {"latest_report_at": str(frame["report_at"].max()) if len(frame) else "none"}
    if feed == "referee_assignments":
        return {"games_with_crews": int(frame["game_id"].nunique())}
    if feed == "prop_lines":
        return {"snapshots": int(frame["snapshot_at"].nunique()), "latest_snapshot_at": str(frame["snapshot_at"].max()) if len(frame) else "none"}
    return {}


def _raw_asset(feed: str, description: str, rules) -> dg.AssetsDefinition:
    def fetch(source: NbaSource, dates: list[pd.Timestamp], context: dg.AssetExecutionContext) -> Table:
        frame = source.fetch_conformed(feed, dates[0].date(), dates[-1].date())
        context.log.info(f"{feed}: {len(frame)} rows for {len(dates)} game date(s) {dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}")
        return Table(frame, metadata=feed_metadata(feed, frame), schedule=frame if feed == "schedule" else None)

    return published_table("raw", rules, name=feed, description=description)(fetch)


def _line_snapshots(description: str, rules) -> dg.AssetsDefinition:
    def fetch_lines(source: NbaSource, dates: list[pd.Timestamp], previous: pd.DataFrame | None, context: dg.AssetExecutionContext) -> Table:
        fetched = source.fetch_conformed("prop_lines", dates[0].date(), dates[-1].date())
        frame = append_snapshots(previous if previous is not None else fetched.iloc[:0], fetched)
        added = len(frame) - (0 if previous is None else len(previous))
        context.log.info(f"prop_lines: {len(fetched)} lines on the board, {added} new or moved since the last refresh")
        return Table(frame, metadata={**feed_metadata("prop_lines", frame), "lines_new_or_moved": added})

    return published_table("raw", rules, name="prop_lines", description=description)(fetch_lines)


raw_assets = [
    _line_snapshots(description, rules) if feed == "prop_lines" else _raw_asset(feed, description, rules)
    for feed, (description, rules) in RAW_FEEDS.items()
]
