"""The injury_report feed from the NBA's official injury report: the PDF files the league publishes several times a
day at `https://ak-static.cms.nba.com/referee/injury/Injury-Report_<date>_<time>.pdf`.

- **Versions.** For each Eastern date of the range, every publication slot of that day is tried: hourly files
  (`…_2024-02-22_05PM.pdf`) until `quarter_hour_from` (2025-12-23, when the league went to 15-minute files named
  `…_2026-01-13_05_15PM.pdf`), every 15 minutes from then; slots later than now are not asked for. A 403 or 404 for
  a slot means "no version was published then" (the CDN answers 403 for a missing file), not an error. Every
  version found is parsed and kept: `report_at` is the time printed in the version's header ("Injury Report:
  02/22/24 05:30 PM", Eastern; the file name's hour is 30 minutes earlier than the publication and is not used).
  Which version counts for a game (the latest before its tip-off) is decided downstream:
  `raw.injuries.latest_before_tipoff`.
- **Rows.** A report lists the games of its day and usually the next day's; the rows kept are those whose Game Date
  is in the range. Game Date, Game Time, Matchup and Team are printed once per block and carried down to the rows
  below, also across a page break. A team listed "NOT YET SUBMITTED" has no rows (counted in the log); a team with
  no injuries is not listed at all; a day without games (All-Star Sunday lists only `UNK@UNK Non-NBA Team`) gives an
  empty frame of the schema. A reason that wraps onto the lines above and below its player's line is joined.
- **Ids.** Teams: the full name and the matchup's tricodes (NBA.com's); `game_id` is the date-team form
  `YYYYMMDD_AWAY_HOME` that `analytics.game_ids.normalize_game_ids` resolves against the schedule (as for
  `odds_api`). Players: "Last, First" (suffixes and accents as printed) matched to NBA.com person ids by
  `sources.players` against NBA.com's `commonallplayers` (through the `players` NBA.com client, as `odds_api` does),
  only among the player's own team. A name that fits no player or several **keeps its row with no player_id**: the
  contract requires the id, so the raw `matches_schema` check fails for the date (blocking) naming the game, player
  and version, and the fetch's log lists the candidates. Why blocking and not a warning as for prop lines: a Out
  player the pipeline cannot identify would silently lower his teammates' `teammates_out` (and the player's own
  status), which is worse for a prediction than waiting for the directory to catch up.
- **Errors.** 5xx, 429, timeouts and dropped connections are retried with backoff, then fail naming the URL; another
  4xx fails at once; a 200 whose body is not a PDF, or a PDF that is not an injury report (no header time, a row
  without a status, a status outside the five, a team that is not in its matchup), fails naming the URL (and page).

Why pdfplumber (on pdfminer.six), not tabula: the league's PDF has no ruled table, so tabula-py (used by the
`nbainjuries` package) guesses columns and needs a Java runtime through JPype; pdfplumber gives each word with its
position in pure Python, and the columns are read from the header's positions on the page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import threading
import time
from collections import OrderedDict
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.teams import TEAMS
from nba_pipeline.sources.base import FeedNotAvailable, NbaSource
from nba_pipeline.sources.nba_stats import RETRY_STATUSES, NbaStatsApiSource, retry_after_seconds
from nba_pipeline.sources.odds_api import EASTERN, TRICODE_BY_NAME
from nba_pipeline.sources.players import match_players, season_directory

BASE_URL = "https://ak-static.cms.nba.com/referee/injury"
BASE_URL_VARIABLE = "NBA_INJURY_REPORT_URL"
STATUSES = ("Out", "Doubtful", "Questionable", "Probable", "Available")
NOT_SUBMITTED = "NOT YET SUBMITTED"
# the columns in the order the report prints them, and the header word each starts at
COLUMNS = ("game_date", "game_time", "matchup", "team", "player", "status", "reason")
HEADER = re.compile(r"Injury Report:\s*(\d{2}/\d{2}/\d{2})\s+(\d{1,2}:\d{2})\s*([AP]M)")
PAGE_FOOTER = re.compile(r"Page \d+ of \d+")
PARSED = ["game_date", "game_time", "matchup", "team", "vendor_name", "status", "reason", "report_at", "page"]
TEAM_ID = dict(zip(TEAMS["tricode"], TEAMS["team_id"]))
# A version's PDF never changes once posted, and the discovery sensor re-reads the day's versions every 15 minutes:
# parsed reports are kept per process by the body's SHA-256 (~0.5 s of parsing each; a changed body is parsed anew)
PARSED_KEPT = 512
_parsed: OrderedDict[str, tuple[pd.DataFrame, int]] = OrderedDict()
_parsed_lock = threading.Lock()


def parse_report_cached(body: bytes, url: str) -> tuple[pd.DataFrame, int]:
    """`parse_report`, once per distinct body in this process (a copy each time: callers may change it)."""
    key = hashlib.sha256(body).hexdigest()
    with _parsed_lock:
        if key in _parsed:
            _parsed.move_to_end(key)
            rows, not_submitted = _parsed[key]
            return rows.copy(), not_submitted
    rows, not_submitted = parse_report(body, url)
    with _parsed_lock:
        _parsed[key] = (rows.copy(), not_submitted)
        while len(_parsed) > PARSED_KEPT:
            _parsed.popitem(last=False)
    return rows, not_submitted


class InjuryReportError(RuntimeError):
    """A report the pipeline cannot use: its URL (and page), and what is wrong."""

    def __init__(self, url: str, what: str):
        self.url = url
        super().__init__(f"NBA injury report {url}: {what}")


def report_slots(day: dt.date, quarter_hour_from: dt.date) -> list[tuple[str, pd.Timestamp]]:
    """(file name, nominal Eastern time) of every slot a version of `day` can be published at."""
    step = 15 if day >= quarter_hour_from else 60
    times = pd.date_range(pd.Timestamp(day), periods=24 * 60 // step, freq=f"{step}min")
    stamp = times.strftime("%I_%M%p") if step < 60 else times.strftime("%I%p")
    return [(f"Injury-Report_{day:%Y-%m-%d}_{s}.pdf", t) for s, t in zip(stamp, times)]


def _column_starts(words: list[dict[str, Any]]) -> list[float] | None:
    """x where each column starts, from the header row 'Game Date | Game Time | Matchup | Team | Player Name |
    Current Status | Reason' (None: no header on this page)."""
    starts = {w["text"]: w["x0"] for w in words if w["text"] in ("Matchup", "Team", "Player", "Current", "Reason")}
    games = sorted(w["x0"] for w in words if w["text"] == "Game")
    if len(starts) < 5 or len(games) < 2:
        return None
    return [games[0], games[1], starts["Matchup"], starts["Team"], starts["Player"], starts["Current"], starts["Reason"]]


