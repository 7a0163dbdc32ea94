"""The Odds API v4 adapter through a real local HTTP server serving recorded bodies (fixtures/the_odds_api): a real
slate of 2024-02-22 with several books, vendor spellings matched to NBA.com ids, the platform line and the no-vig
probability, the vendor's errors (401 bad key, 401 quota used up, 429, 5xx), an empty slate, a missing market, an
unknown and an ambiguous name, and a game postponed after its lines were posted."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.analytics.game_ids import normalize_game_ids
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs
from nba_pipeline.config import load_thresholds
from nba_pipeline.raw.checks import PROP_LINE_RULES
from nba_pipeline.raw.lines import IMPLIED_OVER, append_snapshots, current_lines, no_vig_over, platform_lines
from nba_pipeline.sources.base import FeedNotAvailable, MissingCredentials
from nba_pipeline.sources.nba_stats import NbaStatsApiSource
from nba_pipeline.sources.odds_api import OddsApiError, OddsApiSource
from nba_pipeline.sources.replay import DATA_DIR, GAMES_FILE, load_games
from nba_pipeline_tests.sources.odds_server import ERRORS, OddsServer

DAY = dt.date(2024, 2, 22)
ORL_CLE, BKN_TOR = "f54c4a22568ce9dc33fb410d1b0e75e9", "f9f3f99b5124a4ecf984003f0af23d2e"


def source(server: OddsServer, key: str | None = "test-key", **kw) -> OddsApiSource:
    players = NbaStatsApiSource(base_url=f"{server.url}/stats", min_interval_seconds=0, max_retries=0)
    return OddsApiSource(api_key=key, base_url=server.url, backoff_seconds=0, players=players, **kw)


@pytest.fixture
def server():
    with OddsServer() as s:
        yield s


def by_name(frame: pd.DataFrame, name: str, book: str) -> pd.Series:
    return frame[(frame["player_name"] == name) & (frame["sportsbook"] == book)].iloc[0]


def test_a_recorded_slate_becomes_every_books_lines_matched_to_nba_com_ids(server):
    src = source(server)
    lines = src.fetch_conformed("prop_lines", DAY, DAY)
    # 12 games listed; two have recorded props, ten have none posted yet: one events call, 12 odds calls, one roster call
    assert len(server.paths("/events")) == 1 and len(server.paths("/odds")) == 12 and len(server.paths("/commonallplayers")) == 1
    assert server.seen[1][1]["markets"] == "player_points" and server.seen[1][1]["oddsFormat"] == "american"
    assert set(lines["game_id"]) == {"20240222_ORL_CLE", "20240222_BKN_TOR"}
    assert lines["sportsbook"].nunique() == 10 and lines["player_id"].notna().all() and src.unmatched == []
    # the vendor's spellings, each matched to the NBA.com player (fixtures: CommonAllPlayers from nba_api's ids)
    ids = lines.drop_duplicates("player_id").set_index("player_name")["player_id"]
    assert ids["Jonathan Isaac"] == 1628371 and ids["Nic Claxton"] == 1629651 and ids["Dennis Schröder"] == 203471
    assert ids["Wendell Carter Jr."] == 1628976 and ids["RJ Barrett"] == 1629628 and ids["Cameron Johnson"] == 1629661
    assert ids["Dorian Finney-Smith"] == 1627827 and ids["Lonnie Walker IV"] == 1629022 and ids["Cam Thomas"] == 1630560
    assert len(ids) == 36
    banchero = by_name(lines, "Paolo Banchero", "draftkings")
    assert (banchero["line"], banchero["over_odds"], banchero["under_odds"], banchero["team_abbreviation"]) == (20.5, -140, 110, "ORL")
    assert banchero["snapshot_at"] == pd.Timestamp("2024-02-22 18:55:07")  # the book's last_update, Eastern
    schedule = load_games(DATA_DIR / GAMES_FILE)
    assert set(normalize_game_ids(lines["game_id"], schedule)) == {"0022300792", "0022300795"}
    assert src.quota == {"x-requests-used": "12", "x-requests-remaining": "488", "x-requests-last": "1"}
    assert (lines.dtypes == schemas.empty(schemas.PROP_LINES, "prop_lines").dtypes).all()
    for rule in PROP_LINE_RULES:  # every rule of raw.prop_lines passes on the recorded slate
        assert rule.evaluate(CheckInputs(lines, [pd.Timestamp(DAY)], load_thresholds()))["passed"].all(), rule.name


def test_the_platform_line_is_the_consensus_or_a_configured_book_without_the_vig(server):
    lines = source(server).fetch_conformed("prop_lines", DAY, DAY)
    banchero = lines[lines["player_name"] == "Paolo Banchero"]
    consensus = current_lines(lines).set_index("player_name").loc["Paolo Banchero"]
    most = banchero["line"].value_counts()
    assert consensus["line"] == most.index[0] and most.iloc[0] > most.iloc[1:].max()
    at_line = banchero[banchero["line"] == consensus["line"]]
    assert consensus[IMPLIED_OVER] == pytest.approx(no_vig_over(at_line["over_odds"], at_line["under_odds"]).mean())
    assert consensus["sportsbook"] == f"consensus of {len(at_line)} books"
    fanduel = platform_lines(lines, "fanduel").set_index("player_name").loc["Paolo Banchero"]
    row = by_name(lines, "Paolo Banchero", "fanduel")
    assert (fanduel["line"], fanduel["over_odds"]) == (row["line"], row["over_odds"])
    # -140 / +110: 0.5833 and 0.4762 sum to 1.0595 (the vig); without it the over is 0.5505
    assert float(no_vig_over(pd.Series([-140]), pd.Series([110]))[0]) == pytest.approx(0.58333 / 1.05952, abs=1e-4)
    assert len(current_lines(lines)) == lines["player_id"].nunique()


def test_a_renamed_an_unknown_and_an_ambiguous_name_are_named_by_a_failed_check_never_dropped(server):
    # built by hand on the recorded ORL@CLE board: 'Wagner' fits Franz and Moritz, 'Joel Embiid' plays for neither team
    outcomes = server.odds[ORL_CLE]["bookmakers"][0]["markets"][0]["outcomes"]
    for who in ("Wagner", "Joel Embiid"):
        outcomes += [{"name": "Over", "description": who, "price": -115, "point": 14.5}, {"name": "Under", "description": who, "price": -115, "point": 14.5}]
    src = source(server)
    lines = src.fetch_conformed("prop_lines", DAY, DAY)
    kept = lines[lines["player_id"].isna()]
    assert sorted(kept["player_name"]) == ["Joel Embiid", "Wagner"] and kept["team_abbreviation"].isna().all()
    assert sorted(src.unmatched) == [
        "'Joel Embiid' in ORL@CLE: no NBA.com player of either team fits",
        "'Wagner' in ORL@CLE: several NBA.com players fit: Franz Wagner (1630532, ORL), Moritz Wagner (1629021, ORL)",
    ]
    rules = {r.name: r for r in PROP_LINE_RULES}
    inputs = CheckInputs(lines, [pd.Timestamp(DAY)], load_thresholds())
    verdict = rules[names.VENDOR_NAMES_MATCHED].evaluate(inputs).iloc[0]
    assert not verdict["passed"] and not rules[names.VENDOR_NAMES_MATCHED].blocking
    assert "20240222_ORL_CLE/draftkings/Joel Embiid" in verdict["detail"] and "20240222_ORL_CLE/draftkings/Wagner" in verdict["detail"]
    for name in (names.MATCHES_SCHEMA, names.NO_DUPLICATE_KEYS):  # the blocking rules let the date's other lines through
        assert rules[name].evaluate(inputs)["passed"].all(), name
    assert "Wagner" not in set(current_lines(lines)["player_name"])  # no id, no prediction


def test_an_empty_slate_and_a_missing_market_are_empty_typed_frames(server):
    empty = schemas.empty(schemas.PROP_LINES, "prop_lines")
    pd.testing.assert_frame_equal(source(server).fetch_conformed("prop_lines", dt.date(2024, 2, 18), dt.date(2024, 2, 18)), empty)
    assert len(server.paths("/odds")) == 0
    for body in server.odds.values():  # the books answer, but with another market only
        for book in body["bookmakers"]:
            for market in book["markets"]:
                market["key"] = "player_rebounds"
    pd.testing.assert_frame_equal(source(server).fetch_conformed("prop_lines", DAY, DAY), empty)


def test_a_game_postponed_after_its_lines_were_posted(server):
    src = source(server)
    morning = src.fetch_conformed("prop_lines", DAY, DAY)
    # the vendor first keeps listing the event but its odds are gone (404), then lists it on its new date
    server.script[f"{ORL_CLE}/odds"] = [(404, ERRORS["404_event"])]
    evening = src.fetch_conformed("prop_lines", DAY, DAY)
    assert set(evening["game_id"]) == {"20240222_BKN_TOR"} and len(evening) == (morning["game_id"] == "20240222_BKN_TOR").sum()
    for record in (next(e for e in server.events if e["id"] == ORL_CLE), server.odds[ORL_CLE]):
        record["commence_time"] = "2024-03-12T23:30:00Z"
    assert set(src.fetch_conformed("prop_lines", DAY, DAY)["game_id"]) == {"20240222_BKN_TOR"}
    moved = src.fetch_conformed("prop_lines", dt.date(2024, 3, 12), dt.date(2024, 3, 12))
    assert set(moved["game_id"]) == {"20240312_ORL_CLE"} and (moved["game_date"] == pd.Timestamp("2024-03-12")).all()
    # the morning's snapshots stay as history; the refresh adds nothing for the postponed game
    history = append_snapshots(morning, evening)
    assert len(history) == len(morning)


def test_the_vendors_errors_are_one_line_each_and_only_429_and_5xx_are_retried(server):
    with pytest.raises(OddsApiError, match=r"/events \(HTTP 401 INVALID_KEY\): the key in ODDS_API_KEY is not valid") as bad:
        source(server, key="wrong-key").fetch("prop_lines", DAY, DAY)
    assert "wrong-key" not in str(bad.value) and len(server.paths("/events")) == 1
    server.script["/events"] = [(401, ERRORS["401_out_of_credits"])]
    with pytest.raises(OddsApiError, match=r"HTTP 401 OUT_OF_USAGE_CREDITS\): the plan's quota is used up until it renews"):
        source(server).fetch("prop_lines", DAY, DAY)
    server.script[f"{ORL_CLE}/odds"] = [(429, ERRORS["429_frequency"]), (503, b"<html>Service Unavailable</html>")]
    assert len(source(server).fetch("prop_lines", DAY, DAY)) > 0  # retried twice, then the recorded board
    server.script["/events"] = [(500, ERRORS["500"])] * 3
    before = len(server.paths("/events"))
    with pytest.raises(OddsApiError, match=r"HTTP 500\): gave up after 3 attempts; last: HTTP 500: 'Internal server error'"):
        source(server, max_retries=2).fetch("prop_lines", DAY, DAY)
    assert len(server.paths("/events")) - before == 3


def test_a_missing_key_fails_the_feed_by_name_before_any_request(server, monkeypatch):
    monkeypatch.delenv("ODDS_API_KEY", raising=False)
    with pytest.raises(MissingCredentials, match="set ODDS_API_KEY"):
        OddsApiSource.from_environment().fetch_conformed("prop_lines", DAY, DAY)
    monkeypatch.setenv("ODDS_API_KEY", "k")
    assert OddsApiSource.from_environment().api_key is not None
    assert OddsApiSource.from_environment().base_url == "https://api.the-odds-api.com"
    monkeypatch.setenv("ODDS_API_BASE_URL", server.url)
    monkeypatch.setenv("NBA_STATS_BASE_URL", f"{server.url}/stats")
    bound = OddsApiSource.from_environment()
    assert (bound.base_url, bound.players.base_url) == (server.url, f"{server.url}/stats")
    with pytest.raises(FeedNotAvailable, match="prop_lines only"):
        source(server).fetch("schedule", DAY, DAY)
    assert server.seen == []
