"""NBA.com stats API adapter: the live HTTP client and a recorded-response replay, sharing the same parsers.

Endpoints used: `leaguegamelog` (schedule and team box scores for a season) and `boxscoretraditionalv2`
(player and team box scores for one game). The stats API has no injury report or betting lines.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field

from nba_pipeline.league.seasons import seasons_overlapping
from nba_pipeline.sources.base import FeedNotAvailable, NbaSource

_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) nba_pipeline",
    "Referer": "https://www.nba.com/",
    "Origin": "https://www.nba.com",
    "Accept": "application/json",
}
SUPPORTED_FEEDS = ("schedule", "team_boxscores", "player_boxscores")


def _result_set(payload: dict[str, Any], name: str | None = None) -> pd.DataFrame:
    sets = payload["resultSets"]
    rs = next(s for s in sets if name is None or s["name"] == name)
    return pd.DataFrame(rs["rowSet"], columns=[h.lower() for h in rs["headers"]])


def parse_league_game_log(payload: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(schedule, team_boxscores) from a team-mode LeagueGameLog: two rows per game, 'AWY @ HOM' / 'HOM vs. AWY'."""
    log = _result_set(payload)
    log["game_date"] = pd.to_datetime(log["game_date"])
    home = log[log["matchup"].str.contains(" vs. ")]
    away = log[log["matchup"].str.contains(" @ ")]
    games = home.merge(away, on="game_id", suffixes=("_home", "_away"))
    start_year = games["season_id_home"].str[-4:].astype(int)
    schedule = pd.DataFrame(
        {
            "game_id": games["game_id"],
            "game_date": games["game_date_home"],
            "season": start_year.astype(str) + "-" + ((start_year + 1) % 100).astype(str).str.zfill(2),
            "tipoff_et": games["game_date_home"],
            "home_team_id": games["team_id_home"],
            "home_team": games["team_abbreviation_home"],
            "away_team_id": games["team_id_away"],
            "away_team": games["team_abbreviation_away"],
            "game_status": "Final",
        }
    )
    teams = log.rename(columns={"min": "minutes"}).assign(minutes=lambda d: d["minutes"].astype(str) + ":00")
    return schedule, teams


def parse_boxscore_traditional_v2(payload: dict[str, Any], game_date: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(player_boxscores, team_boxscores) for one game; the endpoint carries no date, the schedule supplies it."""
    renames = {"min": "minutes", "to": "tov"}
    players = _result_set(payload, "PlayerStats").rename(columns=renames)
    teams = _result_set(payload, "TeamStats").rename(columns=renames)
    for frame in (players, teams):
        frame["game_date"] = pd.Timestamp(game_date)
    players["comment"] = players["comment"].fillna("").str.strip()
    return players, teams


class NbaStatsApiSource(NbaSource):
    """Live stats.nba.com. Schedules and team box scores come from LeagueGameLog, players from box scores."""

    base_url: str = "https://stats.nba.com/stats"
    timeout_seconds: float = Field(30.0, gt=0)

    def get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        import requests

        response = requests.get(f"{self.base_url}/{endpoint}", params=params, headers=_HEADERS, timeout=self.timeout_seconds)
        response.raise_for_status()
        return response.json()

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if feed not in SUPPORTED_FEEDS:
            raise FeedNotAvailable(f"the NBA.com stats API has no {feed!r} feed; bind a source that provides it")
        schedules, team_logs = [], []
        for season in seasons_overlapping(start, end):
            payload = self.get(
                "leaguegamelog",
                {"LeagueID": "00", "Season": season.label, "SeasonType": "Regular Season", "PlayerOrTeam": "T"},
            )
            schedule, teams = parse_league_game_log(payload)
            schedules.append(schedule)
            team_logs.append(teams)
        if not schedules:
            return pd.DataFrame()
        schedule = pd.concat(schedules, ignore_index=True)
        in_range = schedule["game_date"].between(pd.Timestamp(start), pd.Timestamp(end))
        schedule = schedule[in_range]
        if feed == "schedule":
            return schedule
        if feed == "team_boxscores":
            teams = pd.concat(team_logs, ignore_index=True)
            return teams[teams["game_id"].isin(schedule["game_id"])]
        players = [
            parse_boxscore_traditional_v2(self.get("boxscoretraditionalv2", {"GameID": gid, **_WHOLE_GAME}), day)[0]
            for gid, day in zip(schedule["game_id"], schedule["game_date"].dt.date)
        ]
        return pd.concat(players, ignore_index=True) if players else pd.DataFrame()


_WHOLE_GAME = {"StartPeriod": 0, "EndPeriod": 0, "StartRange": 0, "EndRange": 0, "RangeType": 0}


class RecordedNbaStatsSource(NbaStatsApiSource):
    """Replays recorded responses from `directory` (files named like the result: LeagueGameLog.json, ...)."""

    directory: str

    def get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        names = {"leaguegamelog": "LeagueGameLog.json", "boxscoretraditionalv2": "BoxScoreTraditionalV2.json"}
        path = Path(self.directory) / names[endpoint]
        payload = json.loads(path.read_text())
        recorded = {k: v for k, v in payload.get("parameters", {}).items() if k in params}
        wanted = {k: params[k] for k in recorded}
        if recorded != wanted:
            raise FeedNotAvailable(f"no recording of {endpoint} for {params} in {self.directory} (have {recorded})")
        return payload
