"""The real 2023-24 regular season, replayed from published files (`nba_pipeline/data/`, see its SOURCES.md).

What the files are, and what this adapter does about each of their quirks (all of it visible downstream):

- no game ids in the box scores: every row joins to `games.ndjson` (NBA.com game ids) by date, home and away team;
  a row that matches no game is an error naming it, before anything is served;
- no player ids: each name is matched to its NBA.com person id through `player_ids.csv` (built by
  `scripts/replay_player_ids.py` from nba_api's static player list: every name of the package matches), so a player
  keeps one id across seasons and feeds (game logs of other seasons, vendor lines, the injury report); a name the
  file lacks (edited or other data) gets an id derived from the name, offset past NBA.com's ids, and a log line;
- `TO`, `STL` and `BLK` are mislabelled in the source (they hold steals, blocks and turnovers): `RELABELLED` maps
  them by content;
- whole minutes: served as '34:00'; a team's minutes are 240 + 25 per overtime, the overtimes read off the
  players' summed minutes (rounding moves that sum by at most a few minutes, an overtime by 25);
- team turnovers unknown: team `tov` is NULL, never the players' sum posing as the official total (analytics then
  uses the players' sum as a lower bound and its `team_turnovers_known` warning fails);
- the final week (Apr 9–14) is missing: those games are on the schedule, Final, with no box scores, so
  `scheduled_games_complete` fails for those dates;
- no shot zones, injury report or referee assignments: empty frames of the feed's schema (the shot-zone warning
  fails; no teammate is known to be out; no crews);
- a value the file cannot mean (minutes '-26', points 'abc', a name with markup) is served as read or, when it is
  not a number, as NULL named in the row's `unreadable` column (file, line, column, text): the feed's
  `matches_schema` check fails that date by name, and a team-game with such a player row is marked too;
- a game listed twice in `games.ndjson` stays twice on the schedule (its `no_duplicate_keys` fails) but is
  joined once;
- no betting lines: a **synthetic** book (`SYNTHETIC_BOOK`) prices each rotation player from what was known before
  the game only — see `synthetic_lines`. It is not a real market.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import SEASON_BY_LABEL
from nba_pipeline.league.teams import ID_BY_TRICODE
from nba_pipeline.raw.lines import POINTS_MARKET
from nba_pipeline.sources.base import NbaSource

SEASON = SEASON_BY_LABEL["2023-24"]
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "season_2023_24"
THRESHOLDS_PROFILE = Path(__file__).resolve().parent / "season_2023_24_thresholds.yaml"  # why: in the file
BOX_SCORES_FILE, GAMES_FILE, PLAYER_IDS_FILE = "player_boxscores.csv.gz", "games.ndjson", "player_ids.csv"
REGULAR_SEASON_PREFIX = SEASON.game_id_prefix  # '00223': play-in ('005') and playoff ('004') games are not partitions here
SYNTHETIC_BOOK = "synthetic: replay book (pre-game form, not a market)"
LINES_POSTED = pd.Timedelta(hours=9)  # the synthetic book's one snapshot per date, 09:00 ET
ROTATION_MINUTES = 16.0  # last-10 average minutes for the synthetic book to price a player
# SOURCES.md: checked against Basketball-Reference season totals, the source's TO column holds steals (r = 0.996),
# STL holds blocks (0.999) and BLK holds turnovers (0.998). Mapped by content, not by header.
RELABELLED = {"TO": "stl", "STL": "blk", "BLK": "tov"}
SAME_NAME = {"FGM": "fgm", "FGA": "fga", "3PM": "fg3m", "3PA": "fg3a", "FTM": "ftm", "FTA": "fta", "OREB": "oreb",
             "DREB": "dreb", "REB": "reb", "AST": "ast", "PF": "pf", "Points": "pts", "+/-": "plus_minus"}
BOX_COLUMNS = ["Player", "Team", "Opponent", "Date", "Minutes", *SAME_NAME, *RELABELLED]
EMPTY_FEEDS = ("shot_zones", "injury_report", "referee_assignments")  # the files have nothing of these


class ReplayDataError(ValueError):
    """The season's files are missing or do not hold what the replay expects (named: file, rows, why)."""


@dataclass(frozen=True)
class ReplaySeason:
    feeds: dict[str, pd.DataFrame]  # feed -> the whole season, conformed to its raw schema


