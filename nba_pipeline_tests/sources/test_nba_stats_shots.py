"""`shot_zones` from NBA.com's `shotchartdetail`, through the client's real HTTP path (requests session → a local
server answering with recorded shot rows, fixtures/SOURCES.md): the request sent per game, zone counts against the
raw rows (counted here with plain Python, not with the parser), the SHOT_TYPE rule for a zone that disagrees with it,
unknown values as clear errors, retries, and the raw asset's checks on the parsed rows."""

import copy
import datetime as dt
import json
from collections import Counter

import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.sources.nba_stats import NbaStatsApiSource, SourceError, parse_shot_chart_detail, shot_chart_params
from nba_pipeline_tests.conftest import REAL_API
from nba_pipeline_tests.sources.stats_server import Reply, StatsServer

GAMES = {  # game id -> its date (the recordings' GAME_DATE)
    "0021500504": dt.date(2016, 1, 2),  # DEN at GSW: Curry and Thompson (a Backcourt heave)
    "0021500524": dt.date(2016, 1, 5),  # GSW at LAL: Thompson's 23-ft 'Mid-Range' 3PT attempt
    "0022500003": dt.date(2025, 10, 22),  # CLE at NYK: Mitchell's made shots (recorded with ContextMeasure=PTS)
}
CURRY, THOMPSON, MITCHELL, GSW = 201939, 202691, 1628378, 1610612744


def body(game_id: str) -> dict:
    return json.loads((REAL_API / f"ShotChartDetail_{game_id}.json").read_text())


def routes(endpoint: str, params: dict) -> Reply:
    if endpoint == "scoreboardv3":
        path = REAL_API / f"ScoreboardV3_{params['GameDate']}.json"
        return Reply(200, path.read_bytes()) if path.exists() else Reply(404, b'{"message": "no such date"}')
    if endpoint == "shotchartdetail":
        path = REAL_API / f"ShotChartDetail_{params.get('GameID')}.json"
        asked_all = (params.get("TeamID"), params.get("PlayerID"), params.get("ContextMeasure")) == ("0", "0", "FGA")
        return Reply(200, path.read_bytes()) if path.exists() and asked_all else Reply(400, b'{"message": "not recorded"}')
    return Reply(404, b"{}")


@pytest.fixture
def server():
    with StatsServer(routes) as s:
        yield s


def client(server, **kw) -> NbaStatsApiSource:
    return NbaStatsApiSource(**{"base_url": f"{server.url}/stats", "min_interval_seconds": 0, "backoff_seconds": 0.05, **kw})


def final_games(*game_ids: str) -> pd.DataFrame:
    return pd.DataFrame({"game_id": list(game_ids), "game_date": pd.to_datetime([GAMES[g] for g in game_ids])})


def truth(payload: dict) -> dict[tuple[int, str], tuple[int, int]]:
    """(player, zone) -> (attempts, makes), counted shot by shot from the raw rows with the documented rules."""
    rs = payload["resultSets"][0]
    counts: Counter = Counter()
    for row in rs["rowSet"]:
        shot = dict(zip(rs["headers"], row))
        if shot["SHOT_TYPE"] == "3PT Field Goal":
            zone = "three"
        elif shot["SHOT_ZONE_BASIC"] in ("Restricted Area", "In The Paint (Non-RA)"):
            zone = "paint"
        else:
            zone = "mid"
        counts[(shot["PLAYER_ID"], zone, "fga")] += 1
        counts[(shot["PLAYER_ID"], zone, "fgm")] += shot["SHOT_MADE_FLAG"]
    players = {k[0] for k in counts}
    return {(p, z): (counts[(p, z, "fga")], counts[(p, z, "fgm")]) for p in players for z in ("paint", "mid", "three")}


