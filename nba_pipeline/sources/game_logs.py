"""Seasons of history from files: any season replayed from NBA.com game-log exports, several seasons in one source.

A folder (`directories`, or NBA_PIPELINE_GAME_LOG_DIRS, ':'-separated) is one of:
- **NBA.com game-log exports**: `player_game_logs*.csv[.gz]` and `team_game_logs*.csv[.gz]`, with the columns of the
  stats API's `leaguegamelog` in player and team mode (SEASON_ID, PLAYER_ID, PLAYER_NAME, TEAM_ID, TEAM_ABBREVIATION,
  GAME_ID, GAME_DATE, MATCHUP, MIN, FGM … TOV, PF, PTS, PLUS_MINUS); one file or several, one season or many (the
  package ships the real 2022-23 season so, `data/season_2022_23`);
- **the 2023-24 files shipped in the package** (`games.ndjson` + `player_boxscores.csv.gz`): read by
  `sources.replay`, quirks handled there in the open (no ids, relabelled columns, team turnovers unknown).
Every folder's feeds are concatenated, so one backfill over several seasons reads all of them.

From the exports: the schedule is the team log's games (home: `MATCHUP` 'BOS vs. NYK', away 'BOS @ NYK'; Final;
tip-off unknown), player and team box scores as exported (team turnovers official), whole or fractional minutes
served as a game clock; the points book is the replay's synthetic one (`replay.synthetic_lines`: pre-game form
only, not a market); shot zones, injury reports and crews are empty frames of their schema. A missing column is
an error naming the file and the columns before anything is served; a cell that is not a number is NULL and named
in the row's `unreadable` column (`schemas.conform_raw`), so `matches_schema` fails its date by name.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.sources.base import NbaSource
from nba_pipeline.sources.replay import BOX_SCORES_FILE, GAMES_FILE, ReplayDataError, replay_season, synthetic_lines

STATS = {"FGM": "fgm", "FGA": "fga", "FG3M": "fg3m", "FG3A": "fg3a", "FTM": "ftm", "FTA": "fta", "OREB": "oreb", "DREB": "dreb",
         "REB": "reb", "AST": "ast", "STL": "stl", "BLK": "blk", "TOV": "tov", "PF": "pf", "PTS": "pts", "PLUS_MINUS": "plus_minus"}
KEYS = ["GAME_ID", "GAME_DATE", "MATCHUP", "TEAM_ID", "TEAM_ABBREVIATION", "MIN"]
PLAYER_COLUMNS = [*KEYS, "PLAYER_ID", "PLAYER_NAME", *STATS]
TEAM_COLUMNS = [*KEYS, *STATS]
EMPTY_FEEDS = ("shot_zones", "injury_report", "referee_assignments")


def _read(folder: Path, pattern: str, columns: list[str]) -> pd.DataFrame:
    files = sorted(folder.glob(f"{pattern}*.csv")) + sorted(folder.glob(f"{pattern}*.csv.gz"))
    if not files:
        raise ReplayDataError(f"game logs: no {pattern}*.csv[.gz] in {folder}")
    frames = []
    for path in files:
        frame = pd.read_csv(path, dtype={"GAME_ID": str, "MIN": str}, keep_default_na=False, na_values=[""])
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ReplayDataError(f"{path}: missing column(s) {missing} (NBA.com game-log exports have them)")
        frames.append(frame[columns])
    return pd.concat(frames, ignore_index=True).drop_duplicates()


def game_clock(minutes: pd.Series) -> pd.Series:
    """MIN as exported ('34', '33.7', '34:12', blank for did not play) as the raw feeds' game clock; text that is none
    of these is passed through for `matches_schema` to name."""
    text = minutes.astype("string").str.strip()
    number = pd.to_numeric(text, errors="coerce")
    whole = np.floor(number)
    clock = whole.astype("Int64").astype("string") + ":" + ((number - whole) * 60).round().astype("Int64").astype("string").str.zfill(2)
    return clock.where(number.notna(), text.where(text != ""))


def _schedule(teams: pd.DataFrame) -> pd.DataFrame:
    home = teams[teams["MATCHUP"].str.contains(" vs. ", regex=False)]
    away = teams[teams["MATCHUP"].str.contains(" @ ", regex=False)]
    games = home.merge(away, on="GAME_ID", suffixes=("_h", "_a"))
    date = to_datetime(games["GAME_DATE_h"])
    return pd.DataFrame(
        {
            "game_id": games["GAME_ID"], "game_date": date, "season": season_labels(date), "tipoff_et": pd.NaT,
            "home_team_id": games["TEAM_ID_h"], "home_team": games["TEAM_ABBREVIATION_h"],
            "away_team_id": games["TEAM_ID_a"], "away_team": games["TEAM_ABBREVIATION_a"], "game_status": "Final",
        }
    )


def _box(logs: pd.DataFrame) -> pd.DataFrame:
    frame = logs.rename(columns={"GAME_ID": "game_id", "TEAM_ID": "team_id", "TEAM_ABBREVIATION": "team_abbreviation", **STATS})
    frame["game_date"] = to_datetime(logs["GAME_DATE"])
    frame["minutes"] = game_clock(logs["MIN"])
    return frame


@lru_cache(maxsize=8)
def load_game_logs(folder: str) -> dict[str, pd.DataFrame]:
    """Every feed of the seasons exported in `folder`, conformed (module docstring)."""
    directory = Path(folder)
    players, teams = _read(directory, "player_game_logs", PLAYER_COLUMNS), _read(directory, "team_game_logs", TEAM_COLUMNS)
    schedule = schemas.conform_raw(_schedule(teams), "schedule")
    player_box = _box(players).rename(columns={"PLAYER_ID": "player_id", "PLAYER_NAME": "player_name"})
    player_box = player_box.assign(start_position=pd.NA, comment="", played_minutes=pd.to_numeric(players["MIN"], errors="coerce"))
    box = schemas.conform_raw(player_box, "player_boxscores")
    priced = box.assign(played_minutes=player_box["played_minutes"].astype("Float64"))
    feeds = {
        "schedule": schedule,
        "player_boxscores": box,
        "team_boxscores": schemas.conform_raw(_box(teams), "team_boxscores"),
        "prop_lines": schemas.conform_raw(synthetic_lines(priced[priced["played_minutes"].notna()], schedule), "prop_lines"),
    }
    feeds.update({feed: schemas.empty(schemas.RAW_SCHEMAS[feed], feed) for feed in EMPTY_FEEDS})
    return feeds


def folder_feeds(folder: str) -> dict[str, pd.DataFrame]:
    """A folder's feeds, whichever of the two layouts it holds."""
    directory = Path(folder)
    if (directory / GAMES_FILE).is_file() and (directory / BOX_SCORES_FILE).is_file():
        return replay_season(folder).feeds
    if not directory.is_dir():
        raise ReplayDataError(f"game logs: {folder} is not a folder")
    return load_game_logs(folder)


class GameLogFilesSource(NbaSource):
    """Seasons from files (module docstring): every folder of `directories`, served as one source."""

    directories: list[str] = Field(description="Folders of NBA.com game-log exports, or of the 2023-24 package files.")

    @classmethod
    def from_environment(cls) -> GameLogFilesSource:
        dirs = [d for d in os.environ.get("NBA_PIPELINE_GAME_LOG_DIRS", "").split(os.pathsep) if d]
        if not dirs:
            raise ValueError("NBA_PIPELINE_SOURCE=game_logs needs NBA_PIPELINE_GAME_LOG_DIRS: folders of game-log exports, ':'-separated")
        return cls(directories=dirs)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.feeds()  # a missing folder, file or column fails the run before any step starts

    def feeds(self) -> dict[str, pd.DataFrame]:
        loaded = [folder_feeds(d) for d in self.directories]
        return {feed: pd.concat([f[feed] for f in loaded], ignore_index=True) for feed in schemas.RAW_SCHEMAS}

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if feed not in schemas.RAW_SCHEMAS:
            raise ValueError(f"unknown feed {feed!r}")
        frame = self.feeds()[feed]
        return frame[frame["game_date"].between(pd.Timestamp(start), pd.Timestamp(end))].reset_index(drop=True)
