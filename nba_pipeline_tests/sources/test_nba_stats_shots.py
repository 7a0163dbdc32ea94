"""`shot_zones` from NBA.com's `shotchartdetail`, through the client's real HTTP path (requests session → a local
server answering with recorded bodies, fixtures/SOURCES.md): the requests sent per game, zone counts against the raw
shot rows (counted here with plain Python, not with the parser) and against the recorded box score of the same game,
the SHOT_TYPE rule where a zone disagrees with it, unknown values as clear errors, retries, and the raw asset's
checks on the parsed rows."""

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

# game id -> (date, home team, away team); the shot charts are recorded per team (fixtures/SOURCES.md)
POR, DAL, OKC, WAS, GSW = 1610612757, 1610612742, 1610612760, 1610612764, 1610612744
GAMES = {
    "0022100732": (dt.date(2022, 1, 26), POR, DAL),  # recorded: both teams' charts and the box score
    "0021600270": (dt.date(2016, 11, 30), OKC, WAS),  # recorded: both teams' charts and the box score
}
GSW_ONLY = {"0021500504": dt.date(2016, 1, 2), "0021500524": dt.date(2016, 1, 5)}  # Curry's and Thompson's rows only
MCLEMORE, THOMPSON, MITCHELL = 203463, 202691, 1628378


def chart(game_id: str, team_id: int) -> dict:
    return json.loads((REAL_API / f"ShotChartDetail_{game_id}_{team_id}.json").read_text())


def shots(game_id: str, team_id: int) -> list[dict]:
    rs = chart(game_id, team_id)["resultSets"][0]
    return [dict(zip(rs["headers"], row)) for row in rs["rowSet"]]


def box(game_id: str) -> dict[int, dict]:
    rs = json.loads((REAL_API / f"BoxScoreTraditionalV2_{game_id}.json").read_text())["resultSets"][0]
    return {row[rs["headers"].index("PLAYER_ID")]: dict(zip(rs["headers"], row)) for row in rs["rowSet"]}


def routes(endpoint: str, params: dict) -> Reply:
    if endpoint == "scoreboardv3":
        path = REAL_API / f"ScoreboardV3_{params['GameDate']}.json"
        return Reply(200, path.read_bytes()) if path.exists() else Reply(404, b'{"message": "no such date"}')
    if endpoint == "shotchartdetail":
        path = REAL_API / f"ShotChartDetail_{params.get('GameID')}_{params.get('TeamID')}.json"
        whole_team = (params.get("PlayerID"), params.get("ContextMeasure")) == ("0", "FGA")
        return Reply(200, path.read_bytes()) if path.exists() and whole_team else Reply(400, b'{"message": "not recorded"}')
    if endpoint == "boxscoretraditionalv2":
        path = REAL_API / f"BoxScoreTraditionalV2_{params.get('GameID')}.json"
        return Reply(200, path.read_bytes()) if path.exists() else Reply(404, b'{"message": "not recorded"}')
    return Reply(404, b"{}")


@pytest.fixture
def server():
    with StatsServer(routes) as s:
        yield s


def client(server, **kw) -> NbaStatsApiSource:
    return NbaStatsApiSource(**{"base_url": f"{server.url}/stats", "min_interval_seconds": 0, "backoff_seconds": 0.05, **kw})


def final_games(*game_ids: str) -> pd.DataFrame:
    """The schedule rows `shot_zones` reads (for seasons before the pipeline's calendar, which has no scoreboard)."""
    return pd.DataFrame(
        {
            "game_id": list(game_ids),
            "game_date": pd.to_datetime([GAMES[g][0] for g in game_ids]),
            "home_team_id": [GAMES[g][1] for g in game_ids],
            "away_team_id": [GAMES[g][2] for g in game_ids],
        }
    )


