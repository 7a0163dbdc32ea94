"""Referee assignments from the league's daily assignments page, https://official.nba.com/referee-assignments/: the
`referee_assignments` feed, one row per official per game (Crew Chief, Referee, Umpire).

What the page is and what this source makes of it:

- **Today only.** The page is server-rendered HTML showing one day: the day's games, posted ~09:00 ET (the league
  publishes the crews that morning). Its date is the `entry-meta` line above the NBA table ('February 22, 2024'); a
  page without one is taken as today's in US/Eastern. A fetch of `start..end` downloads the page once and keeps the
  rows whose date (the page's) is in the range; **every other date in the range gets no rows** and a warning naming
  them: the HTML has no date parameter (the site's date picker reads a separate JSON endpoint, not wired here), so a
  backfill of past dates from this source is empty, never guessed. A date before 09:00 ET: yesterday's page, or
  today's with no crews yet (`referee_discovery` polls until every game has one).
- **Which table.** The NBA's is the `<table>` inside `div.nba-refs-content`; the G League's and the WNBA's tables
  (`*-refs-content`) are ignored. A page that is the assignments page (an `entry-title` '… Referee Assignments' or a
  `*-refs-content` section) with no NBA section, or an NBA table with no rows: no NBA games that day, an empty frame
  of the feed's schema (a one-cell message row such as 'No games scheduled' is logged). A page that is neither (a
  CDN block page, a redesign), or an NBA section without the Game / Crew Chief / Referee / Umpire header:
  `RefereePageError` naming the URL.
- **Games.** 'Brooklyn @ Toronto' is away @ home, in the page's spellings: city ('New York'), 'L.A. Lakers',
  'LA Clippers', a full name or a tricode all map to NBA.com tricodes (`TRICODE_BY_PAGE_NAME`, built on the odds
  adapter's `TRICODE_BY_NAME`). `game_id` is the date-team form `YYYYMMDD_AWAY_HOME` of `odds_api`, which analytics
  resolves against the schedule (`analytics.game_ids.normalize_game_ids`). A team name that maps to no NBA team is a
  `RefereePageError` naming the URL, the row and the text, before any row is returned.
- **Officials.** A cell is 'Name (#number)'. **`official_id` is the jersey number** — the only number the page gives.
  It is not NBA.com's person id for an official (boxscoresummaryv2's `OFFICIAL_ID`; the league's JSON feed codes
  Scott Foster, jersey 48, as 1162): numbers
  are unique among the league's officials on a given day but are reissued over the years, so join officials across
  seasons by name and number, never by number alone. The Alternate column is not a role of the feed and is not kept.
  An empty cell or 'TBD' (a crew not yet complete) gives no row: the raw `full_crews` warning names the game, and
  the fetch's log names every open seat (a game whose whole crew is open has no row at all). A name
  without '(#n)' keeps its row with no id, and a name carrying markup keeps its text: the raw table's blocking
  `matches_schema` check names those rows (never dropped, never a crash).
- **HTTP.** One `requests.Session`; 429, 5xx, timeouts and dropped connections are retried with exponential backoff
  (a `Retry-After` wins), then fail naming the URL and the last status; any other status fails at once. The page is
  behind a CDN that refuses bare clients, so requests carry a browser User-Agent (`headers`). `base_url` (env
  `NBA_REFEREES_URL`) points the source at a mirror, or at a local server in the tests.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.teams import TEAMS
from nba_pipeline.sources.base import FeedNotAvailable, NbaSource
from nba_pipeline.sources.nba_stats import retry_after_seconds
from nba_pipeline.sources.odds_api import EASTERN, RETRY_STATUSES, TRICODE_BY_NAME

PAGE_URL = "https://official.nba.com/referee-assignments/"
URL_VARIABLE = "NBA_REFEREES_URL"
ROLES = ("Crew Chief", "Referee", "Umpire")  # the page's column headers, which are the feed's roles
NOT_ASSIGNED = {"", "tbd", "tba", "-", "—"}
BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
}
# a city names its team, except Los Angeles, which has two ('LA' and 'Los Angeles' in NBA.com's data): the page says
# 'L.A. Lakers' and 'LA Clippers', and a bare 'Los Angeles' maps to no team rather than to one of them
_cities = TEAMS[~TEAMS["tricode"].isin(["LAL", "LAC"])]
# every spelling the page uses for a team (its cities, 'L.A. Lakers', 'LA Clippers'), the vendor's full names, tricodes
TRICODE_BY_PAGE_NAME = {
    **TRICODE_BY_NAME,
    **dict(zip(_cities["city"], _cities["tricode"])),
    **dict(zip(TEAMS["nickname"], TEAMS["tricode"])),
    **dict(zip(TEAMS["tricode"], TEAMS["tricode"])),
    "L.A. Lakers": "LAL", "LA Lakers": "LAL", "Los Angeles Lakers": "LAL",
    "L.A. Clippers": "LAC", "LA Clippers": "LAC", "Los Angeles Clippers": "LAC",
}
_KEY = {re.sub(r"\s+", " ", name).strip().casefold(): code for name, code in TRICODE_BY_PAGE_NAME.items()}
_OFFICIAL = re.compile(r"^(?P<name>.*?)\s*\(\s*#\s*(?P<number>\d+)\s*\)\s*$")
COLUMNS = [c for c in schemas.REFEREE_ASSIGNMENTS if c != schemas.UNREADABLE]


class RefereePageError(RuntimeError):
    """The assignments page could not be used: the URL, the HTTP status if any, and what was wrong."""

    def __init__(self, url: str, what: str, status: int | None = None):
        self.url, self.status = url, status
        got = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"referee assignments page {url}{got}: {what}")


def tricode(name: str) -> str | None:
    """The NBA.com tricode of a team as the page spells it ('New York', 'L.A. Lakers', 'LA Clippers'), else None."""
    return _KEY.get(re.sub(r"\s+", " ", name).strip().casefold())


def _text(cell) -> str:
    return re.sub(r"\s+", " ", cell.get_text(" ")).strip()


def parse_page(html: str, url: str, today: dt.date) -> tuple[dt.date, pd.DataFrame]:
    """(the page's date, one row per official per game in the feed's columns). `today` dates a page that states
    none. Errors: `RefereePageError` naming `url` (module docstring)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    section = soup.find("div", class_="nba-refs-content")
    titles = [_text(h) for h in soup.find_all(class_="entry-title")]
    is_assignments_page = any("referee assignments" in t.casefold() for t in titles) or soup.find(
        "div", class_=re.compile(r"-refs-content$")) is not None
    if section is None:
        if not is_assignments_page:
            raise RefereePageError(url, "no referee assignments table (no div.nba-refs-content, no 'Referee Assignments' title): "
                                        "not the assignments page, or its layout changed")
        return today, _empty()
    day = _page_date(section, url, today)
    table = section.find("table")
    if table is None:
        raise RefereePageError(url, "div.nba-refs-content holds no <table>")
    rows = table.find_all("tr")
    header_row = next((r for r in rows if r.find("th")), None)
    header = [_text(c) for c in header_row.find_all(["th", "td"])] if header_row else []
    missing = [h for h in ("Game", *ROLES) if h not in header]
    if missing:
        raise RefereePageError(url, f"the NBA table's header is {header}, without {missing}")
    games, notes = [], []
    for number, row in enumerate((r for r in rows if r is not header_row and r.find("td")), start=1):
        cells = [_text(c) for c in row.find_all(["td", "th"])]
        if len(cells) == 1 and "@" not in cells[0]:  # one cell across the table: a message ('No games scheduled')
            notes.append(cells[0])
            continue
        if len(cells) < len(header):
            raise RefereePageError(url, f"NBA table row {number} has {len(cells)} cells, the header {len(header)}: {cells}")
        games.append({"row": number, **dict(zip(header, cells))})
    if notes:
        dg.get_dagster_logger("nba_pipeline.sources.referees").info(f"referee_assignments: the NBA table of {url} says {notes}")
    if not games:
        return day, _empty()
    return day, _assignments(pd.DataFrame(games), day, url)


