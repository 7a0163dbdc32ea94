"""Line snapshots: a refresh appends only what moved; readers see the latest number."""

import datetime as dt

import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.raw.lines import append_snapshots, current_lines
from nba_pipeline.simulator import LeagueSimulator

DAY = dt.date(2023, 12, 16)


def _board(at: str) -> pd.DataFrame:
    return LeagueSimulator(as_of=dt.datetime.fromisoformat(at)).fetch("prop_lines", DAY, DAY)


def test_lines_open_in_the_morning_and_move_through_the_day():
    assert _board("2023-12-16T08:59:00").empty
    opening, noon = _board("2023-12-16T09:00:00"), _board("2023-12-16T12:00:00")
    assert len(opening) == len(noon) > 50
    assert opening["snapshot_at"].eq(pd.Timestamp("2023-12-16 09:00")).all()
    moved = noon["snapshot_at"] == pd.Timestamp("2023-12-16 11:00")
    assert 0 < moved.sum() < len(noon)
    merged = noon.merge(opening, on="player_id", suffixes=("", "_open"))
    assert (merged["line"] != merged["line_open"]).sum() == moved.sum()  # a snapshot time changes only with the number
    # after the games, the board is the closing one: the same whenever it is fetched
    pd.testing.assert_frame_equal(_board("2023-12-17T06:00:00"), _board("2024-03-01T12:00:00"))


def test_a_refresh_appends_what_moved_and_re_running_it_adds_nothing():
    opening = append_snapshots(schemas.empty(schemas.PROP_LINES, "prop_lines"), _board("2023-12-16T09:30:00"))
    noon_board = _board("2023-12-16T12:00:00")
    noon = append_snapshots(opening, noon_board)
    moved = int((noon_board["snapshot_at"] > pd.Timestamp("2023-12-16 09:00")).sum())
    assert len(noon) == len(opening) + moved and moved > 0
    assert len(append_snapshots(noon, noon_board)) == len(noon)  # idempotent
    current = current_lines(noon).set_index("player_id")["line"]
    assert current.equals(noon_board.set_index("player_id")["line"].loc[current.index])
    assert len(current) == len(noon_board)


def test_the_injury_report_has_an_evening_and_a_final_morning_version():
    def report(at):
        return LeagueSimulator(as_of=dt.datetime.fromisoformat(at)).fetch("injury_report", DAY, DAY)

    assert report("2023-12-15T16:59:00").empty
    evening, morning = report("2023-12-15T17:00:00"), report("2023-12-16T08:00:00")
    assert (evening["status"] == "Out").all() and len(evening) > 0
    assert len(morning) > len(evening) and set(morning["report_at"]) == {pd.Timestamp("2023-12-16 08:00")}
