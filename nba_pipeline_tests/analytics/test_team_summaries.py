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


def test_unknown_team_turnovers_are_null_not_zero_and_the_warning_names_the_rows():
    """A feed without the official team total (the 2023-24 replay): team_turnovers NULL, possessions from the
    players' turnovers (a lower bound), the row marked, and the team_turnovers_known warning failing."""
    import pandas as pd

    from nba_pipeline.analytics.checks import TEAM_OFFENSE_RULES
    from nba_pipeline.checks import names
    from nba_pipeline.checks.rules import CheckInputs
    from nba_pipeline.config import load_thresholds

    sim = LeagueSimulator()
    teams, players, schedule = (sim.fetch(f, D, D) for f in ("team_boxscores", "player_boxscores", "schedule"))
    known = build_team_offense(teams, players, schedule, 5)
    unknown = build_team_offense(teams.assign(tov=pd.NA).astype({"tov": "Int64"}), players, schedule, 5)
    player_tov = players.groupby(["game_id", "team_id"])["tov"].sum()
    assert known["team_turnovers"].notna().all() and unknown["team_turnovers"].isna().all()
    assert (unknown.set_index(["game_id", "team_id"])["tov"] == player_tov.reindex(unknown.set_index(["game_id", "team_id"]).index)).all()
    assert (unknown["possessions"] <= known["possessions"]).all() and unknown["possessions"].notna().all()
    assert unknown["quality_issues"].str.contains("team_turnovers_unknown").all() and unknown["production_ready"].all()
    rule = next(r for r in TEAM_OFFENSE_RULES if r.name == names.TEAM_TURNOVERS_KNOWN)
    assert not rule.blocking
    limits = load_thresholds()
    for frame, passes in ((known, True), (unknown, False)):
        verdict = rule.evaluate(CheckInputs(frame, [pd.Timestamp(D)], limits, schedule, {})).iloc[0]
        assert bool(verdict["passed"]) is passes
    assert "/" in rule.evaluate(CheckInputs(unknown, [pd.Timestamp(D)], limits, schedule, {})).iloc[0]["detail"]