def truth(rows: list[dict]) -> dict[int, dict[str, int]]:
    """player -> zone counts, shot by shot from the raw rows with the documented rules."""
    counts: dict[int, Counter] = {}
    for shot in rows:
        if shot["SHOT_TYPE"] == "3PT Field Goal":
            zone = "three"
        elif shot["SHOT_ZONE_BASIC"] in ("Restricted Area", "In The Paint (Non-RA)"):
            zone = "paint"
        else:
            zone = "mid"
        player = counts.setdefault(shot["PLAYER_ID"], Counter())
        player[f"{zone}_fga"] += 1
        player[f"{zone}_fgm"] += shot["SHOT_MADE_FLAG"]
    columns = [f"{z}_{s}" for z in ("paint", "mid", "three") for s in ("fga", "fgm")]
    return {p: {c: c_counts[c] for c in columns} for p, c_counts in counts.items()}


def test_two_requests_per_final_game_and_counts_per_zone_equal_the_recorded_shots(server):
    zones = client(server).fetch_conformed("shot_zones", dt.date(2022, 1, 26), dt.date(2022, 1, 26))
    seen = server.requests_to("shotchartdetail")
    assert [(s.params["GameID"], s.params["TeamID"]) for s in seen] == [("0022100732", str(POR)), ("0022100732", str(DAL))]
    assert seen[0].params == {"GameID": "0022100732", "TeamID": str(POR), "PlayerID": "0", "ContextMeasure": "FGA",
                              "LeagueID": "00", "Season": "2021-22", "SeasonType": "Regular Season",
                              "LastNGames": "0", "Month": "0", "OpponentTeamID": "0", "Period": "0"}
    assert list(zones.columns) == list(schemas.SHOT_ZONES) and not zones.duplicated(["game_id", "player_id"]).any()
    assert (zones["game_id"] == "0022100732").all() and (zones["game_date"] == pd.Timestamp("2022-01-26")).all()
    for team in (POR, DAL):
        expected = truth(shots("0022100732", team))
        got = zones[zones["team_id"] == team].set_index("player_id")
        assert set(got.index) == set(expected)  # every shooter of the team, nobody else
        for player, counts in expected.items():
            assert got.loc[player, list(counts)].to_dict() == counts, player
    for zone in ("paint", "mid", "three"):
        assert (zones[f"{zone}_fgm"] <= zones[f"{zone}_fga"]).all()
    mclemore = zones.set_index("player_id").loc[MCLEMORE]  # as recorded: five threes, no two
    assert mclemore[["paint_fga", "mid_fga", "paint_fgm", "mid_fgm"]].tolist() == [0, 0, 0, 0] and mclemore["three_fga"] == 5


@pytest.mark.parametrize("game_id", ["0022100732", "0021600270"])
def test_the_zones_add_up_to_the_recorded_box_score_of_the_same_game(server, game_id):
    _, home, away = GAMES[game_id]
    zones = client(server).shot_zones(final_games(game_id)).set_index("player_id")
    players = box(game_id)
    shooters = {p for p, row in players.items() if row["FGA"]}
    assert set(zones.index) == shooters
    for player in shooters:
        z, b = zones.loc[player], players[player]
        assert z["paint_fga"] + z["mid_fga"] + z["three_fga"] == b["FGA"], b["PLAYER_NAME"]
        assert z["paint_fgm"] + z["mid_fgm"] + z["three_fgm"] == b["FGM"], b["PLAYER_NAME"]
        assert (z["three_fga"], z["three_fgm"]) == (b["FG3A"], b["FG3M"]), b["PLAYER_NAME"]
        assert z["team_id"] == b["TEAM_ID"]


