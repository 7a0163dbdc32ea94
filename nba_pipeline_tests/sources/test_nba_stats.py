"""The NBA.com stats client through its real HTTP path (requests session → a local server answering with the
recorded bodies of fixtures/nba_stats_api): retries, Retry-After, rate limit, timeouts, proxy and headers, clear
errors for truncated / malformed bodies and missing result sets, days without games."""

import datetime as dt
import threading
import time

import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.sources.nba_stats import NbaStatsApiSource, SourceError
from nba_pipeline_tests.conftest import REAL_API
from nba_pipeline_tests.sources.stats_server import Reply, StatsServer

RECORDED = {"leaguegamelog": "LeagueGameLog.json", "boxscoretraditionalv2": "BoxScoreTraditionalV2.json"}


def recorded(endpoint: str, params: dict) -> Reply:
    if endpoint == "scoreboardv3":
        path = REAL_API / f"ScoreboardV3_{params['GameDate']}.json"
        return Reply(200, path.read_bytes()) if path.exists() else Reply(404, b'{"message": "no such date"}')
    if endpoint == "boxscoretraditionalv2" and params.get("GameID") != "0022200552":
        return Reply(404, b'{"message": "not recorded"}')  # the one recorded game
    if endpoint in RECORDED:
        return Reply(200, (REAL_API / RECORDED[endpoint]).read_bytes())
    return Reply(404, b"{}")


@pytest.fixture
def server():
    with StatsServer(recorded) as s:
        yield s


def client(server, **kw) -> NbaStatsApiSource:
    return NbaStatsApiSource(**{"base_url": f"{server.url}/stats", "min_interval_seconds": 0, "backoff_seconds": 0.05, **kw})


def test_a_game_day_tip_offs_status_and_player_rows(server):
    source = client(server)
    schedule = source.fetch_conformed("schedule", dt.date(2025, 10, 21), dt.date(2025, 10, 21))
    assert list(schedule["game_id"]) == ["0022500001", "0022500002"]
    assert list(schedule["tipoff_et"].dt.strftime("%H:%M")) == ["19:30", "22:00"]  # real tip-offs, not midnight
    assert list(schedule["game_status"]) == ["Final", "In Progress"]  # a late game still on: not Final
    assert (schedule["season"] == "2025-26").all() and list(schedule["home_team"]) == ["OKC", "LAL"]

    players = source.fetch_conformed("player_boxscores", dt.date(2023, 1, 2), dt.date(2023, 1, 2))
    assert len(players) == 23 and players["game_id"].eq("0022200552").all()
    derozan = players.set_index("player_name").loc["DeMar DeRozan"]
    assert (derozan["pts"], derozan["minutes"], derozan["fga"]) == (44, "45:55", 32)  # the recorded values


def test_the_game_log_is_fetched_once_per_season_per_run(server):
    source = client(server)
    first = source.fetch_conformed("team_boxscores", dt.date(2025, 10, 21), dt.date(2025, 10, 21))
    later = source.fetch_conformed("team_boxscores", dt.date(2025, 10, 22), dt.date(2025, 10, 31))
    assert len(first) == 4 and len(later) > 40
    assert len(server.requests_to("leaguegamelog")) == 1
    okc = first.set_index("team_abbreviation").loc["OKC"]
    assert okc["pts"] == 125 and okc["game_id"] == "0022500001"  # official totals as recorded


def test_a_day_without_games_is_empty_frames_of_the_right_schema(server):
    source = client(server)
    day = dt.date(2024, 2, 18)  # All-Star Sunday: the scoreboard lists no game
    for feed in ("schedule", "player_boxscores", "team_boxscores", "shot_zones", "prop_lines"):
        frame = source.fetch_conformed(feed, day, day)
        assert frame.empty and list(frame.columns) == list(schemas.RAW_SCHEMAS[feed]), feed
    # schedule, player box scores and shot zones each read the date's scoreboard
    assert [s.params["GameDate"] for s in server.requests_to("scoreboardv3")] == ["2024-02-18"] * 3
    assert not server.requests_to("boxscoretraditionalv2")  # no final game, no box-score request
    assert not server.requests_to("shotchartdetail")  # nor a shot-chart request
    off_season = source.fetch_conformed("schedule", dt.date(2025, 7, 1), dt.date(2025, 7, 3))
    assert off_season.empty and len(server.requests_to("scoreboardv3")) == 3  # no season, nothing asked