def derived_ids(names: pd.Series) -> pd.Series:
    """A stable id per player name: the first 13 hex digits of the name's SHA-1, offset past NBA.com's person ids
    (< 2^31) so a derived id is never mistaken for a real one."""
    unique = names.drop_duplicates()
    ids = {name: (1 << 40) + int(hashlib.sha1(name.encode()).hexdigest()[:13], 16) for name in unique}
    if len(set(ids.values())) != len(ids):
        raise ReplayDataError("two player names hash to one id; widen the hash in derived_ids")
    return names.map(ids).astype("Int64")


def read_player_ids(path: Path) -> pd.Series:
    """name -> NBA.com person id, from `player_ids.csv` (empty when the folder has none). One id per name and one name
    per id, or an error naming them."""
    if not path.is_file():
        return pd.Series(dtype="Int64")
    table = pd.read_csv(path, dtype={"player_name": str, "nba_person_id": "Int64"})
    for column in ("player_name", "nba_person_id"):
        twice = table[column][table[column].duplicated()]
        if len(twice):
            raise ReplayDataError(f"{path}: {column} listed twice: {sorted(twice.astype(str).unique())[:5]}")
    return table.set_index("player_name")["nba_person_id"]


def player_ids(names: pd.Series, known: pd.Series | None = None) -> pd.Series:
    """Each name's NBA.com person id where `known` has it, else its derived id."""
    known = known if known is not None else pd.Series(dtype="Int64")
    real = names.map(known).astype("Int64")
    return real.fillna(derived_ids(names))


def read_box_score_names(path: Path) -> list[str]:
    """The distinct player names of a box-score file, as the replay reads them."""
    return sorted(pd.read_csv(path, usecols=["Player"])["Player"].str.strip().dropna().unique())


def load_games(path: Path) -> pd.DataFrame:
    """The regular season's schedule: every game in the file was played, so every game is Final. The file has no
    tip-off times (NULL, not a made-up hour)."""
    games = pd.read_json(path, lines=True, dtype={"gameId": str})
    games = games[games["gameId"].str.startswith(REGULAR_SEASON_PREFIX)]
    unknown = sorted(set(games["home"]).union(games["away"]) - set(ID_BY_TRICODE))
    if unknown:
        raise ReplayDataError(f"{path}: unknown team tricode(s) {unknown}")
    return pd.DataFrame(
        {
            "game_id": games["gameId"],
            "game_date": to_datetime(games["date"]),
            "season": SEASON.label,
            "tipoff_et": pd.NaT,
            "home_team_id": games["home"].map(ID_BY_TRICODE),
            "home_team": games["home"],
            "away_team_id": games["away"].map(ID_BY_TRICODE),
            "away_team": games["away"],
            "game_status": "Final",
            "home_score": games["homeScore"],
            "away_score": games["awayScore"],
        }
    ).reset_index(drop=True)