def test_shot_type_decides_three_the_zone_decides_paint_or_mid(server):
    # recorded: OKC's chart of 0021600270 has a two the zone calls 'Right Corner 3' (a foot on the line)
    okc = shots("0021600270", OKC)
    two = [s for s in okc if s["SHOT_ZONE_BASIC"] == "Right Corner 3" and s["SHOT_TYPE"] == "2PT Field Goal"]
    assert len(two) == 1
    zones = client(server).shot_zones(final_games("0021600270")).set_index("player_id")
    shooter = [s for s in okc if s["PLAYER_ID"] == two[0]["PLAYER_ID"]]
    assert zones.loc[two[0]["PLAYER_ID"], "mid_fga"] == sum(
        s["SHOT_ZONE_BASIC"] in ("Mid-Range", "Right Corner 3") and s["SHOT_TYPE"] == "2PT Field Goal" for s in shooter
    )
    # recorded: a 23-ft three labelled 'Mid-Range' (Thompson, 0021500524) and a Backcourt heave (0021500504)
    assert any(s["SHOT_ZONE_BASIC"] == "Mid-Range" and s["SHOT_TYPE"] == "3PT Field Goal" for s in shots("0021500524", GSW))
    assert any(s["SHOT_ZONE_BASIC"] == "Backcourt" and s["SHOT_TYPE"] == "3PT Field Goal" for s in shots("0021500504", GSW))
    for game_id, day in GSW_ONLY.items():
        zones = parse_shot_chart_detail(chart(game_id, GSW), game_id, GSW, day).set_index("player_id")
        rows = [s for s in shots(game_id, GSW) if s["PLAYER_ID"] == THOMPSON]
        assert zones.loc[THOMPSON, "three_fga"] == sum(s["SHOT_TYPE"] == "3PT Field Goal" for s in rows)
        assert zones.loc[THOMPSON, "mid_fga"] == sum(s["SHOT_ZONE_BASIC"] == "Mid-Range" and s["SHOT_TYPE"] == "2PT Field Goal" for s in rows)


def test_a_game_not_charted_yet_is_no_rows():
    payload = chart("0022100732", POR)
    payload["resultSets"][0]["rowSet"] = []
    empty = parse_shot_chart_detail(payload, "0022100732", POR, dt.date(2022, 1, 26))
    assert empty.empty and list(empty.columns) == list(schemas.SHOT_ZONES)


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("SHOT_ZONE_BASIC", "Heave Zone", "['Heave Zone']"),
        ("SHOT_TYPE", "4PT Field Goal", "['4PT Field Goal']"),
        ("SHOT_MADE_FLAG", 2, "['2']"),
        ("GAME_ID", "0022100733", "['0022100733']"),
        ("TEAM_ID", DAL, f"['{DAL}']"),
    ],
)
def test_an_unknown_value_is_a_clear_error_naming_it(server, column, value, shown):
    payload = chart("0022100732", POR)
    payload["resultSets"][0]["rowSet"][3][payload["resultSets"][0]["headers"].index(column)] = value  # by hand
    server.script["shotchartdetail"] = [Reply(200, json.dumps(payload).encode())]
    with pytest.raises(SourceError) as raised:
        client(server).fetch("shot_zones", dt.date(2022, 1, 26), dt.date(2022, 1, 26))
    assert str(raised.value) == (
        f"NBA.com stats shotchartdetail (HTTP 200): game 0022100732 team {POR}: 1 shot row(s) with unknown {column} {shown}"
    )


def test_a_missing_column_or_result_set_is_named():
    payload = chart("0022100732", POR)
    broken = copy.deepcopy(payload)
    broken["resultSets"][0]["headers"][13] = "ZONE"
    with pytest.raises(SourceError, match=r"no column\(s\) \['SHOT_ZONE_BASIC'\]"):
        parse_shot_chart_detail(broken, "0022100732", POR, dt.date(2022, 1, 26))
    payload["resultSets"] = payload["resultSets"][1:]
    with pytest.raises(SourceError, match=r"result set Shot_Chart_Detail missing; have \['LeagueAverages'\]"):
        parse_shot_chart_detail(payload, "0022100732", POR, dt.date(2022, 1, 26))


def test_season_and_season_type_come_from_the_game_id():
    assert [shot_chart_params("0042400101", OKC)[k] for k in ("Season", "SeasonType", "TeamID")] == ["2024-25", "Playoffs", OKC]
    assert [shot_chart_params("0052500111", OKC)[k] for k in ("Season", "SeasonType")] == ["2025-26", "PlayIn"]
    assert shot_chart_params("0029601187", OKC)["Season"] == "1996-97"
    with pytest.raises(SourceError, match=r"game id '0092500001': not an NBA.com game id of a known kind"):
        shot_chart_params("0092500001", OKC)


