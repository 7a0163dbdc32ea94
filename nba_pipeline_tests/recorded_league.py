"""One real HTTP server (a thread on a free port) that answers like every production vendor at once, for a story
clock `server.now` (Eastern wall clock) that decides what exists at each tick of a played day.

- NBA.com stats (`/stats/...`): `scoreboardv3` (a date's games: Scheduled before tip-off, In Progress for
  GAME_LENGTH after it, then Final), `leaguegamelog` (team rows of the games final by `now`),
  `boxscoretraditionalv2` (a game's player and team rows, once it is final; 404-free: a game not final yet has empty
  result sets, as NBA.com serves a game not started), `commonallplayers` (every player with an NBA.com id, on the team
  of his latest game up to `now`). **Constructed** bodies, in the shapes of the recordings in fixtures/nba_stats_api,
  from the real 2023-24 rows the package ships (`nba_pipeline/data/season_2023_24`); player ids and spellings are
  NBA.com's (the replay's `player_ids.csv`, from nba_api's static list), tip-off times of the game day are
  the vendor's recorded `commence_time`s, of earlier dates 19:00 ET (constructed; nothing reads them after the day).
- The Odds API v4 (`/v4/sports/basketball_nba/...`): the **recorded** events list and the two recorded event-odds
  bodies of 2024-02-22 (fixtures/the_odds_api), as LINE_SNAPSHOTS: the board posted at each time is the recording
  with `last_update` set to that time, and from the second snapshot on a few players' numbers moved by hand
  (MOVES). Before the first snapshot an event has no props (`bookmakers: []`, the vendor's shape).
- The league's injury-report CDN (`/injury/…pdf`, `injury_reports`): the **recorded** PDFs of
  fixtures/nba_injury_report, each from its publication time on (403 before, as the CDN answers a missing file).
- official.nba.com's referee assignments page (`/referee-assignments/`, `referee_page`): the page of 2024-02-22
  (fixtures/nba_referee_assignments: recorded crews in built-by-hand markup) from 09:00 ET, and before that the same
  page with no NBA crews yet (built by hand).
- Other vendors plug in with `route(prefix, handler)`: `handler(path, params, now) -> (status, content_type, body)`.
"""

from __future__ import annotations

import copy
import json
import threading
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from nba_pipeline.league.teams import TEAMS
from nba_pipeline.sources.replay import DATA_DIR, PLAYER_IDS_FILE, replay_season

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ODDS = FIXTURES / "the_odds_api"
PLAYER_IDS = DATA_DIR / PLAYER_IDS_FILE
INJURY_REPORTS = FIXTURES / "nba_injury_report"
# the roster directory built for the injury reports: the players they list who have not played this season are in it
INJURY_DIRECTORY = INJURY_REPORTS / "CommonAllPlayers_2024-02-22.json"
DIRECTORY_DAY = pd.Timestamp("2024-02-22")
REFEREE_PAGE = FIXTURES / "nba_referee_assignments" / "referee_assignments_2024-02-22.html"
EASTERN = "America/New_York"
SEASON = "2023-24"
GAME_LENGTH = pd.Timedelta(hours=2, minutes=30)
PAST_TIPOFF = pd.Timedelta(hours=19)  # tip-off of dates other than the game day: constructed, 19:00 ET
# the board as posted at each time (Eastern); the first is the recording, the later ones move MOVES' players by hand
LINE_SNAPSHOTS = ("09:00", "11:45", "14:45", "17:45")
# (snapshot index, vendor name as the recording spells it, points added to every book's number): built by hand
MOVES = (
    (1, "Jarrett Allen", 1.0), (1, "Scottie Barnes", -1.0),
    (2, "Paolo Banchero", 1.0), (2, "Mikal Bridges", -1.0),
    (3, "Franz Wagner", -1.0), (3, "Darius Garland", 1.0),
)
Handler = Callable[[str, dict[str, str], pd.Timestamp], tuple[int, str, bytes]]


def _result_set(name: str, frame: pd.DataFrame) -> dict:
    rows = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return {"name": name, "headers": list(frame.columns), "rowSet": rows}