def _page_rows(words: list[dict[str, Any]], starts: list[float], header_bottom: float) -> list[dict[str, str]]:
    """The rows of one page: a row is a line with a status (or NOT YET SUBMITTED); text on lines between rows (a
    reason or a team name wrapped above and below its row's line) belongs to the nearest row."""
    body = [w for w in words if w["top"] > header_bottom]
    lines: list[tuple[float, dict[str, list[str]]]] = []
    for w in sorted(body, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1][0] - w["top"]) <= 2:
            cells = lines[-1][1]
        else:
            cells = {}
            lines.append((w["top"], cells))
        column = COLUMNS[max(i for i, x in enumerate(starts) if w["x0"] >= x - 4)] if w["x0"] >= starts[0] - 4 else COLUMNS[0]
        cells.setdefault(column, []).append(w["text"])
    lines = [(top, {c: " ".join(t) for c, t in cells.items()}) for top, cells in lines]
    # NOT YET SUBMITTED is printed across the player, status and reason columns: the row of a team with no list
    lines = [(top, {**{c: t for c, t in cells.items() if t != NOT_SUBMITTED}, "player": NOT_SUBMITTED})
             if NOT_SUBMITTED in cells.values() else (top, cells) for top, cells in lines]
    lines = [(top, cells) for top, cells in lines if not PAGE_FOOTER.fullmatch(" ".join(cells.values()))]
    anchors = [i for i, (_, cells) in enumerate(lines) if "status" in cells or cells.get("player") == NOT_SUBMITTED]
    rows = [{"_top": lines[i][0], **{c: [] for c in COLUMNS}} for i in anchors]
    for top, cells in lines:
        if not rows:
            raise ValueError(f"text with no player row on the page: {cells}")
        nearest = min(rows, key=lambda r: abs(r["_top"] - top))
        for column, text in cells.items():
            nearest[column].append(text)
    return [{c: " ".join(r[c]) for c in COLUMNS} for r in rows]