def test_5xx_is_retried_then_named(server):
    por, dal = (Reply(200, (REAL_API / f"ShotChartDetail_0022100732_{t}.json").read_bytes()) for t in (POR, DAL))
    server.script["shotchartdetail"] = [Reply(503, b"<html>busy</html>"), Reply(500, b""), por, dal]
    zones = client(server).shot_zones(final_games("0022100732"))
    assert len(server.requests_to("shotchartdetail")) == 4  # POR three times (503, 500, 200), DAL once
    assert set(zones["player_id"]) == set(truth(shots("0022100732", POR))) | set(truth(shots("0022100732", DAL)))
    server.script["shotchartdetail"] = [Reply(502, b"bad gateway")]
    with pytest.raises(SourceError, match=r"shotchartdetail \(HTTP 502\): gave up after 3 attempts; last: HTTP 502"):
        client(server, max_retries=2).shot_zones(final_games("0022100732"))


def test_the_current_season_body_has_the_same_headers_and_zones():
    """The 2025-26 recording (nba_api's cassette, Mitchell's made shots): same result set, every zone known."""
    payload = json.loads((REAL_API / "ShotChartDetail_CLE_1628378_2025-26_PTS.json").read_text())
    assert payload["resultSets"][0]["headers"] == chart("0022100732", POR)["resultSets"][0]["headers"]
    rs = payload["resultSets"][0]
    for game_id in sorted({r[1] for r in rs["rowSet"]}):
        one = dict(payload, resultSets=[dict(rs, rowSet=[r for r in rs["rowSet"] if r[1] == game_id])])
        zones = parse_shot_chart_detail(one, game_id, 1610612739, dt.date(2025, 10, 22))
        made = Counter(r[12] for r in one["resultSets"][0]["rowSet"])
        assert len(zones) == 1 and zones.loc[0, "player_id"] == MITCHELL
        assert zones.loc[0, "three_fga"] == made["3PT Field Goal"]
        assert zones.loc[0, "paint_fga"] + zones.loc[0, "mid_fga"] == made["2PT Field Goal"]


def _materialize(server, warehouse, feeds: tuple[str, ...]):
    import dagster as dg

    from nba_pipeline.raw.assets import raw_assets
    from nba_pipeline.resources import resources_for

    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = client(server)
    selected = [a for a in raw_assets if a.key.path[-1] in feeds]
    return dg.materialize(selected, resources=resources, partition_key="2022-01-26", raise_on_error=False)


def test_the_raw_shot_zones_asset_runs_its_blocking_checks_and_agrees_with_the_box_scores(server, warehouse):
    from nba_pipeline_tests.conftest import read_table

    result = _materialize(server, warehouse, ("shot_zones", "player_boxscores"))
    assert result.success
    checks = {(e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    assert len([c for c in checks if c[0] == "shot_zones"]) >= 3  # schema, duplicate keys, valid stats, ids
    zones = read_table(warehouse, "raw.shot_zones")
    players = read_table(warehouse, "raw.player_boxscores")
    both = zones.merge(players, on=["game_id", "player_id", "team_id"], how="outer", indicator=True)
    shooters = both[both["fga"].fillna(0) > 0]
    recorded_shooters = sum(1 for row in box("0022100732").values() if row["FGA"])
    assert len(zones) == len(shooters) == recorded_shooters and (shooters["_merge"] == "both").all()
    assert (shooters["paint_fga"] + shooters["mid_fga"] + shooters["three_fga"] == shooters["fga"]).all()
    assert (shooters["three_fga"] == shooters["fg3a"]).all() and (shooters["three_fgm"] == shooters["fg3m"]).all()


def test_a_bad_zone_value_fails_the_asset_naming_it(server, warehouse):
    payload = chart("0022100732", POR)
    payload["resultSets"][0]["rowSet"][0][13] = "Somewhere New"  # by hand
    server.script["shotchartdetail"] = [Reply(200, json.dumps(payload).encode())]
    result = _materialize(server, warehouse, ("shot_zones",))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "unknown SHOT_ZONE_BASIC ['Somewhere New']" in str(failure.event_specific_data.error)