@lru_cache(maxsize=1)
def league() -> dict[str, pd.DataFrame]:
    """The replay's season (its players carry NBA.com ids), with NBA.com's spellings of their names."""
    feeds = replay_season(str(DATA_DIR)).feeds
    spelled = pd.read_csv(PLAYER_IDS).set_index("nba_person_id")["nba_name"]
    players = feeds["player_boxscores"].copy()
    players["player_name"] = players["player_id"].map(spelled).fillna(players["player_name"])
    schedule = feeds["schedule"].drop_duplicates("game_id")
    events = pd.DataFrame(json.loads((ODDS / "events.json").read_text()))
    names = dict(zip(TEAMS["city"] + " " + TEAMS["nickname"], TEAMS["tricode"])) | {"Los Angeles Clippers": "LAC"}
    tips = pd.DataFrame({
        "home_team": events["home_team"].map(names), "away_team": events["away_team"].map(names),
        "tip": pd.to_datetime(events["commence_time"], utc=True).dt.tz_convert(EASTERN).dt.tz_localize(None),
    })
    tips["game_date"] = tips["tip"].dt.normalize()
    schedule = schedule.merge(tips, on=["game_date", "home_team", "away_team"], how="left")
    schedule["tip"] = schedule["tip"].fillna(schedule["game_date"] + PAST_TIPOFF)
    points = feeds["team_boxscores"].set_index(["game_id", "team_id"])["pts"]
    for side in ("home", "away"):  # the final score: the team's points (the replay checks they are the official ones)
        keys = pd.MultiIndex.from_arrays([schedule["game_id"], schedule[f"{side}_team_id"]])
        schedule[f"{side}_score"] = points.reindex(keys).fillna(0).astype(int).to_numpy()
    return {"schedule": schedule, "players": players, "teams": feeds["team_boxscores"]}


class _GameRows(NamedTuple):
    headers: list[str]
    rows: dict[str, list[list]]  # game id -> its rows, in the files' order


@lru_cache(maxsize=1)
def _box_scores() -> tuple[_GameRows, _GameRows]:
    """Every game's box score rows (players, teams) as boxscoretraditionalv2 lists them, built once for the
    season: a story asks for thousands of box scores, and filtering the season's frames for each one was ~20 ms."""
    players, teams = league()["players"], league()["teams"]
    stats = {c.upper(): c for c in ("fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl", "blk")}
    player_rows = pd.DataFrame({
        "GAME_ID": players["game_id"], "TEAM_ID": players["team_id"], "TEAM_ABBREVIATION": players["team_abbreviation"],
        "PLAYER_ID": players["player_id"], "PLAYER_NAME": players["player_name"], "START_POSITION": "", "COMMENT": "",
        "MIN": players["minutes"], **{k: players[v] for k, v in stats.items()}, "TO": players["tov"],
        "PF": players["pf"], "PTS": players["pts"], "PLUS_MINUS": players["plus_minus"],
    })
    team_rows = pd.DataFrame({
        "GAME_ID": teams["game_id"], "TEAM_ID": teams["team_id"], "TEAM_ABBREVIATION": teams["team_abbreviation"],
        "MIN": teams["minutes"], **{k: teams[v] for k, v in stats.items()}, "TO": None,
        "PF": teams["pf"], "PTS": teams["pts"], "PLUS_MINUS": teams["plus_minus"],
    })
    return _by_game(player_rows), _by_game(team_rows)


def _by_game(frame: pd.DataFrame) -> _GameRows:
    rows = _result_set("", frame)["rowSet"]
    positions = frame.groupby("GAME_ID", sort=False).indices
    return _GameRows(list(frame.columns), {game: [rows[i] for i in at] for game, at in positions.items()})


