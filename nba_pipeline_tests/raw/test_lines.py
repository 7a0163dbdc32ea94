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


def test_every_line_is_labelled_by_source_and_its_price_sets_the_break_even():
    from nba_pipeline.raw.lines import break_even, line_source
    from nba_pipeline.sources.replay import SYNTHETIC_BOOK

    books = pd.Series([SYNTHETIC_BOOK, "SimBook", "DraftKings", None])
    assert line_source(books).tolist() == ["synthetic", "simulated", "vendor", "vendor"]
    assert line_source(_board("2023-12-16T12:00:00")["sportsbook"]).eq("simulated").all()
    needs = break_even(pd.Series([-110, +150, -200, None]))
    assert needs.round(4).tolist() == [0.5238, 0.4, 0.6667, 0.5238]  # unpriced: -110


def test_a_placeholder_line_shared_by_much_of_a_dates_board_is_flagged():
    from nba_pipeline.raw.lines import placeholder_lines

    board = _board("2023-12-16T12:00:00")
    assert not placeholder_lines(board).any()  # a real-looking board: many values, none dominant
    defaulted = board.copy()
    defaulted.loc[defaulted.index[: len(board) // 2], "line"] = 20.0  # half the board at a default of 20
    flagged = placeholder_lines(defaulted)
    assert flagged.sum() == (defaulted["line"] == 20.0).sum() and flagged[defaulted["line"] == 20.0].all()
    small = defaulted.head(10)  # too few lines to call a shared value a default
    assert not placeholder_lines(small).any()
