"""The NBA injury-report adapter through a real local HTTP server serving the league's recorded PDFs
(fixtures/nba_injury_report): two versions of 2024-02-22 (13:30 and 17:30 ET; 8 pages each, rows continued across
page breaks, reasons wrapped over three lines, NOT YET SUBMITTED teams, a team with nobody listed), All-Star Sunday
(no NBA game), names matched to NBA.com ids, the version in force at tip-off, and the errors: an unmatched and an
ambiguous name, a body that is not a PDF, a truncated PDF, a PDF that is not the report, 5xx retried, another 4xx. And the raw asset materialized
from the recorded reports, its blocking checks run on the parsed rows."""

from __future__ import annotations

import datetime as dt
import io

import dagster as dg
import pandas as pd
import pypdfium2
import pytest

from nba_pipeline import schemas
from nba_pipeline.analytics.game_ids import normalize_game_ids
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs
from nba_pipeline.config import load_thresholds
from nba_pipeline.raw.checks import INJURY_REPORT_RULES
from nba_pipeline.raw.injuries import latest_before_tipoff
from nba_pipeline.resources import resources_for
from nba_pipeline.sources.base import FeedNotAvailable
from nba_pipeline.sources.injury_report import InjuryReportError, NbaInjuryReportSource, first_last, report_slots
from nba_pipeline.sources.nba_stats import NbaStatsApiSource
from nba_pipeline.sources.replay import DATA_DIR, GAMES_FILE, load_games
from nba_pipeline_tests.conftest import read_table
from nba_pipeline_tests.sources.injury_server import REPORT_PATH, InjuryReportServer

DAY, ALL_STAR_SUNDAY = dt.date(2024, 2, 22), dt.date(2024, 2, 18)
EARLY, LATE = pd.Timestamp("2024-02-22 13:30"), pd.Timestamp("2024-02-22 17:30")
EARLY_FILE, LATE_FILE = "Injury-Report_2024-02-22_01PM.pdf", "Injury-Report_2024-02-22_05PM.pdf"


def source(server: InjuryReportServer, **kw) -> NbaInjuryReportSource:
    players = NbaStatsApiSource(base_url=f"{server.url}/stats", min_interval_seconds=0, max_retries=0)
    return NbaInjuryReportSource(base_url=server.url + REPORT_PATH, backoff_seconds=0, players=players, **kw)


@pytest.fixture
def server():
    with InjuryReportServer() as s:
        yield s


def row(frame: pd.DataFrame, name: str, at: pd.Timestamp = LATE) -> pd.Series:
    found = frame[(frame["player_name"] == name) & (frame["report_at"] == at)]
    assert len(found) == 1, (name, at, len(found))
    return found.iloc[0]


