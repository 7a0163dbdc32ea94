"""Points prop lines from an odds vendor: The Odds API v4 (`/v4/sports/basketball_nba/events`, then per event
`/events/{id}/odds?markets=player_points&oddsFormat=american`), several bookmakers, one row per book and player.

- A row keeps its book (the vendor's bookmaker key), its line and both American prices, and `snapshot_at`: the
  Eastern time the book last updated that market (the vendor's `last_update`), else the fetch time.
- `game_id` is the date-team form `YYYYMMDD_AWAY_HOME` (Eastern date of tip-off, NBA.com tricodes), which
  `analytics.game_ids.normalize_game_ids` resolves against the schedule; the vendor's event id means nothing to NBA.com.
- Player names are matched to NBA.com ids through `sources.players` (NBA.com's current rosters); a name that fits
  none or several players keeps its row without an id, the raw `vendor_names_matched` check names it, and the
  fetch's log says which players it could have been.
- The platform's line (a configured book or the consensus) and the no-vig probability: `raw.lines.platform_lines`.
- Quota: every response's `x-requests-remaining` / `x-requests-used` / `x-requests-last` are logged (and kept in
  `quota`). A 401 (bad key, or quota used up: `OUT_OF_USAGE_CREDITS`) fails at once, naming the vendor's error code;
  429 and 5xx are retried with backoff (Retry-After honoured), then fail naming the status.
- An event with no props yet, a bookmaker without the market, an empty slate: an empty frame of the feed's schema.
  An event listed and then gone (404 on its odds: postponed or removed after the listing) is skipped and logged;
  a postponed game's event moves to its new date, and its lines with it.
- The API key: `ODDS_API_KEY`, bound as `dg.EnvVar` when set; when it is not, this feed's asset fails at start
  naming the variable (`MissingCredentials`) and every other feed runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.teams import TEAMS
from nba_pipeline.raw.lines import POINTS_MARKET
from nba_pipeline.sources.base import FeedNotAvailable, MissingCredentials, NbaSource
from nba_pipeline.sources.nba_stats import NbaStatsApiSource, retry_after_seconds
from nba_pipeline.sources.players import match_players, season_directory

EASTERN = "America/New_York"
API_KEY_VARIABLE = "ODDS_API_KEY"
# the vendor's full team names: NBA.com's city + nickname, and the Clippers' (NBA.com's city is 'LA')
TRICODE_BY_NAME = {**dict(zip(TEAMS["city"] + " " + TEAMS["nickname"], TEAMS["tricode"])), "Los Angeles Clippers": "LAC"}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
QUOTA_HEADERS = ("x-requests-remaining", "x-requests-used", "x-requests-last")
OUTCOMES = ["event_id", "commence_time", "home_team_name", "away_team_name", "bookmaker", "market", "last_update", "side", "vendor_name", "price", "point"]


class OddsApiError(RuntimeError):
    """A response the pipeline cannot use: the path, the HTTP status, the vendor's error code and message."""

    def __init__(self, path: str, status: int | None, what: str, error_code: str | None = None):
        self.path, self.status, self.error_code = path, status, error_code
        got = f"HTTP {status}" if status is not None else "no complete response"
        code = f" {error_code}" if error_code else ""
        super().__init__(f"The Odds API {path} ({got}{code}): {what}")


def eastern(utc: pd.Series) -> pd.Series:
    """ISO UTC times ('2024-02-23T00:00:00Z') as naive Eastern wall-clock timestamps."""
    return to_datetime(utc, utc=True, errors="coerce").dt.tz_convert(EASTERN).dt.tz_localize(None)


def parse_event_odds(body: dict[str, Any]) -> pd.DataFrame:
    """One event's odds as one row per outcome (OUTCOMES). No bookmakers, or none with outcomes: an empty frame."""
    event = {"event_id": body.get("id"), "commence_time": body.get("commence_time"),
             "home_team_name": body.get("home_team"), "away_team_name": body.get("away_team")}
    markets = [
        {**event, "bookmaker": b.get("key"), "market": m.get("key"), "last_update": m.get("last_update") or b.get("last_update"), "outcomes": m.get("outcomes") or []}
        for b in body.get("bookmakers") or [] for m in b.get("markets") or []
    ]  # at most a dozen books × a few markets per event: the outcomes themselves are flattened by pandas
    if not markets or not any(m["outcomes"] for m in markets):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in OUTCOMES})
    rows = pd.json_normalize(markets, record_path="outcomes", meta=[c for c in OUTCOMES if c in markets[0]])
    rows = rows.rename(columns={"name": "side", "description": "vendor_name"})
    for column in OUTCOMES:
        if column not in rows:
            rows[column] = pd.NA
    return rows[OUTCOMES]