def test_one_request_per_final_game_and_counts_per_zone_equal_the_recorded_shots(server):
    source = client(server)
    zones = source.shot_zones(final_games("0021500504", "0021500524"))
    seen = server.requests_to("shotchartdetail")
    assert [s.params["GameID"] for s in seen] == ["0021500504", "0021500524"]  # one request per game, both teams'
    assert seen[0].params == {"GameID": "0021500504", "TeamID": "0", "PlayerID": "0", "ContextMeasure": "FGA",
                              "LeagueID": "00", "Season": "2015-16", "SeasonType": "Regular Season",
                              "LastNGames": "0", "Month": "0", "OpponentTeamID": "0", "Period": "0"}
    assert list(zones.columns) == list(schemas.SHOT_ZONES)
    assert len(zones) == 4 and not zones.duplicated(["game_id", "player_id"]).any()
    for game_id in ("0021500504", "0021500524"):
        expected = truth(body(game_id))
        got = zones[zones["game_id"] == game_id].set_index("player_id")
        for (player, zone), (fga, fgm) in expected.items():
            assert (got.loc[player, f"{zone}_fga"], got.loc[player, f"{zone}_fgm"]) == (fga, fgm), (game_id, player, zone)
        assert (got["team_id"] == GSW).all() and (got["game_date"] == pd.Timestamp(GAMES[game_id])).all()
    for zone in ("paint", "mid", "three"):
        assert (zones[f"{zone}_fgm"] <= zones[f"{zone}_fga"]).all()
    # every attempt lands in exactly one zone: the zones add up to the recorded rows of each player
    rows = Counter((r[1], r[3]) for g in ("0021500504", "0021500524") for r in body(g)["resultSets"][0]["rowSet"])
    totals = zones.set_index(["game_id", "player_id"])[["paint_fga", "mid_fga", "three_fga"]].sum(axis=1)
    assert {k: int(v) for k, v in totals.items()} == dict(rows)


def test_shot_type_decides_three_the_zone_decides_paint_or_mid(server):
    recorded = body("0021500524")
    headers = recorded["resultSets"][0]["headers"]
    shots = [dict(zip(headers, r)) for r in recorded["resultSets"][0]["rowSet"]]
    odd = [s for s in shots if s["SHOT_ZONE_BASIC"] == "Mid-Range" and s["SHOT_TYPE"] == "3PT Field Goal"]
    assert len(odd) == 1 and odd[0]["PLAYER_ID"] == THOMPSON  # as recorded: a 23-ft three the zone calls mid-range
    klay = client(server).shot_zones(final_games("0021500524")).set_index("player_id").loc[THOMPSON]
    klay_3pa = sum(1 for s in shots if s["PLAYER_ID"] == THOMPSON and s["SHOT_TYPE"] == "3PT Field Goal")
    klay_mid_zone = sum(1 for s in shots if s["PLAYER_ID"] == THOMPSON and s["SHOT_ZONE_BASIC"] == "Mid-Range")
    assert klay["three_fga"] == klay_3pa  # = the box score's FG3A, which counts SHOT_TYPE
    assert klay["mid_fga"] == klay_mid_zone - 1  # the three is not a mid-range attempt

    heave = client(server).shot_zones(final_games("0021500504")).set_index("player_id").loc[THOMPSON]
    recorded = body("0021500504")
    shots = [dict(zip(headers, r)) for r in recorded["resultSets"][0]["rowSet"]]
    backcourt = [s for s in shots if s["SHOT_ZONE_BASIC"] == "Backcourt"]
    assert len(backcourt) == 1 and backcourt[0]["SHOT_TYPE"] == "3PT Field Goal"  # recorded: a heave is a three
    assert heave["three_fga"] == sum(1 for s in shots if s["PLAYER_ID"] == THOMPSON and s["SHOT_ZONE_BASIC"].endswith(("3", "Backcourt")))


