"""NBA.com stats API: our own HTTP client (why not `nba_api`: below) and the parsers of its responses.

Endpoints: `scoreboardv3` (one date's games: tip-off time and status), `leaguegamelog` (team box scores of a
season, fetched once per season per run and cached), `boxscoretraditionalv2` (player rows of one final game),
`shotchartdetail` (every field-goal attempt of one team in one final game, with its zone: `shot_zones`, see
`parse_shot_chart_detail`). The stats API has no injury report, betting lines or referee assignments: those feeds
come back as empty frames of their schema (docs/real-data.md: what the pipeline does then).

Why not `nba_api` (swar/nba_api, the ecosystem's client): its `NBAHTTP.send_api_request` calls the module-level
`requests.get` for every request — no shared session (a new TCP + TLS handshake per call, which NBA.com's edge
throttles), no retries or backoff, no status check (a 429 or 500 body is handed to the JSON parser), and no rate
limit. Everything it adds over this module is the endpoint catalogue; we use three endpoints.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import time
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from nba_pipeline import schemas
from nba_pipeline.config.environment import seconds_from_environment
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import season_for_date, season_labels, seasons_overlapping
from nba_pipeline.sources.base import NbaSource

DEFAULT_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Referer": "https://www.nba.com/",
    "Origin": "https://www.nba.com",
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "en-US,en;q=0.9",
}
SUPPORTED_FEEDS = ("schedule", "team_boxscores", "player_boxscores", "shot_zones")
STATUS = {1: "Scheduled", 2: "In Progress", 3: "Final"}
_WHOLE_GAME = {"StartPeriod": 0, "EndPeriod": 0, "StartRange": 0, "EndRange": 0, "RangeType": 0}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class SourceError(RuntimeError):
    """A response the pipeline cannot use: names the endpoint, the HTTP status and what was wrong."""

    def __init__(self, endpoint: str, status: int | None, what: str):
        self.endpoint, self.status = endpoint, status
        got = f"HTTP {status}" if status is not None else "no complete response"
        super().__init__(f"NBA.com stats {endpoint} ({got}): {what}")


def _result_set(payload: dict[str, Any], endpoint: str, name: str | None = None) -> pd.DataFrame:
    sets = payload.get("resultSets")
    if not isinstance(sets, list):
        raise SourceError(endpoint, 200, f"no resultSets in the body (keys: {sorted(payload)[:10]})")
    found = [s for s in sets if name is None or s.get("name") == name]
    if not found or "headers" not in found[0] or "rowSet" not in found[0]:
        raise SourceError(endpoint, 200, f"result set {name or '(first)'} missing; have {[s.get('name') for s in sets]}")
    rs = found[0]
    return pd.DataFrame(rs["rowSet"], columns=[h.lower() for h in rs["headers"]])


def parse_scoreboard_v3(payload: dict[str, Any], endpoint: str = "scoreboardv3") -> pd.DataFrame:
    """One date's schedule: NBA.com game id, Eastern date, tip-off (`gameEt`, Eastern wall clock, though NBA.com
    labels it 'Z'), teams and status (1 Scheduled, 2 In Progress, 3 Final). A date without games is an empty frame."""
    board = payload.get("scoreboard")
    if not isinstance(board, dict) or not isinstance(board.get("games"), list):
        raise SourceError(endpoint, 200, "no scoreboard.games in the body")
    games = pd.json_normalize(board["games"])
    if games.empty:
        return schemas.empty(schemas.SCHEDULE, "schedule")
    tipoff = to_datetime(games["gameEt"].str.replace("Z", "", regex=False))
    status = games["gameStatus"].map(STATUS)
    if status.isna().any():
        raise SourceError(endpoint, 200, f"unknown gameStatus {sorted(games.loc[status.isna(), 'gameStatus'].unique())}")
    frame = pd.DataFrame(
        {
            "game_id": games["gameId"],
            "game_date": to_datetime(board["gameDate"]),
            "season": season_labels(pd.Series(to_datetime(board["gameDate"]), index=games.index)),
            "tipoff_et": tipoff,
            "home_team_id": games["homeTeam.teamId"],
            "home_team": games["homeTeam.teamTricode"],
            "away_team_id": games["awayTeam.teamId"],
            "away_team": games["awayTeam.teamTricode"],
            "game_status": status,
        }
    )
    return schemas.conform_raw(frame, "schedule")  # an unreadable cell fails matches_schema by name


def parse_league_game_log(payload: dict[str, Any]) -> pd.DataFrame:
    """Team box scores from a team-mode LeagueGameLog (one row per team per game; TOV is the official team total)."""
    log = _result_set(payload, "leaguegamelog")
    log["game_date"] = to_datetime(log["game_date"])
    log = log.rename(columns={"min": "minutes"}).assign(minutes=lambda d: d["minutes"].astype(str) + ":00")
    return log


def parse_boxscore_traditional_v2(payload: dict[str, Any], game_date: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(player_boxscores, team_boxscores) for one game; the endpoint carries no date, the schedule supplies it."""
    renames = {"min": "minutes", "to": "tov"}
    players = _result_set(payload, "boxscoretraditionalv2", "PlayerStats").rename(columns=renames)
    teams = _result_set(payload, "boxscoretraditionalv2", "TeamStats").rename(columns=renames)
    for frame in (players, teams):
        frame["game_date"] = pd.Timestamp(game_date)
    players["comment"] = players["comment"].fillna("").str.strip()
    return players, teams