def lines_from_outcomes(outcomes: pd.DataFrame, fetched_at: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Over and under of one book, player and number side by side; where a book posts a player at several numbers
    (alternate lines), its main one (the prices nearest each other). Quotes with one side only are counted, not kept."""
    points = outcomes[(outcomes["market"] == POINTS_MARKET) & outcomes["side"].isin(["Over", "Under"]) & outcomes["vendor_name"].notna()]
    key = ["event_id", "bookmaker", "vendor_name", "point"]
    sides = points.pivot_table(index=key, columns="side", values="price", aggfunc="first")
    sides = sides.reindex(columns=["Over", "Under"]).reset_index()
    one_sided = sides["Over"].isna() | sides["Under"].isna()
    sides = sides[~one_sided]
    sides = sides.assign(_gap=(sides["Over"].astype(float) - sides["Under"].astype(float)).abs())
    sides = sides.sort_values("_gap", kind="stable").drop_duplicates(["event_id", "bookmaker", "vendor_name"])
    meta = points.drop_duplicates(["event_id", "bookmaker"])[["event_id", "bookmaker", "commence_time", "home_team_name", "away_team_name", "last_update"]]
    lines = sides.merge(meta, on=["event_id", "bookmaker"])
    tip = eastern(lines["commence_time"])
    lines = lines.assign(
        game_date=tip.dt.normalize(),
        home_team=lines["home_team_name"].map(TRICODE_BY_NAME),
        away_team=lines["away_team_name"].map(TRICODE_BY_NAME),
        snapshot_at=eastern(lines["last_update"]).fillna(fetched_at),
    )
    return lines, int(one_sided.sum())


class OddsApiSource(NbaSource):
    """The prop_lines feed from The Odds API v4 (module docstring). Other feeds: `FeedNotAvailable`."""

    api_key: str | None = Field(None, description=f"The vendor's key; bind dg.EnvVar('{API_KEY_VARIABLE}'). Unset: prop_lines fails naming the variable.")
    base_url: str = "https://api.the-odds-api.com"
    sport: str = "basketball_nba"
    regions: str = Field("us", description="Bookmaker regions (ignored when `bookmakers` is set).")
    bookmakers: list[str] | None = Field(None, description="Bookmaker keys to ask for (e.g. draftkings, fanduel); default: every book of `regions`.")
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0, description="Retries after a 429, a 5xx, a timeout or a dropped connection.")
    backoff_seconds: float = Field(2.0, ge=0)
    max_backoff_seconds: float = Field(60.0, ge=0)
    players: NbaStatsApiSource = Field(default_factory=NbaStatsApiSource, description="NBA.com client for the player directory (commonallplayers).")

    _session: Any = PrivateAttr(None)
    _directory: dict[str, pd.DataFrame] = PrivateAttr(default_factory=dict)
    _quota: dict[str, str] = PrivateAttr(default_factory=dict)
    _unmatched: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def from_environment(cls) -> OddsApiSource:
        """Production binding: the key from ODDS_API_KEY as an EnvVar (never written into run config), when set;
        ODDS_API_BOOKMAKERS (comma-separated keys) narrows the books; ODDS_API_BASE_URL, when set, replaces the
        vendor's address (a recorded league in tests)."""
        books = [b.strip() for b in os.environ.get("ODDS_API_BOOKMAKERS", "").split(",") if b.strip()]
        key = dg.EnvVar(API_KEY_VARIABLE) if os.environ.get(API_KEY_VARIABLE) else None
        where = {"base_url": os.environ["ODDS_API_BASE_URL"]} if os.environ.get("ODDS_API_BASE_URL") else {}
        return cls(api_key=key, bookmakers=books or None, players=NbaStatsApiSource.from_environment(), **where)

    @property
    def quota(self) -> dict[str, str]:
        """The quota headers of the last response."""
        return dict(self._quota)

    @property
    def unmatched(self) -> list[str]:
        """Why each vendor name of the last fetch matched no single NBA.com player."""
        return list(self._unmatched)

    def check_credentials(self) -> None:
        if not self.api_key:
            raise MissingCredentials(
                f"prop_lines: no API key for The Odds API: set {API_KEY_VARIABLE} in the environment of the code "
                "server (the other feeds are not affected)"
            )

    def session(self):
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update({"Accept": "application/json"})
        return self._session

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        """(status, JSON body) of `path`; 404 is returned to the caller, 401/403/4xx raise at once, 429/5xx/timeouts
        are retried and then raise. The key never appears in an error or a log line."""
        import requests

        url = f"{self.base_url.rstrip('/')}{path}"
        log = dg.get_dagster_logger("nba_pipeline.sources.odds_api")
        problem, status = "", None
        for attempt in range(self.max_retries + 1):
            wait = min(self.backoff_seconds * 2**attempt, self.max_backoff_seconds)
            try:
                response = self.session().get(url, params={"apiKey": self.api_key, **params}, timeout=self.timeout_seconds)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                problem, status = f"{type(err).__name__}", None
            else:
                status = response.status_code
                quota = {h: response.headers[h] for h in QUOTA_HEADERS if h in response.headers}
                if quota:
                    self._quota = quota
                    log.info(f"The Odds API {path}: {quota.get('x-requests-remaining', '?')} requests remaining, "
                             f"{quota.get('x-requests-used', '?')} used (this one cost {quota.get('x-requests-last', '?')})")
                body = self._decode(path, response)
                if status in (200, 404):
                    return status, body
                code = body.get("error_code") if isinstance(body, dict) else None
                message = body.get("message") if isinstance(body, dict) else response.text[:200]
                if status not in RETRY_STATUSES:
                    hint = {"INVALID_KEY": f"the key in {API_KEY_VARIABLE} is not valid",
                            "MISSING_KEY": f"{API_KEY_VARIABLE} is empty",
                            "OUT_OF_USAGE_CREDITS": "the plan's quota is used up until it renews"}.get(code or "", "refused")
                    raise OddsApiError(path, status, f"{hint}: {message!r}", code)
                problem = f"HTTP {status}" + (f" {code}" if code else "") + f": {message!r}"
                after = retry_after_seconds(response.headers.get("Retry-After"))
                wait = min(after, self.max_backoff_seconds) if after is not None else wait
            if attempt < self.max_retries:
                time.sleep(wait)
        raise OddsApiError(path, status, f"gave up after {self.max_retries + 1} attempts; last: {problem}")

    @staticmethod
    def _decode(path: str, response) -> Any:
        try:
            return json.loads(response.text) if response.text else {}
        except json.JSONDecodeError as err:
            if response.status_code >= 500:
                return {"message": response.text[:200]}
            raise OddsApiError(path, response.status_code, f"not JSON ({len(response.text)} bytes): {err.msg}") from None

    def directory(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Current NBA.com rosters, once per season per run."""
        return season_directory(self.players, self._directory, start, end)

    def events(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """The vendor's events tipping off on Eastern dates start..end (the events endpoint costs no quota)."""
        window = pd.DatetimeIndex([pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)]).tz_localize(EASTERN).tz_convert("UTC")
        _, body = self.get(f"/v4/sports/{self.sport}/events", {
            "dateFormat": "iso",
            "commenceTimeFrom": window[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commenceTimeTo": (window[1] - pd.Timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
        if not isinstance(body, list):
            raise OddsApiError(f"/v4/sports/{self.sport}/events", 200, f"expected a list of events, got {type(body).__name__}")
        return body

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if feed != "prop_lines":
            raise FeedNotAvailable(f"The Odds API provides prop_lines only, not {feed}")
        self.check_credentials()
        log = dg.get_dagster_logger("nba_pipeline.sources.odds_api")
        fetched_at = pd.Timestamp.now(tz=EASTERN).tz_localize(None).floor("s")
        books = {"bookmakers": ",".join(self.bookmakers)} if self.bookmakers else {"regions": self.regions}
        outcomes, gone = [], []
        for event in self.events(start, end):  # one request per game of the slate: the vendor's API is per event
            path = f"/v4/sports/{self.sport}/events/{event['id']}/odds"
            status, body = self.get(path, {**books, "markets": POINTS_MARKET, "oddsFormat": "american", "dateFormat": "iso"})
            if status == 404:
                gone.append(f"{event.get('away_team')} at {event.get('home_team')} ({event['id']})")
                continue
            outcomes.append(parse_event_odds(body))
        if gone:
            log.warning(f"prop_lines: {len(gone)} event(s) listed and then gone (postponed or removed): {'; '.join(gone)}")
        frames = [o for o in outcomes if len(o)]
        if not frames:
            return schemas.empty(schemas.PROP_LINES, "prop_lines")
        lines, one_sided = lines_from_outcomes(pd.concat(frames, ignore_index=True), fetched_at)
        if one_sided:
            log.info(f"prop_lines: {one_sided} quote(s) with only an over or only an under left out (no price to remove the vig from)")
        unknown = sorted(set(lines.loc[lines["home_team"].isna(), "home_team_name"]) | set(lines.loc[lines["away_team"].isna(), "away_team_name"]))
        if unknown:
            raise OddsApiError("events", 200, f"team name(s) that are not NBA teams: {unknown}")
        lines = lines[lines["game_date"].between(pd.Timestamp(start), pd.Timestamp(end))]
        matched, why = match_players(lines, self.directory(start, end))
        self._unmatched = list(why)
        if len(why):
            log.warning(f"prop_lines: {len(why)} vendor name(s) matched no single NBA.com player: {'; '.join(why)}")
        frame = pd.DataFrame(
            {
                "game_id": matched["game_date"].dt.strftime("%Y%m%d") + "_" + matched["away_team"] + "_" + matched["home_team"],
                "game_date": matched["game_date"],
                "player_id": matched["player_id"],
                "player_name": matched["player_name"],
                "team_abbreviation": matched["team_abbreviation"],
                "market": POINTS_MARKET,
                "line": matched["point"],
                "over_odds": matched["Over"],
                "under_odds": matched["Under"],
                "sportsbook": matched["bookmaker"],
                "snapshot_at": matched["snapshot_at"],
            }
        )
        return frame.sort_values(["game_date", "game_id", "sportsbook", "player_name"], kind="stable").reset_index(drop=True)