def _page_date(section, url: str, today: dt.date) -> dt.date:
    meta = section.find_previous("div", class_="entry-meta")
    if meta is None:
        dg.get_dagster_logger("nba_pipeline.sources.referees").warning(
            f"referee_assignments: {url} states no date (no entry-meta): taken as today's, {today}")
        return today
    when = to_datetime(_text(meta), format="%B %d, %Y", errors="coerce")
    if pd.isna(when):
        raise RefereePageError(url, f"the page's date {_text(meta)!r} is not a date like 'February 22, 2024'")
    return when.date()


def _assignments(games: pd.DataFrame, day: dt.date, url: str) -> pd.DataFrame:
    teams = games["Game"].str.split("@", n=1, expand=True).reindex(columns=[0, 1])
    away, home = teams[0].fillna("").map(tricode), teams[1].fillna("").map(tricode)
    unknown = games.loc[away.isna() | home.isna(), ["row", "Game"]]
    if len(unknown):
        what = "; ".join(f"row {r}: {g!r}" for r, g in unknown.itertuples(index=False))
        raise RefereePageError(url, f"game(s) not of the form 'Away @ Home' with NBA team names: {what}")
    games = games.assign(game_id=f"{day:%Y%m%d}_" + away + "_" + home)
    long = games.melt(id_vars=["row", "game_id"], value_vars=list(ROLES), var_name="role", value_name="cell")
    open_ = long["cell"].str.casefold().isin(NOT_ASSIGNED)
    if open_.any():  # a game whose whole crew is open has no row at all: say so here, full_crews cannot see it
        where = long[open_].groupby("game_id", sort=True)["role"].agg(", ".join)
        dg.get_dagster_logger("nba_pipeline.sources.referees").warning(
            f"referee_assignments: officials not yet assigned on {url}: " + "; ".join(f"{g} ({r})" for g, r in where.items()))
    long = long[~open_]
    parts = long["cell"].str.extract(_OFFICIAL)
    order = {role: i for i, role in enumerate(ROLES)}
    frame = pd.DataFrame({
        "game_id": long["game_id"],
        "game_date": pd.Timestamp(day),
        "official_id": pd.to_numeric(parts["number"]).astype("Int64"),
        "official_name": parts["name"].where(parts["name"].notna(), long["cell"]).str.strip(),
        "role": long["role"],
        "_order": long["role"].map(order),
    })
    return frame.sort_values(["game_id", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return schemas.empty(schemas.REFEREE_ASSIGNMENTS, "referee_assignments")[COLUMNS]


class NbaRefereeAssignmentsSource(NbaSource):
    """The referee_assignments feed from official.nba.com's daily assignments page (module docstring). Other
    feeds: `FeedNotAvailable`."""

    base_url: str = Field(PAGE_URL, description=f"The assignments page (env {URL_VARIABLE}: a mirror, or a test server).")
    headers: dict[str, str] = Field(default_factory=lambda: dict(BROWSER_HEADERS), description="Request headers; the CDN refuses clients without a browser User-Agent.")
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0, description="Retries after a 429, a 5xx, a timeout or a dropped connection.")
    backoff_seconds: float = Field(2.0, ge=0)
    max_backoff_seconds: float = Field(60.0, ge=0)

    _session: Any = PrivateAttr(None)

    @classmethod
    def from_environment(cls) -> NbaRefereeAssignmentsSource:
        """Production binding: the page, or the one NBA_REFEREES_URL names."""
        return cls(base_url=os.environ.get(URL_VARIABLE) or PAGE_URL)

    def session(self):
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update(self.headers)
        return self._session

    def page(self) -> str:
        """The page's HTML; 429/5xx/timeouts retried, then `RefereePageError`; other non-200 statuses at once."""
        import requests

        url, problem, status = self.base_url, "", None
        for attempt in range(self.max_retries + 1):
            wait = min(self.backoff_seconds * 2**attempt, self.max_backoff_seconds)
            try:
                response = self.session().get(url, timeout=self.timeout_seconds)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                problem, status = type(err).__name__, None
            else:
                status = response.status_code
                if status == 200:
                    return response.text
                if status not in RETRY_STATUSES:
                    raise RefereePageError(url, f"refused: {response.text[:200]!r}", status)
                problem = f"HTTP {status}"
                after = retry_after_seconds(response.headers.get("Retry-After"))
                wait = min(after, self.max_backoff_seconds) if after is not None else wait
            if attempt < self.max_retries:
                time.sleep(wait)
        raise RefereePageError(url, f"gave up after {self.max_retries + 1} attempts; last: {problem}", status)

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if feed != "referee_assignments":
            raise FeedNotAvailable(f"official.nba.com's assignments page provides referee_assignments only, not {feed}")
        log = dg.get_dagster_logger("nba_pipeline.sources.referees")
        today = pd.Timestamp.now(tz=EASTERN).date()
        day, frame = parse_page(self.page(), self.base_url, today)
        games = frame["game_id"].nunique()
        others = [d for d in pd.date_range(start, end).date if d != day]
        if others:
            shown = f"{others[0]}" if len(others) == 1 else f"{others[0]}..{others[-1]} ({len(others)} dates)"
            log.warning(f"referee_assignments: the assignments page shows {day} only; no assignments for {shown} from this source")
        if not start <= day <= end:
            return _empty()
        log.info(f"referee_assignments: {games} NBA game(s) with officials on the page for {day}, {len(frame)} officials")
        return frame