def test_every_version_of_the_day_is_fetched_and_parsed_as_printed(server):
    src = source(server)
    report = src.fetch_conformed("injury_report", DAY, DAY)
    # every hourly slot of the day is asked for; 22 were not published (403 from the CDN) and are not errors
    asked = server.reports_asked()
    assert len(asked) == 24 and asked[0].endswith("Injury-Report_2024-02-22_12AM.pdf") and asked[-1].endswith("_11PM.pdf")
    assert len(server.paths_ending("/commonallplayers")) == 1
    # both versions kept, each with its header's time (the file names say 01PM / 05PM)
    assert report.groupby("report_at").size().to_dict() == {EARLY: 106, LATE: 106}
    # the 17:30 version also lists 11 players of 2024-02-23's games: outside the range, not kept
    assert (report["game_date"] == pd.Timestamp(DAY)).all()
    statuses = report.groupby(["report_at", "status"]).size()
    assert statuses[EARLY].to_dict() == {"Out": 78, "Questionable": 16, "Probable": 10, "Doubtful": 1, "Available": 1}
    assert statuses[LATE].to_dict() == {"Out": 75, "Questionable": 15, "Probable": 10, "Available": 5, "Doubtful": 1}
    # 12 games, date-team ids that the schedule resolves; LAC (at OKC) had nobody listed: no rows, no error
    assert report["game_id"].nunique() == 12 and "20240222_LAC_OKC" in set(report["game_id"])
    assert set(report.loc[report["game_id"] == "20240222_LAC_OKC", "team_abbreviation"]) == {"OKC"}
    canonical = normalize_game_ids(report["game_id"], load_games(DATA_DIR / GAMES_FILE))
    assert canonical.str.fullmatch(r"00223\d{5}").all() and canonical.nunique() == 12
    # a reason printed over three lines (above, beside and below the name) is one reason
    assert row(report, "Dariq Whitehead")["reason"] == "Injury/Illness - Left Shin; Stress Reaction"
    assert row(report, "Isaiah Livers")["reason"] == "Injury/Illness - Right Hip; Right hip joint capsule inflammation"
    # page 2 starts with two more Pacers: the team printed on page 1 carries over the page break
    tshiebwe = row(report, "Oscar Tshiebwe")
    assert (tshiebwe["team_abbreviation"], tshiebwe["team_id"], tshiebwe["game_id"], tshiebwe["status"]) == ("IND", 1610612754, "20240222_DET_IND", "Questionable")
    # 'Last, First' with suffixes and accents, matched to NBA.com person ids (nba_api's static list)
    ids = report.drop_duplicates("player_id").set_index("player_name")["player_id"]
    assert ids["Luka Dončić"] == 1629029 and ids["Dereck Lively II"] == 1641726 and ids["Marcus Morris Sr."] == 202694
    assert ids["Vlatko Čančar"] == 1628427 and ids["E.J. Liddell"] == 1630604 and ids["Kenneth Lofton Jr."] == 1631254
    assert ids["Kentavious Caldwell-Pope"] == 203484 and ids["Gary Payton II"] == 1627780 and ids["De'Anthony Melton"] == 1629001
    assert report["player_id"].notna().all() and src.unmatched == []
    assert (report.dtypes == schemas.empty(schemas.INJURY_REPORT, "injury_report").dtypes).all()
    for rule in INJURY_REPORT_RULES:  # every rule of raw.injury_report passes on both recorded versions
        assert rule.evaluate(CheckInputs(report, [pd.Timestamp(DAY)], load_thresholds()))["passed"].all(), rule.name


def test_the_version_in_force_at_tip_off_wins(server):
    report = source(server).fetch_conformed("injury_report", DAY, DAY)
    phi_out = report[(report["team_abbreviation"] == "PHI") & (report["status"] == "Out")].groupby("report_at")["player_name"].apply(set)
    # between 13:30 and 17:30 the 76ers recalled three players from the G League and cleared Batum
    assert phi_out[EARLY] - phi_out[LATE] == {"Darius Bazley", "Kenneth Lofton Jr.", "Terquavion Smith"}
    assert phi_out[LATE] == {"Robert Covington", "Joel Embiid", "De'Anthony Melton"}
    schedule = pd.DataFrame({"game_date": [pd.Timestamp(DAY)], "home_team_id": [1610612755], "away_team_id": [1610612752],
                             "tipoff_et": [pd.Timestamp("2024-02-22 19:00")]})
    in_force = latest_before_tipoff(report, schedule)
    phi = in_force[in_force["team_abbreviation"] == "PHI"]
    assert set(phi["report_at"]) == {LATE} and set(phi.loc[phi["status"] == "Out", "player_name"]) == phi_out[LATE]
    assert phi.set_index("player_name").loc["Nicolas Batum", "status"] == "Available"
    # had the game tipped off at 15:00, the 17:30 version would be news from after the game started
    early = latest_before_tipoff(report, schedule.assign(tipoff_et=pd.Timestamp("2024-02-22 15:00")))
    assert set(early.loc[early["team_abbreviation"] == "PHI", "report_at"]) == {EARLY}
    # games without a tip-off in the schedule (here: every other game) take the day's latest version
    assert set(in_force.loc[in_force["team_abbreviation"] != "PHI", "report_at"]) == {LATE}
    assert len(in_force) == 106