# SHOT_ZONE_BASIC as NBA.com writes it. Which side of the arc a shot was on is SHOT_TYPE's call, not the zone's: the
# box score's FG3A counts SHOT_TYPE, and the zone (drawn from the shot's location) disagrees with it now and then
# (the recorded charts hold a 23-ft 'Mid-Range' three and 22-ft 'Right Corner 3' twos: a foot on the line).
# So: a three is a three whatever its zone ('Backcourt' heaves included); a two is paint or mid-range by its zone.
PAINT_ZONES = frozenset({"Restricted Area", "In The Paint (Non-RA)"})
OUTSIDE_ZONES = frozenset({"Mid-Range", "Left Corner 3", "Right Corner 3", "Above the Break 3", "Backcourt"})
SHOT_TYPES = {"2PT Field Goal": False, "3PT Field Goal": True}  # value: is it a three
# the game id's third digit is its kind; shotchartdetail requires SeasonType (all-star: 'All Star', nba_api's name)
SEASON_TYPES = {"1": "Pre Season", "2": "Regular Season", "3": "All Star", "4": "Playoffs", "5": "PlayIn"}
_SHOT_COLUMNS = ("game_id", "team_id", "player_id", "shot_type", "shot_zone_basic", "shot_made_flag")


def shot_chart_params(game_id: str, team_id: int) -> dict[str, Any]:
    """The `shotchartdetail` request of one team in one game: every field-goal attempt of its players (PlayerID=0),
    misses included (ContextMeasure=FGA; the default, PTS, lists made shots only). Season and season type come from
    the NBA.com game id ('0022100732': kind 2 = regular season, season 2021-22), so playoff games need no calendar."""
    gid = str(game_id)
    kind = SEASON_TYPES.get(gid[2:3])
    if len(gid) != 10 or not gid.isdigit() or kind is None:
        raise SourceError("shotchartdetail", None, f"game id {gid!r}: not an NBA.com game id of a known kind")
    year = int(gid[3:5]) + (1900 if int(gid[3:5]) >= 46 else 2000)
    return {"GameID": gid, "TeamID": int(team_id), "PlayerID": 0, "ContextMeasure": "FGA", "LeagueID": "00",
            "Season": f"{year}-{(year + 1) % 100:02d}", "SeasonType": kind,
            "LastNGames": 0, "Month": 0, "OpponentTeamID": 0, "Period": 0}


def parse_shot_chart_detail(payload: dict[str, Any], game_id: str, team_id: int, game_date: dt.date) -> pd.DataFrame:
    """`shot_zones` of one team in one game from its `Shot_Chart_Detail` rows (one row per field-goal attempt): per
    player, paint (Restricted Area, In The Paint (Non-RA)), mid-range (the other twos) and three (SHOT_TYPE 3PT)
    attempts and makes. An unknown zone or shot type, a flag other than 0/1 or a row of another game or team is a
    `SourceError` naming the values: a changed feed must stop the date, not lose or misfile attempts."""
    endpoint = "shotchartdetail"
    shots = _result_set(payload, endpoint, "Shot_Chart_Detail")
    missing = [c for c in _SHOT_COLUMNS if c not in shots.columns]
    if missing:
        raise SourceError(endpoint, 200, f"game {game_id} team {team_id}: Shot_Chart_Detail has no column(s) {[c.upper() for c in missing]}")
    if shots.empty:  # not charted (yet): no rows rather than zeros; the coverage warning downstream says so
        return schemas.empty(schemas.SHOT_ZONES, "shot_zones")
    problems = {
        "SHOT_ZONE_BASIC": ~shots["shot_zone_basic"].isin(PAINT_ZONES | OUTSIDE_ZONES),
        "SHOT_TYPE": ~shots["shot_type"].isin(list(SHOT_TYPES)),
        "SHOT_MADE_FLAG": ~shots["shot_made_flag"].isin([0, 1]),
        "GAME_ID": shots["game_id"].astype(str) != str(game_id),
        "TEAM_ID": shots["team_id"].astype(str) != str(team_id),
    }
    for column, bad in problems.items():
        if bad.any():
            values = sorted(map(str, shots.loc[bad, column.lower()].unique()))[:5]
            raise SourceError(endpoint, 200, f"game {game_id} team {team_id}: {int(bad.sum())} shot row(s) with unknown {column} {values}")
    three = shots["shot_type"].map(SHOT_TYPES).astype(bool)
    paint = ~three & shots["shot_zone_basic"].isin(PAINT_ZONES)
    shots["zone"] = pd.Series("mid", index=shots.index).mask(paint, "paint").mask(three, "three")
    counts = (
        shots.groupby(["game_id", "team_id", "player_id", "zone"])["shot_made_flag"]
        .agg(fga="size", fgm="sum")
        .unstack("zone", fill_value=0)
    )
    zones = pd.DataFrame(index=counts.index)
    for zone in ("paint", "mid", "three"):
        for stat in ("fga", "fgm"):
            zones[f"{zone}_{stat}"] = counts[(stat, zone)] if (stat, zone) in counts.columns else 0
    zones = zones.reset_index().assign(game_date=pd.Timestamp(game_date))
    return schemas.conform_raw(zones, "shot_zones")


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - dt.datetime.now(when.tzinfo)).total_seconds(), 0.0)