def _read_numbers(raw: pd.DataFrame, columns: dict[str, str], path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The file's numeric `columns` (theirs -> ours) as numbers, and per row the cells that are not whole numbers,
    named by our column, then file, line and their column ("pts='abc' (player_boxscores.csv.gz line 7, Points)").
    Every row is a player who played, so a blank is unreadable too. Those cells become NULL and the row fails
    `matches_schema`: never a silent NULL."""
    numbers = raw[list(columns)].apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0)
    line = pd.Series(raw.index + 2, index=raw.index).astype("string")  # +2: the header, and lines count from 1
    unreadable = pd.Series("", index=raw.index, dtype="string")
    for theirs, ours in columns.items():
        text = raw[theirs].astype("string").fillna("").str.slice(0, 40)
        note = ours + "='" + text + "' (" + path.name + " line " + line + f", {theirs})"
        unreadable = unreadable.where(~bad[theirs], unreadable.where(unreadable == "", unreadable + "; ") + note)
    return numbers.where(~bad), unreadable


def load_box_scores(path: Path, games: pd.DataFrame, known_ids: pd.Series | None = None) -> pd.DataFrame:
    """Player rows in the raw schema, each joined to its NBA.com game id by date + home + away."""
    raw = pd.read_csv(path)
    missing = [c for c in BOX_COLUMNS if c not in raw.columns]
    if missing:
        raise ReplayDataError(f"{path}: missing column(s) {missing}")
    matchup = raw["Opponent"].str.extract(r"^(?P<team>[A-Z]{3}) (?P<sep>@|vs\.) (?P<opp>[A-Z]{3})$")
    bad = matchup["team"].isna() | (matchup["team"] != raw["Team"]) | ~raw["Team"].isin(list(ID_BY_TRICODE))
    if bad.any():
        raise ReplayDataError(f"{path}: {int(bad.sum())} row(s) with an unreadable matchup or team, e.g. "
                              f"{raw.loc[bad, ['Player', 'Team', 'Opponent', 'Date']].head(3).to_dict('records')}")
    numbers, unreadable = _read_numbers(raw, {"Minutes": "minutes", **SAME_NAME, **RELABELLED}, path)
    played = numbers["Minutes"]
    home = matchup["sep"] == "vs."
    rows = pd.DataFrame(
        {
            "game_date": to_datetime(raw["Date"], format="%m/%d/%Y"),
            "home_team": matchup["team"].where(home, matchup["opp"]),
            "away_team": matchup["opp"].where(home, matchup["team"]),
            "team_abbreviation": raw["Team"],
            "team_id": raw["Team"].map(ID_BY_TRICODE),
            "player_name": raw["Player"].str.strip(),
            "start_position": pd.NA,  # the files do not say who started
            "comment": "",  # players who did not play are absent from the files
            # whole minutes, as published ('-26' is served as '-26:00' and fails the check); unreadable text as is
            "minutes": (played.astype("Int64").astype("string") + ":00").where(played.notna(), raw["Minutes"].astype("string")),
            "played_minutes": played,  # read by team_totals and synthetic_lines; not a raw column
            **{ours: numbers[theirs] for theirs, ours in {**SAME_NAME, **RELABELLED}.items()},
            schemas.UNREADABLE: unreadable,
        }
    )
    keyed = rows.merge(_joinable(games)[["game_id", "game_date", "home_team", "away_team"]], on=["game_date", "home_team", "away_team"], how="left")
    unmatched = keyed["game_id"].isna()
    if unmatched.any():
        raise ReplayDataError(f"{path}: {int(unmatched.sum())} row(s) match no regular-season game in {GAMES_FILE}, e.g. "
                              f"{keyed.loc[unmatched, ['player_name', 'game_date', 'home_team', 'away_team']].head(3).to_dict('records')}")
    keyed["player_id"] = player_ids(keyed["player_name"], known_ids)
    return keyed


def _joinable(games: pd.DataFrame) -> pd.DataFrame:
    """One row per game for joins: a game the file lists twice stays twice on the schedule feed, where
    `no_duplicate_keys` fails its date, but must not double the box scores joined to it."""
    return games.drop_duplicates(["game_date", "home_team", "away_team"]).drop_duplicates("game_id")


def team_totals(players: pd.DataFrame, games: pd.DataFrame) -> pd.DataFrame:
    """Team rows summed from the players. Minutes: 240 + 25 per overtime, the overtimes from the players' whole
    minutes. Turnovers: NULL — the players' sum leaves out team turnovers, which the files do not have. A team-game
    with an unreadable player row says so in its own `unreadable` column (its sums are not the team's)."""
    games = _joinable(games)
    stats = [c for c in schemas.BOX_STAT_COLUMNS if c not in ("tov", "plus_minus")]
    keys = ["game_id", "game_date", "team_id", "team_abbreviation"]
    teams = players.assign(_unreadable=players[schemas.UNREADABLE] != "").groupby(keys, as_index=False).agg(
        **{c: (c, "sum") for c in [*stats, "played_minutes"]}, _unreadable=("_unreadable", "sum")
    )
    overtimes = ((teams["played_minutes"] - 240) / 25).round().clip(lower=0).astype(int)
    teams["minutes"] = (240 + 25 * overtimes).astype(str) + ":00"
    teams["tov"] = pd.NA
    opponent = teams.groupby("game_id")["pts"].transform("sum") - teams["pts"]
    teams["plus_minus"] = teams["pts"] - opponent
    teams[schemas.UNREADABLE] = np.where(teams["_unreadable"] > 0, teams["_unreadable"].astype(str) + " player row(s) unreadable", "")
    scores = games.melt(id_vars="game_id", value_vars=["home_score", "away_score"], value_name="score")
    scores["team_id"] = np.where(scores["variable"] == "home_score",
                                 scores["game_id"].map(games.set_index("game_id")["home_team_id"]),
                                 scores["game_id"].map(games.set_index("game_id")["away_team_id"]))
    checked = teams.merge(scores[["game_id", "team_id", "score"]], on=["game_id", "team_id"], how="left")
    wrong = (checked["score"] != checked["pts"]) & (checked["_unreadable"] == 0)
    if wrong.any():  # SOURCES.md: team point sums equal official final scores in every game present
        raise ReplayDataError(f"{int(wrong.sum())} team-game(s) whose players' points differ from the final score, e.g. "
                              f"{checked.loc[wrong, ['game_id', 'team_abbreviation', 'pts', 'score']].head(3).to_dict('records')}")
    return teams.drop(columns="_unreadable")


def synthetic_lines(players: pd.DataFrame, games: pd.DataFrame) -> pd.DataFrame:
    """A synthetic points book, one snapshot per date at 09:00, priced only from games before the date.

    For each team playing on D, every player who played in that team's latest game with box scores before D and
    averages at least ROTATION_MINUTES over his last 10 games gets the line floor(0.55·last-10 + 0.45·season points
    average) + 0.5, at -110 both ways. The book knows no injuries (the files have none), so a priced player may not
    play: his bet is VOID, as a real book voids it."""
    games = _joinable(games)
    p = players[players[schemas.UNREADABLE] == ""].sort_values(["player_id", "game_date"], kind="stable")
    p = p.assign(pts=p["pts"].astype(float), played_minutes=p["played_minutes"].astype(float))
    by_player = p.groupby("player_id")
    last_10 = by_player[["pts", "played_minutes"]].rolling(10, min_periods=1).mean().reset_index(level=0, drop=True)
    form = p[["player_id", "player_name", "team_id", "team_abbreviation", "game_date"]].assign(
        last_10=last_10["pts"],
        season=by_player["pts"].cumsum() / (by_player.cumcount() + 1),
        minutes_10=last_10["played_minutes"],
    )
    form = form[form["minutes_10"] >= ROTATION_MINUTES]
    sides = pd.concat(
        [games[["game_id", "game_date", f"{side}_team_id"]].rename(columns={f"{side}_team_id": "team_id"}) for side in ("home", "away")],
        ignore_index=True,
    ).sort_values("game_date", kind="stable")
    played = players[["team_id", "game_date"]].drop_duplicates().rename(columns={"game_date": "previous_game"})
    sides = pd.merge_asof(
        sides, played.sort_values("previous_game"), left_on="game_date", right_on="previous_game",
        by="team_id", allow_exact_matches=False,
    ).dropna(subset=["previous_game"])
    priced = sides.merge(form.rename(columns={"game_date": "previous_game"}), on=["team_id", "previous_game"])
    line = np.maximum(np.floor(0.55 * priced["last_10"] + 0.45 * priced["season"]) + 0.5, 0.5)
    return pd.DataFrame(
        {
            "game_id": priced["game_id"],
            "game_date": priced["game_date"],
            "player_id": priced["player_id"],
            "player_name": priced["player_name"],
            "team_abbreviation": priced["team_abbreviation"],
            "market": POINTS_MARKET,
            "line": line,
            "over_odds": -110,
            "under_odds": -110,
            "sportsbook": SYNTHETIC_BOOK,
            "snapshot_at": priced["game_date"] + LINES_POSTED,
        }
    )


@lru_cache(maxsize=2)
def replay_season(data_dir: str) -> ReplaySeason:
    """Every feed of the season, read and conformed once per process (the files are small: ~1 s)."""
    directory = Path(data_dir)
    for name in (BOX_SCORES_FILE, GAMES_FILE):
        if not (directory / name).is_file():
            raise ReplayDataError(f"season replay: {directory / name} does not exist (data_dir={data_dir!r}); "
                                  f"the package ships it under {DATA_DIR}")
    games = load_games(directory / GAMES_FILE)
    players = load_box_scores(directory / BOX_SCORES_FILE, games, read_player_ids(directory / PLAYER_IDS_FILE))
    frames = {
        "schedule": games,
        "player_boxscores": players,
        "team_boxscores": team_totals(players, games),
        "prop_lines": synthetic_lines(players, games),
    }
    feeds = {feed: schemas.conform_raw(frame, feed) for feed, frame in frames.items()}
    feeds.update({feed: schemas.empty(schemas.RAW_SCHEMAS[feed], feed) for feed in EMPTY_FEEDS})
    return ReplaySeason(feeds)


class SeasonReplaySource(NbaSource):
    """The real 2023-24 regular season from files (see the module docstring for what is real and what is not)."""

    data_dir: str | None = Field(
        None, description=f"Directory holding {BOX_SCORES_FILE} and {GAMES_FILE}; default: the copy in the package."
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        replay_season(self.directory())  # missing or malformed files fail the run before any step starts

    def directory(self) -> str:
        return str(self.data_dir or DATA_DIR)

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        season = replay_season(self.directory())
        if feed not in season.feeds:
            raise ValueError(f"unknown feed {feed!r}; the replay serves {tuple(season.feeds)}")
        frame = season.feeds[feed]
        in_range = frame["game_date"].between(pd.Timestamp(start), pd.Timestamp(end))
        return frame[in_range].reset_index(drop=True)
