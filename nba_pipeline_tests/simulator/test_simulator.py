import datetime as dt

import pandas as pd
import pytest

from nba_pipeline.analytics.box_scores import impossible_stats
from nba_pipeline.league.teams import TEAM_IDS
from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults

D = dt.date


@pytest.fixture(scope="module")
def season():
    sim = LeagueSimulator(seed=2021)
    start, end = D(2023, 10, 24), D(2024, 4, 14)
    return {feed: sim.fetch(feed, start, end) for feed in ("schedule", "player_boxscores", "team_boxscores", "shot_zones", "prop_lines", "injury_report")}


def test_a_season_is_1230_games_of_82_per_team_with_nba_ids(season):
    schedule = season["schedule"]
    assert len(schedule) == 1230
    per_team = pd.concat([schedule["home_team_id"], schedule["away_team_id"]]).value_counts()
    assert set(per_team.index) == TEAM_IDS and (per_team == 82).all()
    assert (schedule["home_team_id"].value_counts() == 41).all()
    assert schedule["game_id"].str.fullmatch(r"00223\d{5}").all()
    games_per_team_day = pd.concat([schedule[["game_date", "home_team_id"]].set_axis(["d", "t"], axis=1),
                                    schedule[["game_date", "away_team_id"]].set_axis(["d", "t"], axis=1)])
    assert not games_per_team_day.duplicated().any()


def test_box_scores_are_plausible_and_reconcile(season):
    players, teams = season["player_boxscores"], season["team_boxscores"]
    assert not impossible_stats(players, 68).any()
    sums = players.groupby(["game_id", "team_id"])[["pts", "tov", "fga"]].sum()
    t = teams.set_index(["game_id", "team_id"])
    assert (sums["pts"] == t["pts"].loc[sums.index]).all()
    excess = t["tov"].loc[sums.index] - sums["tov"]
    assert excess.between(0, 5).all() and (excess > 0).any()  # team turnovers exist, as in real data
    assert 105 < teams["pts"].mean() < 125


def test_team_minutes_are_player_minutes_of_the_games_length(season):
    """240 player-minutes a game plus 25 per overtime, and exactly what the team's players played."""
    from nba_pipeline.analytics.box_scores import parse_minutes

    players, teams = season["player_boxscores"], season["team_boxscores"]
    played = players.assign(m=parse_minutes(players["minutes"])).groupby(["game_id", "team_id"])["m"].sum()
    t = teams.assign(m=parse_minutes(teams["minutes"])).set_index(["game_id", "team_id"])["m"]
    assert (t.loc[played.index] - played).abs().max() < 1e-9
    overtimes = (t - 240) / 25
    assert overtimes.isin([0, 1, 2]).all() and (overtimes > 0).any()  # some overtime games
    assert (t.groupby(level="game_id").nunique() == 1).all()  # both teams played the same game length
    assert players["comment"].str.startswith("DNP").any()
    played = players[players["comment"] == ""]
    assert played["minutes"].str.fullmatch(r"\d{1,2}:\d{2}").all()


def test_shot_zones_cover_only_part_of_the_games(season):
    covered = season["shot_zones"]["game_id"].nunique() / len(season["schedule"])
    assert 0.6 < covered < 0.9


def test_same_date_alone_or_in_a_range_is_identical(season):
    alone = LeagueSimulator(seed=2021).fetch("player_boxscores", D(2024, 1, 15), D(2024, 1, 15))
    in_range = season["player_boxscores"]
    in_range = in_range[in_range["game_date"] == "2024-01-15"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, in_range)


def test_trades_move_players_mid_season(season):
    teams_per_player = season["player_boxscores"].groupby("player_id")["team_id"].nunique()
    assert (teams_per_player > 1).sum() >= 4


def test_off_days_have_no_games():
    sim = LeagueSimulator()
    assert sim.fetch("schedule", D(2024, 2, 18), D(2024, 2, 18)).empty  # All-Star Sunday
    assert sim.fetch("player_boxscores", D(2023, 7, 1), D(2023, 7, 1)).empty


def test_games_are_absent_until_final():
    sim = LeagueSimulator(as_of=dt.datetime(2024, 1, 15, 22, 30))
    schedule = sim.fetch("schedule", D(2024, 1, 15), D(2024, 1, 15))
    boxes = sim.fetch("team_boxscores", D(2024, 1, 15), D(2024, 1, 15))
    final = schedule.loc[schedule["game_status"] == "Final", "game_id"]
    assert 0 < len(final) < len(schedule)
    assert set(boxes["game_id"]) == set(final)


def test_faults_change_only_the_affected_dates():
    faults = SimulatorFaults(game_id_format="int", game_id_feed="team_boxscores", affected_dates=["2024-01-15"])
    teams = LeagueSimulator(faults=faults).fetch("team_boxscores", D(2024, 1, 14), D(2024, 1, 15))
    canonical = teams["game_id"].str.len() == 10
    assert (~canonical == (teams["game_date"] == "2024-01-15")).all()


def test_the_team_minutes_unit_fault_reports_game_minutes_on_the_affected_dates_only():
    faults = SimulatorFaults(team_minutes_unit="game_minutes", affected_dates=["2024-01-15"])
    clean = LeagueSimulator().fetch("team_boxscores", D(2024, 1, 14), D(2024, 1, 15))
    faulty = LeagueSimulator(faults=faults).fetch("team_boxscores", D(2024, 1, 14), D(2024, 1, 15))
    minutes = lambda f: f["minutes"].str.split(":").str[0].astype(int)  # noqa: E731
    hit = (faulty["game_date"] == "2024-01-15").to_numpy()
    assert hit.any() and (~hit).any()
    assert (minutes(faulty)[hit] * 5 == minutes(clean)[hit]).all()  # 48 for 240, 53 for 265
    assert (faulty["minutes"][~hit] == clean["minutes"][~hit]).all()
    assert faulty.drop(columns="minutes").equals(clean.drop(columns="minutes"))
