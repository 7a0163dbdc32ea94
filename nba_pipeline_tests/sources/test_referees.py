"""official.nba.com's referee assignments page through a real local HTTP server (`referees_server.py`) serving the page
of 2024-02-22 (built by hand around the crews recorded for that date: fixtures/SOURCES.md): the twelve NBA crews as
the page shows them, game ids that resolve to the NBA.com ids recorded with them, the G League table ignored, a date
range around the page's day, a crew with a missing official, empty pages, pages without the table, markup in a
name, an unknown team, 5xx retried and a refusal; and the raw asset materialized with its checks on the parsed rows."""

from __future__ import annotations

import datetime as dt
import logging

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.analytics.game_ids import normalize_game_ids
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs
from nba_pipeline.config import load_thresholds
from nba_pipeline.league.teams import TEAMS
from nba_pipeline.raw.checks import REFEREE_RULES
from nba_pipeline.sources.base import FeedNotAvailable
from nba_pipeline.sources.referees import NbaRefereeAssignmentsSource, RefereePageError, tricode
from nba_pipeline.sources.replay import DATA_DIR, GAMES_FILE, load_games
from nba_pipeline_tests.sources.referees_server import PAGE_2024_02_22, RefereesServer

DAY = dt.date(2024, 2, 22)
# what the page says for three of its twelve games (as recorded for that date: fixtures/SOURCES.md)
CREWS = {
    "20240222_ORL_CLE": [(48, "Scott Foster", "Crew Chief"), (13, "Ashley Moyer-Gleich", "Referee"), (86, "Brandon Schwab", "Umpire")],
    "20240222_LAL_GSW": [(15, "Zach Zarba", "Crew Chief"), (50, "Gediminas Petraitis", "Referee"), (32, "Marat Kogut", "Umpire")],
    "20240222_LAC_OKC": [(16, "David Guthrie", "Crew Chief"), (68, "Jacyn Goble", "Referee"), (11, "Derrick Collins", "Umpire")],
}
# the NBA.com game ids recorded with those crews
NBA_COM_IDS = {"20240222_ORL_CLE": "0022300792", "20240222_LAL_GSW": "0022300802", "20240222_LAC_OKC": "0022300799",
               "20240222_BKN_TOR": "0022300795", "20240222_WAS_DEN": "0022300800"}


def source(server: RefereesServer, **kw) -> NbaRefereeAssignmentsSource:
    return NbaRefereeAssignmentsSource(base_url=server.url, backoff_seconds=0, **kw)