def test_a_player_with_only_threes_and_a_game_not_charted_yet():
    payload = body("0021500504")  # by hand: Curry's one paint attempt removed, his five threes kept
    rows = payload["resultSets"][0]["rowSet"]
    payload["resultSets"][0]["rowSet"] = [r for r in rows if not (r[3] == CURRY and r[12] == "2PT Field Goal")]
    curry = parse_shot_chart_detail(payload, "0021500504", GAMES["0021500504"]).set_index("player_id").loc[CURRY]
    threes = [r for r in rows if r[3] == CURRY and r[12] == "3PT Field Goal"]
    assert (curry["paint_fga"], curry["mid_fga"], curry["paint_fgm"], curry["mid_fgm"]) == (0, 0, 0, 0)
    assert (curry["three_fga"], curry["three_fgm"]) == (len(threes), sum(r[20] for r in threes)) and len(threes) == 5

    payload["resultSets"][0]["rowSet"] = []  # a game the shot chart does not have yet: no rows, not zeros
    empty = parse_shot_chart_detail(payload, "0021500504", GAMES["0021500504"])
    assert empty.empty and list(empty.columns) == list(schemas.SHOT_ZONES)


@pytest.mark.parametrize(
    ("column", "index", "value", "message"),
    [
        ("SHOT_ZONE_BASIC", 13, "Heave Zone", r"1 shot row\(s\) with unknown SHOT_ZONE_BASIC \['Heave Zone'\]"),
        ("SHOT_TYPE", 12, "4PT Field Goal", r"1 shot row\(s\) with unknown SHOT_TYPE \['4PT Field Goal'\]"),
        ("SHOT_MADE_FLAG", 20, 2, r"1 shot row\(s\) with unknown SHOT_MADE_FLAG \['2'\]"),
        ("GAME_ID", 1, "0021500505", r"1 shot row\(s\) with unknown GAME_ID \['0021500505'\]"),
    ],
)
def test_an_unknown_value_is_a_clear_error_naming_it(server, column, index, value, message):
    payload = body("0021500504")
    assert payload["resultSets"][0]["headers"][index] == column
    payload["resultSets"][0]["rowSet"][3][index] = value  # by hand: one recorded row changed
    server.script["shotchartdetail"] = [Reply(200, json.dumps(payload).encode())]
    with pytest.raises(SourceError, match=r"shotchartdetail \(HTTP 200\): game 0021500504: " + message):
        client(server).shot_zones(final_games("0021500504"))


def test_a_missing_column_or_result_set_is_named():
    payload = body("0021500504")
    broken = copy.deepcopy(payload)
    broken["resultSets"][0]["headers"][13] = "ZONE"
    with pytest.raises(SourceError, match=r"no column\(s\) \['SHOT_ZONE_BASIC'\]"):
        parse_shot_chart_detail(broken, "0021500504", GAMES["0021500504"])
    payload["resultSets"] = payload["resultSets"][1:]
    with pytest.raises(SourceError, match=r"result set Shot_Chart_Detail missing; have \['LeagueAverages'\]"):
        parse_shot_chart_detail(payload, "0021500504", GAMES["0021500504"])


def test_season_and_season_type_come_from_the_game_id():
    assert (shot_chart_params("0042400101")["Season"], shot_chart_params("0042400101")["SeasonType"]) == ("2024-25", "Playoffs")
    assert (shot_chart_params("0052500111")["Season"], shot_chart_params("0052500111")["SeasonType"]) == ("2025-26", "PlayIn")
    assert shot_chart_params("0029601987")["Season"] == "1996-97"
    with pytest.raises(SourceError, match=r"game id '0092500001': not an NBA.com game id of a known kind"):
        shot_chart_params("0092500001")


def test_5xx_is_retried_then_named(server):
    ok = Reply(200, (REAL_API / "ShotChartDetail_0021500504.json").read_bytes())
    server.script["shotchartdetail"] = [Reply(503, b"<html>busy</html>"), Reply(500, b""), ok]
    zones = client(server).shot_zones(final_games("0021500504"))
    assert len(zones) == 2 and len(server.requests_to("shotchartdetail")) == 3
    server.script["shotchartdetail"] = [Reply(502, b"bad gateway")]
    with pytest.raises(SourceError, match=r"shotchartdetail \(HTTP 502\): gave up after 3 attempts; last: HTTP 502"):
        client(server, max_retries=2).shot_zones(final_games("0021500504"))