def parse_report(body: bytes, url: str) -> tuple[pd.DataFrame, int]:
    """One version's rows (PARSED columns, text as printed, the header's time as `report_at`) and how many teams
    were NOT YET SUBMITTED."""
    import pdfplumber

    if not body.lstrip()[:5] == b"%PDF-":
        raise InjuryReportError(url, f"not a PDF ({len(body)} bytes starting {body[:40]!r})")
    rows: list[dict[str, Any]] = []
    report_at, starts = None, None
    try:
        with pdfplumber.open(io.BytesIO(body)) as pdf:
            for page in pdf.pages:
                words = page.extract_words(x_tolerance=1.5, y_tolerance=2, extra_attrs=["size"])
                text = " ".join(w["text"] for w in words)
                found = HEADER.search(text)
                if found is None:
                    raise InjuryReportError(url, f"page {page.page_number}: no 'Injury Report: <date> <time>' header")
                at = to_datetime(" ".join(found.groups()), format="%m/%d/%y %I:%M %p")
                if report_at is not None and at != report_at:
                    raise InjuryReportError(url, f"page {page.page_number} says {at}, page 1 says {report_at}")
                report_at = at
                header = [w for w in words if w["text"] in ("Matchup", "Reason")]
                starts = _column_starts(words) or starts
                if starts is None:
                    raise InjuryReportError(url, f"page {page.page_number}: no column header (Game Date … Reason)")
                header_bottom = max(w["bottom"] for w in header) if len(header) == 2 else max(w["bottom"] for w in words if w["size"] > 14)
                try:
                    page_rows = _page_rows(words, starts, header_bottom)
                except ValueError as err:
                    raise InjuryReportError(url, f"page {page.page_number}: {err}") from None
                rows += [{**r, "page": page.page_number} for r in page_rows]
    except InjuryReportError:
        raise
    except Exception as err:  # pdfminer's errors for a damaged file have no common base: each is named, with the URL
        raise InjuryReportError(url, f"unreadable PDF: {type(err).__name__}: {err}") from None
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "page"]).replace("", pd.NA)
    # printed once per block, carried down (and over page breaks); a team only within its matchup's block, whose
    # first row names it: a team carried into the next matchup would be another game's
    block = frame["matchup"].notna().cumsum()
    frame[["game_date", "game_time", "matchup"]] = frame[["game_date", "game_time", "matchup"]].ffill()
    frame["team"] = frame.groupby(block)["team"].ffill()
    frame = frame.rename(columns={"player": "vendor_name"}).assign(report_at=report_at)
    submitted = frame["vendor_name"] != NOT_SUBMITTED
    not_submitted = int((~submitted).sum())
    frame = frame[submitted]
    bad = ~frame["status"].isin(STATUSES) | frame["vendor_name"].isna()
    if bad.any():
        r = frame[bad].iloc[0]
        raise InjuryReportError(url, f"page {r['page']}: row {r['vendor_name']!r} ({r['team']}, {r['matchup']}) has status {r['status']!r}, not one of {STATUSES}")
    unplaced = frame[["game_date", "matchup", "team"]].isna().any(axis=1)
    if unplaced.any():
        r = frame[unplaced].iloc[0]
        raise InjuryReportError(url, f"page {r['page']}: row {r['vendor_name']!r} has no game date, matchup or team above it")
    return frame[PARSED].reset_index(drop=True), not_submitted


