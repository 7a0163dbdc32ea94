"""Seasons from files: NBA.com game-log exports in any number of folders, and the 2023-24 package files as one such
folder, served as one source. The exports are written by the test from real data: the recorded NBA.com box score of
0022200552 (2022-23) and three weeks of the 2023-24 replay, put in game-log columns."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.sources.game_logs import PLAYER_COLUMNS, GameLogFilesSource, game_clock
from nba_pipeline.sources.replay import DATA_DIR, ReplayDataError, SeasonReplaySource
from nba_pipeline_tests.conftest import REAL_API

WEEKS = (dt.date(2023, 10, 24), dt.date(2023, 11, 14))


def _matchup(frame: pd.DataFrame, schedule: pd.DataFrame) -> pd.Series:
    games = frame.merge(schedule, on="game_id", how="left")
    home = games["team_abbreviation"] == games["home_team"]
    return (games["team_abbreviation"] + " vs. " + games["away_team"]).where(home, games["team_abbreviation"] + " @ " + games["home_team"])


def _export(frame: pd.DataFrame, schedule: pd.DataFrame, player: bool) -> pd.DataFrame:
    out = pd.DataFrame({"GAME_ID": frame["game_id"], "GAME_DATE": frame["game_date"].dt.strftime("%Y-%m-%d"), "MATCHUP": _matchup(frame, schedule).to_numpy(),
                        "TEAM_ID": frame["team_id"], "TEAM_ABBREVIATION": frame["team_abbreviation"], "MIN": frame["minutes"].str.split(":").str[0]})
    if player:
        out["PLAYER_ID"], out["PLAYER_NAME"] = frame["player_id"], frame["player_name"]
    for col in PLAYER_COLUMNS[8:]:
        out[col] = frame[col.lower() if col != "TOV" else "tov"]
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("feeds_game_logs")
    replay = SeasonReplaySource()
    schedule = replay.fetch("schedule", *WEEKS)
    season = base / "2023-24"
    season.mkdir()
    _export(replay.fetch("player_boxscores", *WEEKS), schedule, True).to_csv(season / "player_game_logs_2023-24.csv.gz", index=False)
    teams = replay.fetch("team_boxscores", *WEEKS).assign(tov=7)  # the replay's team turnovers are unknown: an export has them
    _export(teams, schedule, False).to_csv(season / "team_game_logs_2023-24.csv", index=False)
    # 2022-23: the recorded NBA.com box score of CHI at CLE, 2023-01-02, in game-log columns
    payload = json.loads((REAL_API / "BoxScoreTraditionalV2.json").read_text())
    sets = {s["name"]: pd.DataFrame(s["rowSet"], columns=s["headers"]) for s in payload["resultSets"]}
    old = base / "2022-23"
    old.mkdir()
    for name, frame in (("player", sets["PlayerStats"]), ("team", sets["TeamStats"])):
        frame = frame.rename(columns={"TO": "TOV"}).assign(GAME_DATE="2023-01-02")
        frame["MATCHUP"] = frame["TEAM_ABBREVIATION"].map({"CLE": "CLE vs. CHI", "CHI": "CHI @ CLE"})
        frame["MIN"] = frame["MIN"].fillna("")
        frame.to_csv(old / f"{name}_game_logs.csv", index=False)
    return base


def test_two_seasons_of_exports_are_one_source(folders):
    source = GameLogFilesSource(directories=[str(folders / "2022-23"), str(folders / "2023-24")])
    schedule = source.fetch_conformed("schedule", dt.date(2022, 10, 1), WEEKS[1])
    assert set(schedule["season"]) == {"2022-23", "2023-24"} and (schedule["game_status"] == "Final").all()
    old = schedule[schedule["game_id"] == "0022200552"].iloc[0]
    assert (old["home_team"], old["away_team"]) == ("CLE", "CHI")
    replay = SeasonReplaySource()
    assert set(schedule.loc[schedule["season"] == "2023-24", "game_id"]) == set(replay.fetch("schedule", *WEEKS)["game_id"])
    # player box scores round-trip through the export: the same players, minutes and counts as the replay's
    ours = source.fetch_conformed("player_boxscores", *WEEKS).sort_values(["game_id", "player_id"]).reset_index(drop=True)
    theirs = replay.fetch_conformed("player_boxscores", *WEEKS).sort_values(["game_id", "player_id"]).reset_index(drop=True)
    cols = ["game_id", "game_date", "player_id", "team_id", "minutes", "pts", "fga", "tov", "plus_minus"]
    pd.testing.assert_frame_equal(ours[cols], theirs[cols])
    teams = source.fetch_conformed("team_boxscores", *WEEKS)
    assert (teams["tov"] == 7).all()  # the export's official team turnovers, not a NULL
    recorded = source.fetch_conformed("player_boxscores", dt.date(2023, 1, 2), dt.date(2023, 1, 2))
    assert recorded.set_index("player_name").loc["DeMar DeRozan", "minutes"] == "45:55" and recorded["minutes"].isna().sum() > 0  # DNP rows
    lines = source.fetch_conformed("prop_lines", *WEEKS)
    assert len(lines) > 1000 and lines["player_id"].notna().all()
    for feed in ("shot_zones", "injury_report", "referee_assignments"):
        assert source.fetch_conformed(feed, *WEEKS).empty


def test_the_2023_24_package_files_are_one_folder_of_it(folders):
    source = GameLogFilesSource(directories=[str(folders / "2022-23"), str(DATA_DIR)])
    both = source.fetch_conformed("schedule", dt.date(2022, 10, 1), dt.date(2024, 4, 14))
    assert set(both["season"]) == {"2022-23", "2023-24"}
    pd.testing.assert_frame_equal(
        source.fetch_conformed("team_boxscores", *WEEKS), SeasonReplaySource().fetch_conformed("team_boxscores", *WEEKS)
    )


def test_a_bad_folder_is_named_before_anything_is_served(folders, tmp_path):
    (tmp_path / "player_game_logs.csv").write_text("GAME_ID,GAME_DATE\n0022300001,2023-10-24\n")
    (tmp_path / "team_game_logs.csv").write_text("GAME_ID,GAME_DATE\n0022300001,2023-10-24\n")
    with pytest.raises(ReplayDataError, match=r"player_game_logs.csv: missing column\(s\) \['MATCHUP', 'TEAM_ID'"):
        GameLogFilesSource(directories=[str(tmp_path)]).fetch("schedule", *WEEKS)
    with pytest.raises(ReplayDataError, match="is not a folder"):
        GameLogFilesSource(directories=[str(tmp_path / "nowhere")]).fetch("schedule", *WEEKS)


def test_minutes_as_exported_become_a_game_clock():
    said = game_clock(pd.Series(["34", "33.75", "34:12", "", "abc"]))
    assert said.tolist()[:3] == ["34:00", "33:45", "34:12"] and pd.isna(said[3]) and said[4] == "abc"
    assert schemas.conform_raw  # the clock is then checked by the feed's contract