def test_all_star_sunday_is_an_empty_frame_of_the_schema(server):
    src = source(server)
    report = src.fetch_conformed("injury_report", ALL_STAR_SUNDAY, ALL_STAR_SUNDAY)
    # the recorded 17:30 report lists the All-Star Game (UNK@UNK, Non-NBA Team, NOT YET SUBMITTED): no player rows
    assert any(p.endswith("Injury-Report_2024-02-18_05PM.pdf") for p in server.reports_asked())
    assert report.empty and list(report.columns) == list(schemas.INJURY_REPORT)
    assert (report.dtypes == schemas.empty(schemas.INJURY_REPORT, "injury_report").dtypes).all()
    assert server.paths_ending("/commonallplayers") == []  # no names: no roster request


def test_an_unmatched_or_ambiguous_name_keeps_its_row_and_fails_the_blocking_check(server):
    rows = server.players["resultSets"][0]["rowSet"]
    embiid = next(r for r in rows if r[0] == 203954)
    rows.remove(embiid)  # Embiid missing from the directory
    curry = next(r for r in rows if r[2] == "Stephen Curry")
    rows.append([1630999, "Paul, Chris", "Chris Paul", *curry[3:]])  # a second Chris Paul on the Warriors
    src = source(server)
    report = src.fetch_conformed("injury_report", DAY, DAY)
    assert report.groupby("report_at").size().to_dict() == {EARLY: 106, LATE: 106}  # nothing dropped
    for name in ("Joel Embiid", "Chris Paul"):
        kept = report[report["player_name"] == name]
        assert len(kept) == 2 and kept["player_id"].isna().all() and kept["status"].eq("Out").all()
    assert report["player_id"].isna().sum() == 4
    said = " | ".join(src.unmatched)
    assert "'Joel Embiid' in NYK@PHI: no NBA.com player of either team fits" in said
    assert "'Chris Paul' in LAL@GSW: several NBA.com players fit" in said and "1630999" in said
    verdict = INJURY_REPORT_RULES[0].evaluate(CheckInputs(report, [pd.Timestamp(DAY)], load_thresholds()))
    assert INJURY_REPORT_RULES[0].name == names.MATCHES_SCHEMA and not verdict["passed"].any()
    detail = verdict["detail"].iloc[0]
    assert "20240222_NYK_PHI/Joel Embiid/2024-02-22 17:30:00 (player_id missing)" in detail and "Chris Paul" in detail


def test_a_player_matched_only_on_the_other_team_is_not_taken(server):
    rows = server.players["resultSets"][0]["rowSet"]
    embiid = next(r for r in rows if r[0] == 203954)
    knicks = next(r for r in rows if r[10] == "NYK")
    rows[rows.index(embiid)] = [*embiid[:7], *knicks[7:]]  # the directory has Embiid on the Knicks (a trade since)
    src = source(server)
    report = src.fetch_conformed("injury_report", DAY, DAY)
    assert report.loc[report["player_name"] == "Joel Embiid", "player_id"].isna().all()
    assert any("'Joel Embiid' listed for PHI matches only Joel Embiid of NYK" in s for s in src.unmatched)


def test_a_body_that_is_not_a_pdf_or_is_cut_short_fails_naming_the_url(server):
    server.files[LATE_FILE] = b"<html><body>Maintenance</body></html>"
    with pytest.raises(InjuryReportError, match=r"Injury-Report_2024-02-22_05PM\.pdf: not a PDF \(37 bytes starting b'<html>"):
        source(server).fetch("injury_report", DAY, DAY)
    server.files[LATE_FILE] = InjuryReportServer().files[LATE_FILE][:3000]
    with pytest.raises(InjuryReportError, match=r"Injury-Report_2024-02-22_05PM\.pdf: unreadable PDF: PdfminerException"):
        source(server).fetch("injury_report", DAY, DAY)
    # a valid PDF that is not the report (built by hand: one blank landscape page)
    blank = pypdfium2.PdfDocument.new()
    blank.new_page(842, 595)
    buffer = io.BytesIO()
    blank.save(buffer)
    server.files[LATE_FILE] = buffer.getvalue()
    with pytest.raises(InjuryReportError, match=r"_05PM\.pdf: page 1: no 'Injury Report: <date> <time>' header"):
        source(server).fetch("injury_report", DAY, DAY)