def test_429_then_200_retries_and_honours_retry_after(server, monkeypatch):
    server.script["scoreboardv3"] = [Reply(429, b"slow down", {"Retry-After": "1"}), recorded("scoreboardv3", {"GameDate": "2023-01-02"})]
    source = client(server, backoff_seconds=0.01)
    waits, sleep, client_thread = [], time.sleep, threading.get_ident()

    def recorded_sleep(seconds):  # still sleeps; the server's threads sleep too, theirs are not the client's
        if threading.get_ident() == client_thread:
            waits.append(seconds)
        sleep(seconds)

    monkeypatch.setattr(time, "sleep", recorded_sleep)
    schedule = source.fetch_conformed("schedule", dt.date(2023, 1, 2), dt.date(2023, 1, 2))
    seen = server.requests_to("scoreboardv3")
    assert len(schedule) == 1 and len(seen) == 2
    assert seen[1].at - seen[0].at >= 0.95  # waited Retry-After's second, not the 10 ms backoff
    assert waits == [1.0]  # and only that: once, Retry-After alone (not added to a backoff), no other pause


def test_5xx_until_giving_up_is_a_clear_error(server):
    server.script["leaguegamelog"] = [Reply(503, b"<html>busy</html>")]
    source = client(server, max_retries=3)
    with pytest.raises(SourceError, match=r"leaguegamelog \(HTTP 503\): gave up after 4 attempts; last: HTTP 503"):
        source.fetch("team_boxscores", dt.date(2025, 10, 21), dt.date(2025, 10, 21))
    assert len(server.requests_to("leaguegamelog")) == 4
    gaps = [b.at - a.at for a, b in zip(server.seen, server.seen[1:])]
    assert gaps[2] > gaps[0]  # exponential backoff


def test_a_404_is_not_retried(server):
    source = client(server)
    with pytest.raises(SourceError, match=r"scoreboardv3 \(HTTP 404\): refused"):
        source.fetch("schedule", dt.date(2025, 11, 1), dt.date(2025, 11, 1))
    assert len(server.requests_to("scoreboardv3")) == 1


