"""The 2023-24 replay source on the real files shipped in the package: every quirk of SOURCES.md handled visibly."""

import datetime as dt
import gzip

import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.league.teams import ID_BY_TRICODE
from nba_pipeline.sources.replay import (
    BOX_SCORES_FILE,
    DATA_DIR,
    GAMES_FILE,
    PLAYER_IDS_FILE,
    SYNTHETIC_BOOK,
    ReplayDataError,
    SeasonReplaySource,
    replay_season,
)

SEASON = (dt.date(2023, 10, 24), dt.date(2024, 4, 14))


@pytest.fixture(scope="module")
def feeds() -> dict[str, pd.DataFrame]:
    source = SeasonReplaySource()
    return {feed: source.fetch_conformed(feed, *SEASON) for feed in schemas.RAW_SCHEMAS}


def test_real_values_come_through_unchanged(feeds):
    # Luka Doncic's 73 points at ATL on 2024-01-26 (the season's high; SOURCES.md's file, row as published)
    box = feeds["player_boxscores"]
    luka = box[(box["player_name"] == "Luka Doncic") & (box["game_date"] == "2024-01-26")].iloc[0]
    assert (luka["pts"], luka["fgm"], luka["fga"], luka["fg3m"], luka["ftm"], luka["minutes"]) == (73, 25, 33, 8, 15, "45:00")
    assert luka["team_abbreviation"] == "DAL" and luka["team_id"] == ID_BY_TRICODE["DAL"]
    game = feeds["schedule"].set_index("game_id").loc[luka["game_id"]]
    assert (game["home_team"], game["away_team"], game["game_status"]) == ("ATL", "DAL", "Final")


def test_game_ids_are_nba_ids_joined_by_date_and_teams(feeds):
    box, schedule = feeds["player_boxscores"], feeds["schedule"]
    assert box["game_id"].str.fullmatch(r"00223\d{5}").all()
    assert len(schedule) == 1230 and box["game_id"].nunique() == 1173  # SOURCES.md: 1,173 of 1,230 games
    joined = box.merge(schedule, on="game_id")
    team = joined["team_abbreviation"]
    assert ((team == joined["home_team"]) | (team == joined["away_team"])).all()
    assert (joined["game_date_x"] == joined["game_date_y"]).all()


def test_mislabelled_columns_are_mapped_by_content(feeds):
    """SOURCES.md: the file's TO holds steals, STL blocks, BLK turnovers. Season totals show it: the league has
    more turnovers than steals, and more steals than blocks."""
    raw = pd.read_csv(DATA_DIR / BOX_SCORES_FILE)
    box = feeds["player_boxscores"]
    assert box["stl"].sum() == raw["TO"].sum() and box["blk"].sum() == raw["STL"].sum() and box["tov"].sum() == raw["BLK"].sum()
    assert box["tov"].sum() > box["stl"].sum() > box["blk"].sum()


def test_player_ids_are_nba_com_person_ids_stable_and_unique_per_name(feeds):
    box = feeds["player_boxscores"]
    assert box.groupby("player_name")["player_id"].nunique().max() == 1
    assert box.groupby("player_id")["player_name"].nunique().max() == 1
    assert (box["player_id"] < 2**31).all()  # every name of the package is matched to its NBA.com person id
    ids = box.drop_duplicates("player_name").set_index("player_name")["player_id"]
    assert ids["Victor Wembanyama"] == 1641705 and ids["LeBron James"] == 2544 and ids["Stephen Curry"] == 201939
    # the same player in the 2022-23 game logs (NBA.com's own ids): one id across seasons
    logs = pd.read_csv(DATA_DIR.parent / "season_2022_23" / "player_game_logs_2022-23.csv.gz",
                       usecols=["PLAYER_ID", "PLAYER_NAME"]).drop_duplicates().set_index("PLAYER_NAME")["PLAYER_ID"]
    both = ids.index.intersection(logs.index)
    assert len(both) > 400 and (ids[both].to_numpy() == logs[both].to_numpy()).all()
    replay_season.cache_clear()
    again = SeasonReplaySource().fetch_conformed("player_boxscores", *SEASON)
    pd.testing.assert_series_equal(again["player_id"], box["player_id"])