def test_5xx_is_retried_and_another_refusal_fails_at_once(server):
    server.script[EARLY_FILE] = [(503, b"busy"), (502, b"bad gateway")]
    src = source(server)
    assert len(src.fetch_conformed("injury_report", DAY, DAY)) == 212
    assert sum(p.endswith(EARLY_FILE) for p in server.reports_asked()) == 3
    server.script[EARLY_FILE] = [(500, b"down")] * 3
    with pytest.raises(InjuryReportError, match=r"_01PM\.pdf: gave up after 2 attempts; last: HTTP 500"):
        source(server, max_retries=1).fetch("injury_report", DAY, DAY)
    server.script[EARLY_FILE] = [(400, b"bad request")]
    with pytest.raises(InjuryReportError, match=r"_01PM\.pdf: HTTP 400"):
        source(server).fetch("injury_report", DAY, DAY)


def test_a_version_already_read_is_not_parsed_again_and_a_changed_body_is(server, monkeypatch):
    from nba_pipeline.sources import injury_report

    parsed = []
    real = injury_report.parse_report
    monkeypatch.setattr(injury_report, "parse_report", lambda body, url: parsed.append(url) or real(body, url))
    monkeypatch.setattr(injury_report, "_parsed", type(injury_report._parsed)())
    first = source(server).fetch_conformed("injury_report", DAY, DAY)
    assert sorted(p.rsplit("/", 1)[-1] for p in parsed) == [EARLY_FILE, LATE_FILE]
    again = source(server).fetch_conformed("injury_report", DAY, DAY)  # the sensor's next tick: a new source
    pd.testing.assert_frame_equal(first, again)
    assert len(parsed) == 2  # downloaded again, not parsed again
    server.files[LATE_FILE] = server.files[LATE_FILE][:3000]  # a changed body is read anew (and fails)
    with pytest.raises(InjuryReportError, match="unreadable PDF"):
        source(server).fetch("injury_report", DAY, DAY)


def test_slots_names_and_other_feeds():
    hourly = report_slots(DAY, dt.date(2025, 12, 23))
    assert len(hourly) == 24 and hourly[17] == ("Injury-Report_2024-02-22_05PM.pdf", pd.Timestamp("2024-02-22 17:00"))
    quarter = report_slots(dt.date(2026, 1, 13), dt.date(2025, 12, 23))
    assert len(quarter) == 96 and quarter[70] == ("Injury-Report_2026-01-13_05_30PM.pdf", pd.Timestamp("2026-01-13 17:30"))
    names_ = first_last(pd.Series(["Lofton Jr., Kenneth", "Dončić, Luka", "Nene"], dtype="string"))
    assert list(names_) == ["Kenneth Lofton Jr.", "Luka Dončić", "Nene"]
    with pytest.raises(FeedNotAvailable, match="injury_report only"):
        NbaInjuryReportSource().fetch("schedule", DAY, DAY)


def test_the_raw_asset_stores_every_version_and_its_blocking_checks_pass(server, tmp_path):
    from nba_pipeline.raw.assets import raw_assets

    warehouse = str(tmp_path / "w.duckdb")
    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = source(server)
    injury = [a for a in raw_assets if a.key.path[-1] == "injury_report"]
    result = dg.materialize(injury, resources=resources, partition_key=DAY.isoformat(), raise_on_error=False)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    stored = read_table(warehouse, "raw.injury_report")
    assert stored.groupby("report_at").size().to_dict() == {EARLY: 106, LATE: 106}
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["latest_report_at"].value == str(LATE)
