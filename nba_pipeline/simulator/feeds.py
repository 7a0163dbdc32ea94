"""The simulator's six feeds, shaped like the real sources (NBA.com box scores, injury report, sportsbook lines)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.league.seasons import SEASON_BY_LABEL, seasons_overlapping
from nba_pipeline.league.teams import TRICODE_BY_ID
from nba_pipeline.simulator import faults as fx
from nba_pipeline.simulator.cache import cached
from nba_pipeline.simulator.faults import SimulatorFaults
from nba_pipeline.simulator.games import (
    INJURY_REPORT_VERSIONS,
    LINE_MOVES,
    LINES_OPEN,
    REFEREES_POSTED,
    SHOT_ZONE_COVERAGE,
    SeasonGames,
    simulate_season,
)
from nba_pipeline.simulator.players import League, build_league

FEEDS = tuple(schemas.RAW_SCHEMAS)
_UNKNOWN_TEAM = (1610612700, "SEA")


@lru_cache(maxsize=4)
def _league(seed: int) -> League:
    return build_league(seed)


@lru_cache(maxsize=16)
def _season(seed: int, label: str) -> SeasonGames:
    # on disk too (`simulator.cache`): a fresh process, e.g. one date's run, would otherwise rebuild its seasons
    return cached(f"season-{seed}-{label}", lambda: simulate_season(_league(seed), SEASON_BY_LABEL[label], seed))


def _minutes_text(seconds: pd.Series) -> pd.Series:
    return (seconds // 60).astype(str) + ":" + (seconds % 60).astype(str).str.zfill(2)


class LeagueSimulator:
    """Feeds for an inclusive range of Eastern game dates, as they looked at `as_of` (Eastern wall clock).

    Each feed appears when a real one would (times US/Eastern, D = the game date): the schedule is known all
    season ahead, its game status turns Final about 2.5 h after tip-off (later for late games); the injury report
    has a first version at 17:00 on D-1 (players ruled out) and a final one at 08:00 on D (plus questionable /
    probable tags); referee assignments are posted at 09:00 on D; points lines open at 09:00 on D and move at
    11:00, 14:00 and 17:00; box scores, team totals and shot zones exist once the game is final."""

    def __init__(self, seed: int = 2021, faults: SimulatorFaults | None = None, as_of: dt.datetime | None = None):
        self.seed = seed
        self.faults = faults or SimulatorFaults()
        self.as_of = pd.Timestamp(as_of) if as_of is not None else None

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if feed not in FEEDS:
            raise ValueError(f"unknown feed {feed!r}; the simulator serves {FEEDS}")
        frames = []
        for season in seasons_overlapping(start, end):
            games = _season(self.seed, season.label)
            schedule = self._schedule(games)
            part = getattr(self, f"_feed_{feed}")(games, schedule)
            in_range = (part["game_date"] >= pd.Timestamp(start)) & (part["game_date"] <= pd.Timestamp(end))
            frames.append(part[in_range])
        if not frames:
            return schemas.empty(schemas.RAW_SCHEMAS[feed], feed)
        return schemas.conform_raw(pd.concat(frames, ignore_index=True), feed)  # a hostile cell is named, not raised

    # -- availability -------------------------------------------------------------------------------------
    def _now(self) -> pd.Timestamp:
        if self.as_of is not None:
            return self.as_of
        return pd.Timestamp.now(tz="America/New_York").tz_localize(None)

    def _schedule(self, games: SeasonGames) -> pd.DataFrame:
        schedule = games.schedule.copy()
        late = fx.picked(schedule, self.faults, self.seed, "late", self.faults.late_game_rate)
        schedule["final_at_et"] += pd.to_timedelta(np.where(late, self.faults.late_hours, 0.0), unit="h")
        schedule["game_status"] = np.where(schedule["final_at_et"] <= self._now(), "Final", "Scheduled")
        return schedule

    def _final(self, frame: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
        final_ids = schedule.loc[schedule["game_status"] == "Final", "game_id"]
        return frame[frame["game_id"].isin(final_ids)]

    def _posted(self, frame: pd.DataFrame, offset: pd.Timedelta) -> pd.Series:
        """Rows of game dates whose feed is posted by now, `offset` after the game date's midnight."""
        return frame["game_date"] + offset <= self._now()

    def _with_game_id_fault(self, feed: str, frame: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
        f = self.faults
        if f.game_id_feed != feed or f.game_id_format == "canonical":
            return frame
        mask = fx.picked(frame, f, self.seed, "game_id", 1.0)
        return frame.assign(game_id=fx.reformat_game_ids(frame, schedule, f.game_id_format, mask))

    # -- feeds ----------------------------------------------------------------------------------------------
    def _feed_schedule(self, games: SeasonGames, schedule: pd.DataFrame) -> pd.DataFrame:
        twice = fx.picked(schedule, self.faults, self.seed, "duplicate_game", self.faults.duplicate_game_rate)
        return pd.concat([schedule, schedule[twice]], ignore_index=True)

    def _feed_player_boxscores(self, games: SeasonGames, schedule: pd.DataFrame) -> pd.DataFrame:
        pg = self._final(games.player_games, schedule)
        played = pg["played"].to_numpy()
        out = pg["injury_status"].notna().to_numpy()
        rows = pd.DataFrame(
            {
                "game_id": pg["game_id"],
                "game_date": pg["game_date"],
                "team_id": pg["team_id"],
                "team_abbreviation": pg["team_id"].map(TRICODE_BY_ID),
                "player_id": pg["player_id"],
                "player_name": pg["player_name"],
                "start_position": np.where(pg["starter"], pg["position"], ""),
                "comment": np.where(played, "", np.where(out, "DNP - Injury/Illness", "DNP - Coach's Decision")),
                "minutes": _minutes_text(pg["seconds"]).where(played, None),
                **{c: pg[c].astype("Int64").where(played, pd.NA) for c in schemas.BOX_STAT_COLUMNS if c != "reb"},
                "reb": (pg["oreb"] + pg["dreb"]).astype("Int64").where(played, pd.NA),
            }
        )
        f = self.faults
        bad = fx.picked(rows, f, self.seed, "impossible", f.impossible_stat_rate) & played
        first_bad = bad & ~pd.Series(bad).groupby(rows["game_id"].to_numpy()).cumsum().gt(1).to_numpy()
        rows.loc[first_bad, "fgm"] = rows.loc[first_bad, "fga"] + 3  # more makes than attempts
        rows.loc[first_bad, "pts"] = -rows.loc[first_bad, "pts"] - 1
        hostile = fx.picked(rows, f, self.seed, "hostile", f.hostile_value_rate if f.hostile_value != "none" else 0.0) & played
        first_hostile = hostile & ~pd.Series(hostile).groupby(rows["game_id"].to_numpy()).cumsum().gt(1).to_numpy()
        if f.hostile_value == "made_over_attempted":
            rows.loc[first_hostile, ["ftm", "pts"]] = rows.loc[first_hostile, ["fta", "pts"]].to_numpy() + 2  # points still add up
        elif f.hostile_value in fx.HOSTILE:
            column, value = fx.HOSTILE[f.hostile_value]
            rows[column] = rows[column].astype(object)
            rows.loc[first_hostile, column] = value
        unknown = fx.picked(rows, f, self.seed, "unknown_team", f.unknown_team_rate) & (rows["start_position"] != "").to_numpy()
        rows.loc[unknown, ["team_id", "team_abbreviation"]] = _UNKNOWN_TEAM
        dup = fx.picked(rows, f, self.seed, "duplicate", f.duplicate_row_rate) & played
        once = dup & ~pd.Series(dup).groupby(rows["game_id"].to_numpy()).cumsum().gt(1).to_numpy()
        rows = pd.concat([rows, rows[once]], ignore_index=True)
        return self._with_game_id_fault("player_boxscores", rows, schedule)

    def _feed_team_boxscores(self, games: SeasonGames, schedule: pd.DataFrame) -> pd.DataFrame:
        tg = self._final(games.team_games, schedule)
        rows = pd.DataFrame(
            {
                "game_id": tg["game_id"],
                "game_date": tg["game_date"],
                "team_id": tg["team_id"],
                "team_abbreviation": tg["team_id"].map(TRICODE_BY_ID),
                "minutes": tg["minutes_played"].astype(str) + ":00",
                **{c: tg[c] for c in schemas.BOX_STAT_COLUMNS if c not in ("reb", "plus_minus")},
                "reb": tg["oreb"] + tg["dreb"],
                "plus_minus": tg["plus_minus"],
            }
        )
        if self.faults.team_minutes_unit == "game_minutes":
            in_game_minutes = fx.picked(rows, self.faults, self.seed, "team_minutes_unit", 1.0)
            rows.loc[in_game_minutes, "minutes"] = (tg.loc[in_game_minutes, "minutes_played"] // 5).astype(str) + ":00"
        missing = fx.picked(rows, self.faults, self.seed, "missing_team", self.faults.missing_team_row_rate)
        rows = rows[~(missing & ~tg["is_home"].to_numpy())]
        return self._with_game_id_fault("team_boxscores", rows, schedule)

    def _feed_shot_zones(self, games: SeasonGames, schedule: pd.DataFrame) -> pd.DataFrame:
        zones = self._final(games.shot_zones, schedule)
        coverage = self.faults.shot_zone_coverage
        if coverage is not None:
            # Drop whole covered games until the share of covered games is `coverage`.
            keep_rate = min(1.0, coverage / SHOT_ZONE_COVERAGE)
            dropped = fx.picked(zones, self.faults, self.seed, "shot_zones", 1.0 - keep_rate)
            zones = zones[~dropped]
        return self._with_game_id_fault("shot_zones", zones, schedule)

    def _feed_injury_report(self, games: SeasonGames, schedule: pd.DataFrame) -> pd.DataFrame:
        """The latest version of each date's report posted by now; every row carries that version's time."""
        report = games.injuries
        first, final = (report["game_date"] + offset for offset in INJURY_REPORT_VERSIONS)
        on_final = final <= self._now()
        report = report.assign(report_at=first.where(~on_final, final))[on_final | ((first <= self._now()) & (report["version"] == 0))]
        report = report.assign(team_abbreviation=report["team_id"].map(TRICODE_BY_ID))
        return self._with_game_id_fault("injury_report", report, schedule)

    def _feed_prop_lines(self, games: SeasonGames, schedule: pd.DataFrame) -> pd.DataFrame:
        """Every line on the board now, at its current number, with the time that number was posted."""
        props = games.props[self._posted(games.props, LINES_OPEN)]
        moves = np.array([(props["game_date"] + move <= self._now()).to_numpy() for move in LINE_MOVES]).T.reshape(len(props), len(LINE_MOVES))
        step = moves.sum(axis=1)  # moves already made
        numbers = props[[f"line_{k}" for k in range(len(LINE_MOVES) + 1)]].to_numpy()
        line = numbers[np.arange(len(props)), step]
        # the time of the last move that changed the number (a move of zero leaves the earlier posting time)
        changed = np.concatenate([np.ones((len(props), 1), bool), numbers[:, 1:] != numbers[:, :-1]], axis=1)
        changed &= np.arange(len(LINE_MOVES) + 1)[None, :] <= step[:, None]
        last_change = (len(LINE_MOVES)) - np.argmax(changed[:, ::-1], axis=1)
        offsets = np.array([LINES_OPEN, *LINE_MOVES], dtype="timedelta64[ns]")
        lines = props.assign(
            line=line,
            snapshot_at=props["game_date"].to_numpy() + offsets[last_change],
            team_abbreviation=props["team_id"].map(TRICODE_BY_ID),
            market="player_points",
            sportsbook="SimBook",
        )
        return self._with_game_id_fault("prop_lines", lines, schedule)

    def _feed_referee_assignments(self, games: SeasonGames, schedule: pd.DataFrame) -> pd.DataFrame:
        return games.referees[self._posted(games.referees, REFEREES_POSTED)]