def test_the_current_season_body_has_the_same_headers_and_zones():
    """The 2025-26 recording (nba_api's cassette, Mitchell's made shots): same result set, every zone known."""
    payload = json.loads((REAL_API / "ShotChartDetail_CLE_1628378_2025-26_PTS.json").read_text())
    older = body("0021500504")["resultSets"][0]["headers"]
    assert payload["resultSets"][0]["headers"] == older
    rs = payload["resultSets"][0]
    for game_id in sorted({r[1] for r in rs["rowSet"]}):
        one = dict(payload, resultSets=[dict(rs, rowSet=[r for r in rs["rowSet"] if r[1] == game_id])])
        zones = parse_shot_chart_detail(one, game_id, dt.date(2025, 10, 22))
        made = Counter(r[12] for r in one["resultSets"][0]["rowSet"])
        assert len(zones) == 1 and zones.loc[0, "player_id"] == MITCHELL
        assert zones.loc[0, "three_fga"] == made["3PT Field Goal"]
        assert zones.loc[0, "paint_fga"] + zones.loc[0, "mid_fga"] == made["2PT Field Goal"]


def test_the_raw_shot_zones_asset_runs_its_blocking_checks_on_the_parsed_rows(server, warehouse):
    import dagster as dg

    from nba_pipeline.raw.assets import raw_assets
    from nba_pipeline.resources import resources_for
    from nba_pipeline_tests.conftest import read_table

    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = client(server)
    selected = [a for a in raw_assets if a.key.path[-1] == "shot_zones"]
    result = dg.materialize(selected, resources=resources, partition_key="2025-10-22", raise_on_error=False)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks and all(e.passed for e in checks.values()), {n: e.passed for n, e in checks.items()}
    assert len(checks) >= 3  # schema, duplicate keys, valid stats (+ canonical ids) ran on the rows
    stored = read_table(warehouse, "raw.shot_zones")
    assert list(stored["game_id"]) == ["0022500003"] and list(stored["player_id"]) == [MITCHELL]
    mitchell = stored.iloc[0]
    made = Counter(r[12] for r in body("0022500003")["resultSets"][0]["rowSet"])
    assert (mitchell["three_fga"], mitchell["three_fgm"]) == (made["3PT Field Goal"],) * 2  # made shots only (PTS)
    assert mitchell["paint_fga"] + mitchell["mid_fga"] == made["2PT Field Goal"]
    # the recorded team box score of the game (LeagueGameLog.json): his makes are within CLE's
    log = json.loads((REAL_API / "LeagueGameLog.json").read_text())["resultSets"][0]
    teams = [dict(zip(log["headers"], r)) for r in log["rowSet"]]
    cle = next(t for t in teams if t["GAME_ID"] == "0022500003" and t["TEAM_ABBREVIATION"] == "CLE")
    assert mitchell["three_fgm"] <= cle["FG3M"] and mitchell[["paint_fgm", "mid_fgm", "three_fgm"]].sum() <= cle["FGM"]


def test_a_bad_zone_value_fails_the_asset_naming_it(server, warehouse):
    import dagster as dg

    from nba_pipeline.raw.assets import raw_assets
    from nba_pipeline.resources import resources_for

    payload = body("0022500003")
    payload["resultSets"][0]["rowSet"][0][13] = "Somewhere New"  # by hand
    server.script["shotchartdetail"] = [Reply(200, json.dumps(payload).encode())]
    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = client(server)
    selected = [a for a in raw_assets if a.key.path[-1] == "shot_zones"]
    result = dg.materialize(selected, resources=resources, partition_key="2025-10-22", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "unknown SHOT_ZONE_BASIC ['Somewhere New']" in str(failure.event_specific_data.error)
