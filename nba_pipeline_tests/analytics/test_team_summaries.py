import datetime as dt

import pytest

from nba_pipeline.analytics.team_defense import build_team_defense
from nba_pipeline.analytics.team_offense import build_team_offense
from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults

D = dt.date(2024, 1, 15)


def _offense(faults=None):
    sim = LeagueSimulator(faults=faults)
    return build_team_offense(
        sim.fetch("team_boxscores", D, D), sim.fetch("player_boxscores", D, D), sim.fetch("schedule", D, D), 5
    )


def test_possessions_follow_basketball_reference_and_rows_pair_up():
    off = _offense()
    row = off.iloc[0]
    opp = off[(off["game_id"] == row["game_id"]) & (off["team_id"] != row["team_id"])].iloc[0]

    def one_side(a, b):
        return a.fga + 0.4 * a.fta - 1.07 * (a.oreb / (a.oreb + b.dreb)) * (a.fga - a.fgm) + a.tov

    assert row["possessions"] == pytest.approx(0.5 * (one_side(row, opp) + one_side(opp, row)))
    assert row["pace"] == pytest.approx(48 * row["possessions"] / (row["team_minutes"] / 5))
    assert row["offensive_rating"] == pytest.approx(100 * row["pts"] / row["possessions"])
    assert off["production_ready"].all() and (off["quality_score"] == 100).all()
    defense = build_team_defense(off)
    mirrored = defense.set_index(["game_id", "team_id"])["points_allowed"]
    assert mirrored.loc[(row["game_id"], row["team_id"])] == opp["pts"]


def test_a_missing_team_row_leaves_its_opponent_not_production_ready():
    off = _offense(SimulatorFaults(missing_team_row_rate=1.0))
    assert len(off) == off["game_id"].nunique()  # one row per game survives
    assert not off["production_ready"].any()
    assert off["quality_issues"].str.contains("missing_opponent_row").all()