class NbaStatsApiSource(NbaSource):
    """Live stats.nba.com through one session: retries with backoff, a minimum interval between requests, timeouts,
    a proxy and extra headers (NBA.com refuses many cloud IP ranges: swar/nba_api#176, #419)."""

    base_url: str = "https://stats.nba.com/stats"
    timeout_seconds: float = Field(30.0, gt=0, description="Connect and read timeout per request.")
    max_retries: int = Field(4, ge=0, description="Retries after a 429, a 5xx, a timeout or a dropped connection.")
    backoff_seconds: float = Field(2.0, ge=0, description="First wait; doubles per retry (a Retry-After header wins).")
    max_backoff_seconds: float = Field(60.0, ge=0)
    min_interval_seconds: float = Field(0.6, ge=0, description="Rate limit: at least this long between two requests.")
    proxy: str | None = Field(None, description="http(s) proxy URL for every request (a secret: bind with dg.EnvVar).")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers over DEFAULT_HEADERS.")

    _session: Any = PrivateAttr(None)
    _last_request: float = PrivateAttr(0.0)
    _game_logs: dict[str, pd.DataFrame] = PrivateAttr(default_factory=dict)
    _requests: int = PrivateAttr(0)

    @classmethod
    def from_environment(cls) -> NbaStatsApiSource:
        """Production binding: the proxy from NBA_STATS_PROXY (an EnvVar, never written into the run config);
        NBA_STATS_BASE_URL and NBA_STATS_MIN_INTERVAL_SECONDS, when set, replace the address and the rate limit (a
        mirror, or a recorded league in tests)."""
        settings: dict[str, Any] = {"proxy": dg.EnvVar("NBA_STATS_PROXY")} if os.environ.get("NBA_STATS_PROXY") else {}
        if os.environ.get("NBA_STATS_BASE_URL"):
            settings["base_url"] = os.environ["NBA_STATS_BASE_URL"]
        interval = seconds_from_environment("NBA_STATS_MIN_INTERVAL_SECONDS", zero_allowed=True)
        if interval is not None:
            settings["min_interval_seconds"] = interval
        return cls(**settings)

    @property
    def requests_sent(self) -> int:
        return self._requests

    def session(self):
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update({**DEFAULT_HEADERS, **self.headers})
            if self.proxy:
                self._session.proxies.update({"http": self.proxy, "https": self.proxy})
        return self._session

    def _throttle(self) -> None:
        wait = self._last_request + self.min_interval_seconds - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        """The JSON body of `endpoint`; retries 429/5xx/timeouts/dropped connections, then a `SourceError`."""
        import requests

        url = f"{self.base_url.rstrip('/')}/{endpoint}"
        problem, status = "", None
        for attempt in range(self.max_retries + 1):
            self._throttle()
            self._requests += 1
            wait = min(self.backoff_seconds * 2**attempt, self.max_backoff_seconds)
            try:
                response = self.session().get(url, params=params, timeout=self.timeout_seconds)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                problem, status = f"{type(err).__name__}: {err}", None
            else:
                status = response.status_code
                if status == 200:
                    return self._decode(endpoint, response)
                if status not in RETRY_STATUSES:
                    raise SourceError(endpoint, status, f"refused: {response.text[:200]!r}")
                problem = f"HTTP {status}"
                after = retry_after_seconds(response.headers.get("Retry-After"))
                wait = min(after, self.max_backoff_seconds) if after is not None else wait
            if attempt < self.max_retries:
                time.sleep(wait)
        raise SourceError(endpoint, status, f"gave up after {self.max_retries + 1} attempts; last: {problem}")

    @staticmethod
    def _decode(endpoint: str, response) -> dict[str, Any]:
        text = response.text
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            # a JSON object body ends with its closing brace; one that stops before it was cut off in transit
            kind = "malformed" if text.rstrip().endswith("}") else "truncated"
            raise SourceError(endpoint, response.status_code, f"{kind} JSON body ({len(text)} bytes): {err.msg} at char {err.pos}") from None
        if not isinstance(payload, dict):
            raise SourceError(endpoint, response.status_code, f"expected a JSON object, got {type(payload).__name__}")
        return payload

    # -- feeds ------------------------------------------------------------------------------------------------
    def scoreboard(self, day: dt.date) -> pd.DataFrame:
        return parse_scoreboard_v3(self.get("scoreboardv3", {"GameDate": day.isoformat(), "LeagueID": "00"}))

    def game_log(self, season_label: str) -> pd.DataFrame:
        """The season's team game log, fetched once per season per run (every feed of the run reads the same copy)."""
        if season_label not in self._game_logs:
            payload = self.get(
                "leaguegamelog",
                {"LeagueID": "00", "Season": season_label, "SeasonType": "Regular Season", "PlayerOrTeam": "T"},
            )
            self._game_logs[season_label] = parse_league_game_log(payload)
        return self._game_logs[season_label]

    def schedule(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        days = [d.date() for d in pd.date_range(start, end, freq="D") if season_for_date(d.date())]
        boards = [self.scoreboard(day) for day in days]
        return pd.concat(boards, ignore_index=True) if boards else schemas.empty(schemas.SCHEDULE, "schedule")

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if feed not in SUPPORTED_FEEDS:
            return schemas.empty(schemas.RAW_SCHEMAS[feed], feed)  # no such feed on NBA.com stats: see docs/real-data.md
        if feed == "team_boxscores":
            logs = [self.game_log(s.label) for s in seasons_overlapping(start, end)]
            teams = pd.concat(logs, ignore_index=True) if logs else schemas.empty(schemas.TEAM_BOXSCORES, feed)
            return teams[teams["game_date"].between(pd.Timestamp(start), pd.Timestamp(end))]
        schedule = self.schedule(start, end)
        if feed == "schedule":
            return schedule
        final = schedule[schedule["game_status"] == "Final"]
        if feed == "shot_zones":
            return self.shot_zones(final)
        players = [
            parse_boxscore_traditional_v2(self.get("boxscoretraditionalv2", {"GameID": gid, **_WHOLE_GAME}), day)[0]
            for gid, day in zip(final["game_id"], final["game_date"].dt.date)
        ]
        return pd.concat(players, ignore_index=True) if players else schemas.empty(schemas.PLAYER_BOXSCORES, feed)

    def shot_zones(self, final: pd.DataFrame) -> pd.DataFrame:
        """Two `shotchartdetail` requests per final game, home team then away (see `shot_chart_params`): the form
        public clients use and recorded (dblackrun/pbpstats), one team's shots per body."""
        zones = [
            parse_shot_chart_detail(self.get("shotchartdetail", shot_chart_params(gid, team)), gid, team, day)
            for gid, day, home, away in zip(final["game_id"], final["game_date"].dt.date, final["home_team_id"], final["away_team_id"])
            for team in (home, away)
        ]
        return pd.concat(zones, ignore_index=True) if zones else schemas.empty(schemas.SHOT_ZONES, "shot_zones")


class RecordedNbaStatsSource(NbaStatsApiSource):
    """Replays recorded responses from `directory` (files named like the result: LeagueGameLog.json, ...)."""

    directory: str

    def get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        from pathlib import Path

        from nba_pipeline.sources.base import FeedNotAvailable

        names = {"leaguegamelog": "LeagueGameLog.json", "boxscoretraditionalv2": "BoxScoreTraditionalV2.json"}
        if endpoint not in names:
            raise FeedNotAvailable(f"no recording of {endpoint} in {self.directory}")
        payload = json.loads((Path(self.directory) / names[endpoint]).read_text())
        recorded = {k: v for k, v in payload.get("parameters", {}).items() if k in params}
        wanted = {k: params[k] for k in recorded}
        if recorded != wanted:
            raise FeedNotAvailable(f"no recording of {endpoint} for {params} in {self.directory} (have {recorded})")
        return payload