def test_truncated_and_malformed_bodies_and_missing_result_sets(server):
    body = (REAL_API / "BoxScoreTraditionalV2.json").read_bytes()
    server.script["boxscoretraditionalv2"] = [Reply(200, body[: len(body) // 2])]
    source = client(server)
    with pytest.raises(SourceError, match=r"boxscoretraditionalv2 \(HTTP 200\): truncated JSON body"):
        source.fetch("player_boxscores", dt.date(2023, 1, 2), dt.date(2023, 1, 2))
    server.script["boxscoretraditionalv2"] = [Reply(200, b'{"resultSets": [}' + body[20:])]
    with pytest.raises(SourceError, match=r"malformed JSON body"):
        source.fetch("player_boxscores", dt.date(2023, 1, 2), dt.date(2023, 1, 2))
    server.script["boxscoretraditionalv2"] = [Reply(200, b'{"resource": "boxscore", "resultSets": [{"name": "TeamStats", "headers": [], "rowSet": []}]}')]
    with pytest.raises(SourceError, match=r"result set PlayerStats missing; have \['TeamStats'\]"):
        source.fetch("player_boxscores", dt.date(2023, 1, 2), dt.date(2023, 1, 2))
    server.script["scoreboardv3"] = [Reply(200, b'{"scoreboard": {"gameDate": "2023-01-02"}}')]
    with pytest.raises(SourceError, match=r"scoreboardv3 \(HTTP 200\): no scoreboard.games"):
        source.fetch("schedule", dt.date(2023, 1, 2), dt.date(2023, 1, 2))


def test_a_connection_dropped_mid_body_is_retried_then_named(server):
    body = (REAL_API / "ScoreboardV3_2023-01-02.json").read_bytes()
    server.script["scoreboardv3"] = [Reply(200, body, cut_at=100), Reply(200, body)]
    source = client(server)
    assert len(source.fetch("schedule", dt.date(2023, 1, 2), dt.date(2023, 1, 2))) == 1  # the retry got it whole
    server.script["scoreboardv3"] = [Reply(200, body, cut_at=100)]
    with pytest.raises(SourceError, match=r"scoreboardv3 \(no complete response\): gave up after 2 attempts; last: ChunkedEncodingError"):
        client(server, max_retries=1).fetch("schedule", dt.date(2023, 1, 2), dt.date(2023, 1, 2))


def test_timeouts_are_retried_then_named(server):
    server.script["scoreboardv3"] = [Reply(200, b"{}", delay=1.0)]
    source = client(server, timeout_seconds=0.2, max_retries=1)
    with pytest.raises(SourceError, match=r"scoreboardv3 \(no complete response\): gave up after 2 attempts; last: ReadTimeout"):
        source.fetch("schedule", dt.date(2023, 1, 2), dt.date(2023, 1, 2))


def test_rate_limit_one_session_headers_and_proxy(server):
    # base_url names a host that does not resolve: only the proxy (our server) can answer
    source = NbaStatsApiSource(base_url="http://stats.nba.invalid/stats", proxy=server.url, min_interval_seconds=0.3,
                               headers={"x-nba-stats-token": "true"})
    for day in ("2023-01-02", "2025-10-21", "2024-02-18"):
        source.fetch("schedule", dt.date.fromisoformat(day), dt.date.fromisoformat(day))
    seen = server.requests_to("scoreboardv3")
    assert len(seen) == 3 and all(s.path.startswith("http://stats.nba.invalid/stats/scoreboardv3?") for s in seen)
    assert all(b.at - a.at >= 0.2 for a, b in zip(seen, seen[1:]))  # min interval 0.3 s (arrival jitter allowed)
    assert seen[0].headers["x-nba-stats-token"] == "true" and seen[0].headers["Referer"] == "https://www.nba.com/"
    assert source.session() is source.session() and source.requests_sent == 3


def test_the_production_binding_reads_the_proxy_from_the_environment(monkeypatch):
    import dagster as dg

    monkeypatch.setenv("NBA_STATS_PROXY", "http://proxy.example:3128")
    source = NbaStatsApiSource.from_environment()
    assert source.proxy == dg.EnvVar("NBA_STATS_PROXY")  # a secret: resolved at run time, never in run config
    monkeypatch.delenv("NBA_STATS_PROXY")
    assert NbaStatsApiSource.from_environment().proxy is None
    assert NbaStatsApiSource.from_environment().base_url == "https://stats.nba.com/stats"
    monkeypatch.setenv("NBA_STATS_BASE_URL", "http://127.0.0.1:8080/stats")
    monkeypatch.setenv("NBA_STATS_MIN_INTERVAL_SECONDS", "0")
    mirrored = NbaStatsApiSource.from_environment()
    assert (mirrored.base_url, mirrored.min_interval_seconds) == ("http://127.0.0.1:8080/stats", 0.0)


def _materialize_raw(server, warehouse, day: str, feeds: tuple[str, ...] | None = None):
    import dagster as dg

    from nba_pipeline.raw.assets import raw_assets
    from nba_pipeline.resources import resources_for

    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = client(server)
    selected = [a for a in raw_assets if feeds is None or a.key.path[-1] in feeds]
    return dg.materialize(selected, resources=resources, partition_key=day, raise_on_error=False)


def test_the_morning_run_of_a_day_without_games_succeeds_on_nba_stats(server, warehouse):
    """Was: SchemaError on every day without games. All-Star Sunday: every raw feed publishes an empty date."""
    result = _materialize_raw(server, warehouse, "2024-02-18")
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert len(result.get_asset_materialization_events()) == 7


def test_a_game_still_on_is_not_final_so_the_late_data_sensor_has_a_date(server, warehouse):
    from nba_pipeline.plumbing.automation import DATES_NOT_FINAL

    result = _materialize_raw(server, warehouse, "2025-10-21", feeds=("schedule", "team_boxscores"))
    assert result.success
    schedule = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "schedule")
    metadata = {k: v.value for k, v in schedule.materialization.metadata.items()}
    assert (metadata["games_final"], metadata["games_not_final"], metadata[DATES_NOT_FINAL]) == (1, 1, "2025-10-21")