def first_last(names: pd.Series) -> pd.Series:
    """'Lofton Jr., Kenneth' -> 'Kenneth Lofton Jr.'; a name without a comma stays as printed."""
    parts = names.str.extract(r"^(?P<last>[^,]+),\s*(?P<first>.+)$")
    return (parts["first"] + " " + parts["last"]).fillna(names).str.strip()


class NbaInjuryReportSource(NbaSource):
    """The injury_report feed from the league's PDF reports (module docstring). Other feeds: `FeedNotAvailable`."""

    base_url: str = Field(BASE_URL, description=f"Where the PDFs are (env {BASE_URL_VARIABLE}); tests point it at a local server.")
    quarter_hour_from: str = Field("2025-12-23", description="First day (ISO) of 15-minute files (HH_MMAM names); hourly before.")
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0, description="Retries after a 429, a 5xx, a timeout or a dropped connection.")
    backoff_seconds: float = Field(2.0, ge=0)
    max_backoff_seconds: float = Field(60.0, ge=0)
    players: NbaStatsApiSource = Field(default_factory=NbaStatsApiSource, description="NBA.com client for the player directory (commonallplayers).")

    _session: Any = PrivateAttr(None)
    _directory: dict[str, pd.DataFrame] = PrivateAttr(default_factory=dict)
    _unmatched: list[str] = PrivateAttr(default_factory=list)
    _requested: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def from_environment(cls) -> NbaInjuryReportSource:
        """Production binding: NBA_INJURY_REPORT_URL, if set, replaces the league's address; the player directory
        goes through NBA.com as `NbaStatsApiSource.from_environment` does (NBA_STATS_PROXY)."""
        import os

        return cls(base_url=os.environ.get(BASE_URL_VARIABLE) or BASE_URL, players=NbaStatsApiSource.from_environment())

    @property
    def unmatched(self) -> list[str]:
        """Why each name of the last fetch matched no single NBA.com player."""
        return list(self._unmatched)

    @property
    def requested(self) -> list[str]:
        """Every URL asked for (retries counted once each)."""
        return list(self._requested)

    def session(self):
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update({"User-Agent": "Mozilla/5.0 (nba_pipeline injury report)", "Accept": "application/pdf"})
        return self._session

    def download(self, url: str) -> bytes | None:
        """The body of `url`; None for 403/404 (no version then); 429/5xx/timeouts retried, then an error."""
        import requests

        problem = ""
        for attempt in range(self.max_retries + 1):
            self._requested.append(url)
            wait = min(self.backoff_seconds * 2**attempt, self.max_backoff_seconds)
            try:
                response = self.session().get(url, timeout=self.timeout_seconds)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                problem = type(err).__name__
            else:
                if response.status_code == 200:
                    return response.content
                if response.status_code in (403, 404):
                    return None
                if response.status_code not in RETRY_STATUSES:
                    raise InjuryReportError(url, f"HTTP {response.status_code}: {response.text[:200]!r}")
                problem = f"HTTP {response.status_code}"
                after = retry_after_seconds(response.headers.get("Retry-After"))
                wait = min(after, self.max_backoff_seconds) if after is not None else wait
            if attempt < self.max_retries:
                time.sleep(wait)
        raise InjuryReportError(url, f"gave up after {self.max_retries + 1} attempts; last: {problem}")

    def versions(self, day: dt.date) -> list[pd.DataFrame]:
        """Every version of `day`'s report published by now, parsed."""
        log = dg.get_dagster_logger("nba_pipeline.sources.injury_report")
        now = pd.Timestamp.now(tz=EASTERN).tz_localize(None)
        found = []
        for name, at in report_slots(day, dt.date.fromisoformat(self.quarter_hour_from)):
            if at > now:
                break
            url = f"{self.base_url.rstrip('/')}/{name}"
            body = self.download(url)
            if body is None:
                continue
            rows, not_submitted = parse_report_cached(body, url)
            log.info(f"injury_report: {name} (report of {rows['report_at'].iloc[0] if len(rows) else 'no rows'}): "
                     f"{len(rows)} player rows, {not_submitted} team(s) not yet submitted")
            found.append(rows)
        return found

    def directory(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """NBA.com rosters (commonallplayers, current season), once per season per run."""
        return season_directory(self.players, self._directory, start, end)

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if feed != "injury_report":
            raise FeedNotAvailable(f"The NBA's injury report provides injury_report only, not {feed}")
        log = dg.get_dagster_logger("nba_pipeline.sources.injury_report")
        self._unmatched = []
        versions = [v for day in pd.date_range(start, end).date for v in self.versions(day)]
        rows = pd.concat(versions, ignore_index=True) if versions else pd.DataFrame(columns=PARSED)
        rows = rows.assign(game_date=to_datetime(rows["game_date"], format="%m/%d/%Y", errors="coerce"))
        rows = rows[rows["game_date"].between(pd.Timestamp(start), pd.Timestamp(end))]
        if rows.empty:
            return schemas.empty(schemas.INJURY_REPORT, "injury_report")
        teams = rows["matchup"].str.extract(r"^(?P<away_team>[A-Z]{3})@(?P<home_team>[A-Z]{3})$")
        rows = pd.concat([rows.reset_index(drop=True), teams.reset_index(drop=True)], axis=1)
        rows["team_abbreviation"] = rows["team"].str.replace(r"\s+", " ", regex=True).map(TRICODE_BY_NAME)
        wrong = rows["team_abbreviation"].isna() | ~(rows["team_abbreviation"].eq(rows["home_team"]) | rows["team_abbreviation"].eq(rows["away_team"])).fillna(False)
        if wrong.any():
            r = rows[wrong].iloc[0]
            raise InjuryReportError(f"version of {r['report_at']}", f"page {r['page']}: team {r['team']!r} is not an NBA team of its matchup {r['matchup']!r} (player {r['vendor_name']!r})")
        rows["vendor_name"] = first_last(rows["vendor_name"].astype("string"))
        matched, why = match_players(rows[["vendor_name", "home_team", "away_team"]], self.directory(start, end))
        # a name matched to a player of the other team of the game is not this row's player
        other_team = matched["player_id"].notna() & (matched["team_abbreviation"] != rows["team_abbreviation"].to_numpy())
        said = list(why) + [f"'{n}' listed for {t} matches only {p} of {o}" for n, t, p, o in zip(
            matched.loc[other_team, "vendor_name"], rows.loc[other_team.to_numpy(), "team_abbreviation"],
            matched.loc[other_team, "player_name"], matched.loc[other_team, "team_abbreviation"])]
        matched.loc[other_team, "player_id"] = pd.NA
        matched.loc[other_team, "player_name"] = matched.loc[other_team, "vendor_name"]
        self._unmatched = said
        if said:
            log.warning(f"injury_report: {len(said)} name(s) matched no single NBA.com player (their rows fail the "
                        f"raw matches_schema check): {'; '.join(said)}")
        tricode = rows["team_abbreviation"]
        frame = pd.DataFrame(
            {
                "game_id": rows["game_date"].dt.strftime("%Y%m%d") + "_" + rows["away_team"] + "_" + rows["home_team"],
                "game_date": rows["game_date"],
                "team_id": tricode.map(TEAM_ID).astype("Int64"),
                "team_abbreviation": tricode,
                "player_id": matched["player_id"].astype("Int64"),
                "player_name": matched["player_name"],
                "status": rows["status"],
                "reason": rows["reason"],
                "report_at": rows["report_at"],
            }
        )
        return frame.sort_values(["report_at", "game_date", "game_id", "team_abbreviation", "player_name"], kind="stable").reset_index(drop=True)