def evaluate(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {rule.name: rule.evaluate(CheckInputs(frame, [pd.Timestamp(DAY)], load_thresholds())) for rule in REFEREE_RULES}


@pytest.fixture
def server():
    with RefereesServer() as s:
        yield s


def test_the_page_becomes_one_row_per_official_of_every_nba_game(server):
    frame = source(server).fetch_conformed("referee_assignments", DAY, DAY)
    assert len(server.seen) == 1 and "Mozilla" in server.seen[0][1]["User-Agent"]
    assert frame["game_id"].nunique() == 12 and len(frame) == 36
    assert all(roles == ["Crew Chief", "Referee", "Umpire"] for roles in frame.groupby("game_id")["role"].apply(list))
    for game, crew in CREWS.items():
        rows = frame[frame["game_id"] == game]
        assert list(rows[["official_id", "official_name", "role"]].itertuples(index=False, name=None)) == crew
    assert (frame["game_date"] == pd.Timestamp(DAY)).all() and (frame["unreadable"] == "").all()
    # the G League table of the same page is not read (Ben Stirt wears 83 there, Andy Nagy 83 in the NBA)
    assert "Ben Stirt" not in set(frame["official_name"]) and frame.loc[frame["official_id"] == 83, "official_name"].tolist() == ["Andy Nagy"]
    assert (frame.dtypes == schemas.empty(schemas.REFEREE_ASSIGNMENTS, "referee_assignments").dtypes).all()
    # the date-team ids resolve against the schedule to the NBA.com ids recorded with the crews
    resolved = dict(zip(frame["game_id"], normalize_game_ids(frame["game_id"], load_games(DATA_DIR / GAMES_FILE))))
    assert {g: resolved[g] for g in NBA_COM_IDS} == NBA_COM_IDS and pd.Series(list(resolved.values())).notna().all()
    for name, result in evaluate(frame).items():  # every rule of raw.referee_assignments passes on the page
        assert result["passed"].all(), name


def test_the_page_spells_teams_by_city_and_both_los_angeles_teams_apart():
    for city, code in zip(TEAMS["city"], TEAMS["tricode"]):
        if city not in ("LA", "Los Angeles"):
            assert tricode(city) == code, city
    assert (tricode("L.A. Lakers"), tricode("LA Clippers"), tricode(" new  york "), tricode("Boston Celtics"), tricode("BKN")) == ("LAL", "LAC", "NYK", "BOS", "BKN")
    assert tricode("Los Angeles") is None and tricode("College Park") is None


def test_a_range_keeps_the_pages_day_and_says_which_dates_it_cannot_serve(server, caplog):
    src = source(server)
    with caplog.at_level(logging.WARNING):
        around = src.fetch_conformed("referee_assignments", dt.date(2024, 2, 20), dt.date(2024, 2, 23))
    assert len(around) == 36 and set(around["game_date"]) == {pd.Timestamp(DAY)}
    assert "shows 2024-02-22 only; no assignments for 2024-02-20..2024-02-23 (3 dates)" in caplog.text
    later = src.fetch_conformed("referee_assignments", dt.date(2024, 2, 23), dt.date(2024, 2, 23))
    assert later.empty and list(later.columns) == list(schemas.REFEREE_ASSIGNMENTS)
    with pytest.raises(FeedNotAvailable, match="referee_assignments only, not prop_lines"):
        src.fetch("prop_lines", DAY, DAY)


def test_a_crew_not_yet_complete_keeps_its_officials_and_the_full_crews_warning_names_the_game(server, caplog):
    server.page = PAGE_2024_02_22.replace("<td>Scott Wall (#31)</td>", "<td>TBD</td>").replace("<td>Andy Nagy (#83)</td>", "<td> </td>")
    for official in ("Zach Zarba (#15)", "Gediminas Petraitis (#50)", "Marat Kogut (#32)"):  # a whole crew still open
        server.page = server.page.replace(f"<td>{official}</td>", "<td>TBD</td>")
    with caplog.at_level(logging.WARNING):
        frame = source(server).fetch_conformed("referee_assignments", DAY, DAY)
    assert len(frame) == 31 and "20240222_LAL_GSW" not in set(frame["game_id"])
    assert ("officials not yet assigned on " + server.url + ": 20240222_BKN_TOR (Umpire); 20240222_BOS_CHI (Referee); "
            "20240222_LAL_GSW (Crew Chief, Referee, Umpire)") in caplog.text
    assert frame[frame["game_id"] == "20240222_BKN_TOR"]["role"].tolist() == ["Crew Chief", "Referee"]
    results = evaluate(frame)
    full = results[names.FULL_CREWS]
    assert not full["passed"].all() and "20240222_BKN_TOR" in full.to_string() and "20240222_BOS_CHI" in full.to_string()
    assert results[names.MATCHES_SCHEMA]["passed"].all() and results[names.NO_DUPLICATE_KEYS]["passed"].all()


@pytest.mark.parametrize("page", [
    PAGE_2024_02_22.split("<tbody>")[0] + "<tbody>\n" + "</tbody>" + PAGE_2024_02_22.split("</tbody>", 1)[1],  # NBA table, no rows
    PAGE_2024_02_22.replace("nba-refs-content", "no-games"),  # only the G League's section
    PAGE_2024_02_22.split("<tbody>")[0] + '<tbody><tr><td colspan="5">No games scheduled</td></tr></tbody>' + PAGE_2024_02_22.split("</tbody>", 1)[1],
])
def test_a_day_without_nba_games_is_an_empty_frame_of_the_feeds_schema(server, page):
    server.page = page
    frame = source(server).fetch_conformed("referee_assignments", DAY, DAY)
    assert frame.empty and (frame.dtypes == schemas.empty(schemas.REFEREE_ASSIGNMENTS, "referee_assignments").dtypes).all()


def test_a_page_without_the_table_fails_naming_the_url(server):
    server.page = "<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>Reference #18.5e</body></html>"
    with pytest.raises(RefereePageError, match=rf"^referee assignments page {server.url}: no referee assignments table"):
        source(server).fetch("referee_assignments", DAY, DAY)
    server.page = PAGE_2024_02_22.replace(">Umpire</th>", ">Official 3</th>", 1)
    with pytest.raises(RefereePageError, match=r"header is \['Game', 'Crew Chief', 'Referee', 'Official 3', 'Alternate'\], without \['Umpire'\]"):
        source(server).fetch("referee_assignments", DAY, DAY)
    server.page = PAGE_2024_02_22.replace("<td>Boston @ Chicago</td>", "<td>Boston @ Capital City</td>")
    with pytest.raises(RefereePageError, match=r"row 2: 'Boston @ Capital City'"):
        source(server).fetch("referee_assignments", DAY, DAY)


def test_markup_in_a_name_and_a_name_without_a_number_keep_their_rows_and_fail_the_schema_check_by_name(server):
    server.page = (PAGE_2024_02_22.replace("<td>Kevin Cutler (#34)</td>", "<td>&lt;script&gt;alert(1)&lt;/script&gt; (#34)</td>")
                   .replace("<td>Marc Davis (#8)</td>", "<td>Marc Davis</td>"))
    frame = source(server).fetch_conformed("referee_assignments", DAY, DAY)
    assert len(frame) == 36
    hostile = frame[frame["official_id"] == 34].iloc[0]
    assert hostile["official_name"] == "<script>alert(1)</script>" and hostile["game_id"] == "20240222_BKN_TOR"
    assert frame.loc[frame["official_name"] == "Marc Davis", "official_id"].isna().all()
    schema = evaluate(frame)[names.MATCHES_SCHEMA]
    assert not schema["passed"].all()
    failed = schema.to_string()
    assert "20240222_BKN_TOR" in failed and "20240222_BOS_CHI" in failed


def test_5xx_is_retried_and_a_refusal_fails_at_once(server):
    server.script = [(503, "<html>busy</html>", {}), (502, "<html>bad gateway</html>", {"Retry-After": "0"})]
    assert len(source(server).fetch("referee_assignments", DAY, DAY)) == 36 and len(server.seen) == 3
    server.seen.clear()
    server.script = [(500, "oops", {})] * 3
    with pytest.raises(RefereePageError, match=r"\(HTTP 500\): gave up after 3 attempts; last: HTTP 500"):
        source(server, max_retries=2).fetch("referee_assignments", DAY, DAY)
    server.seen.clear()
    server.script = [(403, "<html>Access Denied</html>", {})]
    with pytest.raises(RefereePageError, match=r"\(HTTP 403\): refused"):
        source(server).fetch("referee_assignments", DAY, DAY)
    assert len(server.seen) == 1


def test_the_raw_asset_materializes_the_parsed_crews_through_its_blocking_checks(server, tmp_path, monkeypatch):
    from nba_pipeline.raw.assets import raw_assets
    from nba_pipeline.resources import resources_for
    from nba_pipeline_tests.conftest import read_table

    monkeypatch.delenv("NBA_PIPELINE_THRESHOLDS", raising=False)
    monkeypatch.delenv("NBA_PIPELINE_SOURCE", raising=False)
    warehouse = str(tmp_path / "w.duckdb")
    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = source(server)
    asset = [a for a in raw_assets if a.key == dg.AssetKey("referee_assignments")]
    result = dg.materialize(asset, resources=resources, partition_key=DAY.isoformat(), raise_on_error=False)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {names.MATCHES_SCHEMA: True, names.NO_DUPLICATE_KEYS: True, names.FULL_CREWS: True}
    stored = read_table(warehouse, "raw.referee_assignments")
    assert len(stored) == 36 and stored["game_id"].nunique() == 12
    assert stored.loc[stored["official_name"] == "Scott Foster", ["game_id", "official_id", "role"]].values.tolist() == [["20240222_ORL_CLE", 48, "Crew Chief"]]
    # a page with markup in a name the next morning: the blocking check fails the date, nothing crashes, and the
    # published rows stay the audited ones
    server.page = PAGE_2024_02_22.replace("<td>Kevin Cutler (#34)</td>", "<td>&lt;img src=x onerror=alert(1)&gt; (#34)</td>")
    again = dg.materialize(asset, resources=resources, partition_key=DAY.isoformat(), raise_on_error=False)
    failures = [str(e.event_specific_data.error) for e in again.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1 and "1 blocking asset check failed" in failures[0] and "referee_assignments: matches_schema" in failures[0]
    schema = next(e for e in again.get_asset_check_evaluations() if e.check_name == names.MATCHES_SCHEMA)
    assert not schema.passed and "20240222_BKN_TOR/34 (official_name='<img src=x onerror=alert(1)>' is not an official's name)" in schema.metadata["failures"].value
    assert read_table(warehouse, "raw.referee_assignments")["official_name"].isin(["Kevin Cutler"]).sum() == 1