def test_a_name_without_an_nba_com_id_gets_a_derived_one_never_a_real_one(tmp_path):
    for name in (BOX_SCORES_FILE, GAMES_FILE):
        (tmp_path / name).write_bytes((DATA_DIR / name).read_bytes())
    ids = pd.read_csv(DATA_DIR / PLAYER_IDS_FILE)
    ids[ids["player_name"] != "LeBron James"].to_csv(tmp_path / PLAYER_IDS_FILE, index=False)
    box = replay_season(str(tmp_path)).feeds["player_boxscores"]
    lebron = box.loc[box["player_name"] == "LeBron James", "player_id"].unique()
    assert len(lebron) == 1 and lebron[0] > 2**31  # derived, past NBA.com's ids
    assert (box.loc[box["player_name"] != "LeBron James", "player_id"] < 2**31).all()
    ids.loc[ids["player_name"] == "Anthony Davis", "nba_person_id"] = 2544  # two names, one id: refused by name
    ids.to_csv(tmp_path / PLAYER_IDS_FILE, index=False)
    replay_season.cache_clear()  # read per folder once per process
    with pytest.raises(ReplayDataError, match="nba_person_id listed twice: \\['2544'\\]"):
        replay_season(str(tmp_path))


def test_team_rows_minutes_on_the_grid_turnovers_unknown(feeds):
    teams, schedule = feeds["team_boxscores"], feeds["schedule"]
    assert len(teams) == 2 * 1173
    minutes = teams["minutes"].str.split(":").str[0].astype(int)
    assert ((minutes - 240) % 25 == 0).all() and (minutes > 240).sum() > 0  # overtimes read off the players' minutes
    assert teams["tov"].isna().all()  # unknown: NULL, not the players' sum
    games = pd.read_json(DATA_DIR / GAMES_FILE, lines=True, dtype={"gameId": str})
    home = teams.merge(schedule, on="game_id").query("team_abbreviation == home_team")
    official = home.merge(games, left_on="game_id", right_on="gameId")
    assert len(official) == 1173 and (official["pts"] == official["homeScore"]).all()
    assert (official["plus_minus"] == official["homeScore"] - official["awayScore"]).all()


def test_the_final_week_is_scheduled_with_no_box_scores(feeds):
    schedule, box = feeds["schedule"], feeds["player_boxscores"]
    week = schedule[schedule["game_date"] >= "2024-04-08"]
    assert len(week) == 57 and (week["game_status"] == "Final").all()
    assert not box["game_id"].isin(week["game_id"]).any()
    assert box["game_date"].max() == pd.Timestamp("2024-04-07")


def test_feeds_the_files_lack_are_empty_with_their_schema(feeds):
    for feed in ("shot_zones", "injury_report", "referee_assignments"):
        assert feeds[feed].empty and list(feeds[feed].columns) == list(schemas.RAW_SCHEMAS[feed])


def test_the_synthetic_book_prices_from_earlier_games_only(feeds):
    lines, box = feeds["prop_lines"], feeds["player_boxscores"]
    assert (lines["sportsbook"] == SYNTHETIC_BOOK).all() and "synthetic" in SYNTHETIC_BOOK
    assert lines["line"].gt(0).all() and (lines["line"] % 1 == 0.5).all()
    assert lines["game_date"].min() > pd.Timestamp("2023-10-24")  # opening night: nothing known yet
    # a line never depends on its own game: changing a player's points on a date leaves that date's line unchanged
    one = lines.iloc[len(lines) // 2]
    history = box[(box["player_id"] == one["player_id"]) & (box["game_date"] < one["game_date"])]
    form = history.sort_values("game_date")["pts"].astype(float)
    expected = max(int(0.55 * form.tail(10).mean() + 0.45 * form.mean()) + 0.5, 0.5)
    assert one["line"] == expected


def test_outside_the_season_every_feed_is_empty(feeds):
    source = SeasonReplaySource()
    for feed in schemas.RAW_SCHEMAS:
        frame = source.fetch_conformed(feed, dt.date(2024, 7, 1), dt.date(2024, 7, 31))
        assert frame.empty and list(frame.columns) == list(schemas.RAW_SCHEMAS[feed])


def test_missing_or_broken_files_are_named_before_anything_is_served(tmp_path):
    with pytest.raises(ReplayDataError, match=f"{tmp_path}/{BOX_SCORES_FILE} does not exist"):
        SeasonReplaySource(data_dir=str(tmp_path)).fetch("schedule", *SEASON)
    (tmp_path / GAMES_FILE).write_bytes((DATA_DIR / GAMES_FILE).read_bytes())
    rows = gzip.decompress((DATA_DIR / BOX_SCORES_FILE).read_bytes()).decode().splitlines()
    header, first = rows[0], rows[1].replace("NYK @ MIL", "NYK @ SEA")  # a game no schedule has
    (tmp_path / BOX_SCORES_FILE).write_bytes(gzip.compress("\n".join([header, first, *rows[2:50]]).encode()))
    with pytest.raises(ReplayDataError, match="unreadable matchup or team|match no regular-season game"):
        SeasonReplaySource(data_dir=str(tmp_path)).fetch("schedule", *SEASON)
