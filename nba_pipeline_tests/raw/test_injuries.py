"""Which version of the injury report counts (`raw.injuries.latest_before_tipoff`): the latest published before
each game's tip-off, the whole version (a player no longer listed is no longer out), never one after tip-off; and
`teammates_out` and the daily cache's status read that version only."""

from __future__ import annotations

import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.precompute.composite_factors import _teammates_out
from nba_pipeline.raw.injuries import latest_before_tipoff

DAY = pd.Timestamp("2024-02-22")
PHI, NYK, GSW, LAL = 1610612755, 1610612752, 1610612744, 1610612747


def report(rows: list[tuple[int, int, str, str]]) -> pd.DataFrame:
    """(team_id, player_id, status, report_at) rows of DAY, typed as raw.injury_report."""
    frame = pd.DataFrame(rows, columns=["team_id", "player_id", "status", "report_at"])
    frame = frame.assign(game_id="g", game_date=DAY, team_abbreviation="XXX", player_name="P", reason=None, unreadable="",
                         report_at=pd.to_datetime(frame["report_at"]))
    return schemas.conform(frame[list(schemas.INJURY_REPORT)], schemas.INJURY_REPORT, "injury_report")


SCHEDULE = pd.DataFrame({
    "game_date": [DAY, DAY],
    "home_team_id": pd.array([PHI, GSW], dtype="Int64"),
    "away_team_id": pd.array([NYK, LAL], dtype="Int64"),
    "tipoff_et": pd.to_datetime(["2024-02-22 19:00", "2024-02-22 22:00"]),
})
VERSIONS = report([
    (PHI, 1, "Out", "2024-02-22 13:30"), (PHI, 2, "Out", "2024-02-22 13:30"), (PHI, 3, "Out", "2024-02-22 13:30"),
    (PHI, 1, "Out", "2024-02-22 17:30"), (PHI, 2, "Available", "2024-02-22 17:30"),  # 3 no longer listed
    (PHI, 1, "Out", "2024-02-22 20:30"), (PHI, 2, "Out", "2024-02-22 20:30"),  # after PHI's tip-off: not news for it
    (GSW, 7, "Out", "2024-02-22 13:30"),
    (GSW, 7, "Out", "2024-02-22 20:30"), (GSW, 8, "Out", "2024-02-22 20:30"),  # before GSW's 22:00 tip-off
])


def test_the_latest_version_before_each_tip_off_is_the_whole_list():
    chosen = latest_before_tipoff(VERSIONS, SCHEDULE)
    phi = chosen[chosen["team_id"] == PHI]
    assert set(phi["report_at"]) == {pd.Timestamp("2024-02-22 17:30")}
    assert phi.set_index("player_id")["status"].to_dict() == {1: "Out", 2: "Available"}
    gsw = chosen[chosen["team_id"] == GSW]
    assert set(gsw["report_at"]) == {pd.Timestamp("2024-02-22 20:30")} and set(gsw["player_id"]) == {7, 8}
    assert list(chosen.columns) == list(VERSIONS.columns)


def test_without_a_tip_off_the_latest_version_counts_and_a_team_absent_from_it_has_nobody_listed():
    latest = latest_before_tipoff(VERSIONS, None)
    assert set(latest["report_at"]) == {pd.Timestamp("2024-02-22 20:30")} and len(latest) == 4
    no_times = latest_before_tipoff(VERSIONS, SCHEDULE.assign(tipoff_et=pd.NaT))
    assert no_times.equals(latest)
    # NYK is in the schedule but on no version: nothing is made up for it
    assert (latest_before_tipoff(VERSIONS, SCHEDULE)["team_id"] != NYK).all()
    # every version after tip-off: the game has no list (what was known before the game is what counts)
    late_only = VERSIONS[VERSIONS["report_at"] == pd.Timestamp("2024-02-22 20:30")]
    assert set(latest_before_tipoff(late_only, SCHEDULE)["team_id"]) == {GSW}
    assert latest_before_tipoff(VERSIONS.iloc[:0], SCHEDULE).empty


def test_teammates_out_counts_the_version_in_force_only():
    rows = pd.DataFrame({"team_id": pd.array([PHI, PHI, GSW], dtype="Int64"), "game_date": [DAY] * 3,
                         "player_id": pd.array([1, 9, 9], dtype="Int64")})
    every_version = _teammates_out(VERSIONS, rows)
    in_force = _teammates_out(latest_before_tipoff(VERSIONS, SCHEDULE), rows)
    # every version together would say PHI has 3 players out; at 19:00 only player 1 is
    assert list(every_version) == [2, 3, 2] and list(in_force) == [0, 1, 2]