class RecordedLeague:
    """`now` is the story's Eastern wall clock; `seen` every (path, params) asked for."""

    def __init__(self, now: str = "2024-02-22T06:00:00"):
        self.now = pd.Timestamp(now)
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.routes: dict[str, Handler] = {
            "/injury/": injury_reports(INJURY_REPORTS),  # NBA_INJURY_REPORT_URL = url + "/injury"
            "/referee-assignments": referee_page(REFEREE_PAGE),  # NBA_REFEREES_URL = url + "/referee-assignments/"
        }
        self.events = json.loads((ODDS / "events.json").read_text())
        self.recorded = {p.stem.removeprefix("event_odds_"): json.loads(p.read_text()) for p in ODDS.glob("event_odds_*.json")}
        self.used = 0
        server = self

        class Http(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.seen.append((url.path, params))
                try:
                    status, kind, body = server.answer(url.path, params)
                except Exception as err:  # a bug in the story's server: the client sees a 500 naming it
                    status, kind, body = 500, "text/plain", f"{type(err).__name__}: {err}".encode()
                self.send_response(status)
                if url.path.startswith("/v4/"):
                    cost = 1 if url.path.endswith("/odds") and status == 200 else 0
                    server.used += cost
                    self.send_header("x-requests-used", str(server.used))
                    self.send_header("x-requests-remaining", str(20000 - server.used))
                    self.send_header("x-requests-last", str(cost))
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Http)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- plumbing ---------------------------------------------------------------------------------------------
    def __enter__(self) -> RecordedLeague:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, prefix: str, handler: Handler) -> None:
        self.routes[prefix] = handler

    def paths(self, suffix: str) -> list[str]:
        return [p for p, _ in self.seen if p.endswith(suffix)]

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        for prefix, handler in self.routes.items():
            if path.startswith(prefix):
                return handler(path, params, self.now)
        if path.startswith("/stats/"):
            endpoint = path.rstrip("/").rsplit("/", 1)[-1]
            body = {"scoreboardv3": self.scoreboard, "leaguegamelog": self.game_log,
                    "boxscoretraditionalv2": self.box_score, "commonallplayers": self.players}.get(endpoint)
            if body is None:
                return 404, "text/plain", f"no endpoint {endpoint}".encode()
            return 200, "application/json", json.dumps(body(params)).encode()
        if path.startswith("/v4/"):
            status, body = self.odds_api(path, params)
            return status, "application/json", json.dumps(body).encode()
        return 404, "text/plain", f"nothing at {path}".encode()

    # -- NBA.com stats ------------------------------------------------------------------------------------------
    def final(self, games: pd.DataFrame) -> pd.Series:
        return games["tip"] + GAME_LENGTH <= self.now

    def scoreboard(self, params: dict[str, str]) -> dict:
        day = pd.Timestamp(params["GameDate"])
        games = league()["schedule"]
        games = games[games["game_date"] == day]
        status = pd.Series(1, index=games.index).where(games["tip"] > self.now, 2).where(~self.final(games), 3)
        board = [
            {
                "gameId": g.game_id, "gameCode": f"{day:%Y%m%d}/{g.away_team}{g.home_team}", "gameStatus": int(s),
                "gameStatusText": {1: f"{g.tip:%-I:%M %p} ET", 2: "In Progress", 3: "Final"}[int(s)],
                "gameTimeUTC": pd.Timestamp(g.tip).tz_localize(EASTERN).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
                "gameEt": f"{g.tip:%Y-%m-%dT%H:%M:%S}Z",
                "homeTeam": {"teamId": int(g.home_team_id), "teamTricode": g.home_team, "score": int(g.home_score) if s == 3 else 0},
                "awayTeam": {"teamId": int(g.away_team_id), "teamTricode": g.away_team, "score": int(g.away_score) if s == 3 else 0},
            }
            for g, s in zip(games.itertuples(), status)
        ]
        return {"meta": {"version": 1, "request": "constructed"},
                "scoreboard": {"gameDate": f"{day:%Y-%m-%d}", "leagueId": "00", "games": board}}

    def _final_ids(self) -> set[str]:
        games = league()["schedule"]
        return set(games.loc[self.final(games), "game_id"])

    def game_log(self, params: dict[str, str]) -> dict:
        teams = league()["teams"]
        teams = teams[teams["game_id"].isin(self._final_ids())]
        schedule = league()["schedule"].set_index("game_id")
        home = teams["team_abbreviation"] == teams["game_id"].map(schedule["home_team"])
        opponent = teams["game_id"].map(schedule["away_team"]).where(home, teams["game_id"].map(schedule["home_team"]))
        frame = pd.DataFrame({
            "SEASON_ID": "22023", "TEAM_ID": teams["team_id"], "TEAM_ABBREVIATION": teams["team_abbreviation"],
            "GAME_ID": teams["game_id"], "GAME_DATE": teams["game_date"].dt.strftime("%Y-%m-%d"),
            "MATCHUP": teams["team_abbreviation"] + home.map({True: " vs. ", False: " @ "}) + opponent,
            "WL": (teams["plus_minus"] > 0).map({True: "W", False: "L"}),
            "MIN": teams["minutes"].str.split(":").str[0].astype(int),
            **{c.upper(): teams[c] for c in ("fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl", "blk")},
            "TOV": None,  # the files do not have the official team total: NULL, never the players' sum
            "PF": teams["pf"], "PTS": teams["pts"], "PLUS_MINUS": teams["plus_minus"],
        })
        return {"resource": "leaguegamelog", "parameters": params, "resultSets": [_result_set("LeagueGameLog", frame)]}

    def box_score(self, params: dict[str, str]) -> dict:
        game = params["GameID"]
        players, teams = _box_scores()
        final = game in self._final_ids()
        return {"resource": "boxscore", "parameters": params, "resultSets": [
            {"name": "PlayerStats", "headers": players.headers, "rowSet": players.rows.get(game, []) if final else []},
            {"name": "TeamStats", "headers": teams.headers, "rowSet": teams.rows.get(game, []) if final else []},
        ]}

    def players(self, params: dict[str, str]) -> dict:
        """Every player with an NBA.com id who has played this season, on the team of his latest game up to now. From
        2024-02-22 on, the roster fixture built for the injury reports (INJURY_DIRECTORY, built by hand: see
        fixtures/SOURCES.md) adds the players they list who have not played (out all season, call-ups) and gives
        each player it has his team of that day (a deadline trade the box scores do not show yet)."""
        rows = league()["players"]
        rows = rows[(rows["game_date"] <= self.now) & (rows["player_id"] < 1 << 31)]
        latest = rows.sort_values("game_date", kind="stable").drop_duplicates("player_id", keep="last")
        teams = TEAMS.set_index("tricode")
        frame = pd.DataFrame({
            "PERSON_ID": latest["player_id"].astype(int),
            "DISPLAY_LAST_COMMA_FIRST": latest["player_name"].str.split(" ", n=1).str[::-1].str.join(", "),
            "DISPLAY_FIRST_LAST": latest["player_name"], "ROSTERSTATUS": 1, "FROM_YEAR": None, "TO_YEAR": "2023",
            "PLAYERCODE": None, "TEAM_ID": latest["team_id"],
            "TEAM_CITY": latest["team_abbreviation"].map(teams["city"]), "TEAM_NAME": latest["team_abbreviation"].map(teams["nickname"]),
            "TEAM_ABBREVIATION": latest["team_abbreviation"], "TEAM_CODE": None, "GAMES_PLAYED_FLAG": "Y",
            "OTHERLEAGUE_EXPERIENCE_CH": None,
        })
        built = json.loads(INJURY_DIRECTORY.read_text())["resultSets"][0]
        built = pd.DataFrame(built["rowSet"], columns=built["headers"]).set_index("PERSON_ID")
        if self.now.normalize() >= DIRECTORY_DAY:
            # the roster of that day: a player traded at the deadline who has not played for his new team yet is
            # on it (the injury reports list him there), not on the team of his latest game
            team = ["TEAM_ID", "TEAM_CITY", "TEAM_NAME", "TEAM_ABBREVIATION"]
            listed = frame["PERSON_ID"].isin(built.index)
            frame.loc[listed, team] = built.loc[frame.loc[listed, "PERSON_ID"], team].to_numpy()
        unplayed = built[~built.index.isin(frame["PERSON_ID"])].reset_index()[list(frame.columns)]
        frame = pd.concat([frame, unplayed], ignore_index=True).sort_values("DISPLAY_LAST_COMMA_FIRST")
        return {"resource": "commonallplayers", "parameters": params, "resultSets": [_result_set("CommonAllPlayers", frame)]}

    # -- The Odds API -------------------------------------------------------------------------------------------
    def posted(self) -> int | None:
        """The index of the latest line snapshot posted by now (None: nothing posted yet)."""
        times = [pd.Timestamp(f"{self.now:%Y-%m-%d} {t}") for t in LINE_SNAPSHOTS]
        done = [i for i, t in enumerate(times) if t <= self.now]
        return done[-1] if done else None

    def board(self, event_id: str, snapshot: int) -> dict:
        """The recorded body as posted at snapshot `snapshot`: every book's last_update at that time, MOVES applied."""
        body = copy.deepcopy(self.recorded[event_id])
        day = pd.Timestamp(body["commence_time"]).tz_convert(EASTERN).normalize().tz_localize(None)
        moved = {}
        for index, name, points in MOVES:
            if index <= snapshot:
                moved[name] = moved.get(name, 0.0) + points
        for book in body["bookmakers"]:
            for market in book["markets"]:
                for outcome in market["outcomes"]:
                    outcome["point"] = outcome["point"] + moved.get(outcome.get("description"), 0.0)
        for book in body["bookmakers"]:
            # when the number last changed: the latest snapshot that moved one of this book's players, else the first
            changed = [i for i, name, _ in MOVES if i <= snapshot and any(o.get("description") == name for m in book["markets"] for o in m["outcomes"])]
            at = pd.Timestamp(f"{day:%Y-%m-%d} {LINE_SNAPSHOTS[max(changed, default=0)]}").tz_localize(EASTERN).tz_convert("UTC")
            book["last_update"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            for market in book["markets"]:
                market["last_update"] = book["last_update"]
        return body

    def moved_quotes(self, snapshot: int) -> int:
        """How many (book, player) numbers snapshot `snapshot` moved."""
        names = {name for index, name, _ in MOVES if index == snapshot}
        return sum(
            len({(b["key"], o["description"]) for b in body["bookmakers"] for m in b["markets"] for o in m["outcomes"] if o.get("description") in names})
            for body in self.recorded.values()
        )

    def odds_api(self, path: str, params: dict[str, str]) -> tuple[int, object]:
        if not params.get("apiKey"):
            return 401, {"message": "API key is missing", "error_code": "MISSING_KEY"}
        if path.endswith("/events"):
            when = pd.to_datetime([e["commence_time"] for e in self.events], utc=True)
            low, high = pd.Timestamp(params["commenceTimeFrom"]), pd.Timestamp(params["commenceTimeTo"])
            return 200, [e for e, t in zip(self.events, when) if low <= t <= high]
        event_id = path.split("/")[-2]
        event = next((e for e in self.events if e["id"] == event_id), None)
        if event is None:
            return 404, {"message": "Event not found", "error_code": "EVENT_NOT_FOUND"}
        snapshot = self.posted()
        if event_id not in self.recorded or snapshot is None:
            return 200, {**{k: event[k] for k in ("id", "sport_key", "sport_title", "commence_time", "home_team", "away_team")}, "bookmakers": []}
        return 200, self.board(event_id, snapshot)



def injury_reports(directory: Path) -> Handler:
    """The league's injury-report CDN over the recorded PDFs in `directory`: a file exists once its version is
    published — 30 minutes after the hour its name carries (the header of `…_2024-02-22_01PM.pdf` says 01:30 PM) —
    and is a 403 before that, or when there is no such file (the CDN's answer for a missing file)."""
    files = {p.name: p for p in directory.glob("Injury-Report_*.pdf")}

    def published(name: str) -> pd.Timestamp:
        day, hour = name.removeprefix("Injury-Report_").removesuffix(".pdf").split("_", 1)
        return pd.Timestamp(f"{day} {hour.replace('_', ':')}") + pd.Timedelta(minutes=30)

    def handle(path: str, params: dict[str, str], now: pd.Timestamp) -> tuple[int, str, bytes]:
        name = path.rsplit("/", 1)[-1]
        if name not in files or published(name) > now:
            return 403, "application/xml", b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        return 200, "application/pdf", files[name].read_bytes()

    return handle


def referee_page(html_file: Path, posted: str = "09:00") -> Handler:
    """official.nba.com's assignments page of the recorded day: from `posted` (Eastern) on the recording; before
    it, **built by hand**, the same page with the NBA table's rows not yet there (crews are posted that morning)."""
    html = html_file.read_text()
    day = pd.Timestamp(html_file.stem.rsplit("_", 1)[-1])
    start = html.index('<div class="nba-refs-content">')
    body_open = html.index("<tbody>", start) + len("<tbody>")
    body_close = html.index("</tbody>", body_open)
    before = html[:body_open] + "\n" + html[body_close:]

    def handle(path: str, params: dict[str, str], now: pd.Timestamp) -> tuple[int, str, bytes]:
        text = html if now >= day + pd.Timedelta(posted + ":00") else before
        return 200, "text/html; charset=UTF-8", text.encode()

    return handle
