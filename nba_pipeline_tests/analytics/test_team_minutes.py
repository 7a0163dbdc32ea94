"""team_minutes_valid: team minutes are player-minutes (240 + 25 per overtime) and agree with the players' sum.

A team feed reporting game minutes (48, 53) makes usage_rate exactly a fifth of the truth; before this rule
every blocking check passed on such a feed."""

import datetime as dt

import pandas as pd
import pytest

from nba_pipeline.analytics import checks
from nba_pipeline.analytics.player_game_summary import build_player_game_summary
from nba_pipeline.analytics.team_offense import build_team_offense
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs, to_check_result
from nba_pipeline.config import load_thresholds
from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults

DAYS = [dt.date(2024, 1, 14), dt.date(2024, 1, 15)]
BAD = "2024-01-15"


def _rule():
    return next(r for r in checks.TEAM_OFFENSE_RULES if r.name == names.TEAM_MINUTES_VALID)


def _inputs(frame: pd.DataFrame, schedule: pd.DataFrame, dates) -> CheckInputs:
    return CheckInputs(frame=frame, dates=[pd.Timestamp(d) for d in dates], thresholds=load_thresholds(), schedule=schedule)


def _analytics(faults=None):
    sim = LeagueSimulator(faults=faults)
    a, b = DAYS
    schedule = sim.fetch("schedule", a, b)
    players = sim.fetch("player_boxscores", a, b)
    offense = build_team_offense(sim.fetch("team_boxscores", a, b), players, schedule, 5)
    summary = build_player_game_summary(players, offense, sim.fetch("shot_zones", a, b), schedule, 68)
    return schedule, offense, summary


def test_team_minutes_valid_is_blocking_and_passes_every_date_of_the_clean_season(simulated_season):
    rule = _rule()
    assert rule.blocking and rule.worse == "higher"
    offense, schedule = simulated_season["team_offense_game_summary"], simulated_season["schedule"]
    assert (offense["team_minutes"] > 240).any()  # overtime games are in the season
    dates = pd.date_range(schedule["game_date"].min(), schedule["game_date"].max())
    verdicts = rule.evaluate(_inputs(offense, schedule, dates))
    assert len(verdicts) == len(dates) and verdicts["passed"].all(), verdicts.loc[~verdicts["passed"], "detail"].head().tolist()
    assert (offense["player_minutes_sum"] - offense["team_minutes"]).abs().max() < 1e-6


def test_game_minutes_in_the_team_feed_fail_only_the_affected_date_naming_its_games():
    schedule, offense, summary = _analytics(SimulatorFaults(team_minutes_unit="game_minutes", affected_dates=[BAD]))
    _, clean_offense, clean_summary = _analytics()
    # the defect: usage_rate is a fifth of the truth on the affected date, and all other blocking checks pass
    bad_day = summary["game_date"] == pd.Timestamp(BAD)
    used = bad_day & summary["played"] & (clean_summary["usage_rate"] > 0).fillna(False)
    ratio = (summary["usage_rate"] / clean_summary["usage_rate"])[used].astype(float)
    assert len(ratio) > 20 and ratio.to_numpy() == pytest.approx(0.2)
    inputs = _inputs(offense, schedule, DAYS)
    for rule in checks.TEAM_OFFENSE_RULES:
        if rule.blocking and rule.name != names.TEAM_MINUTES_VALID:
            assert rule.evaluate(inputs)["passed"].all(), rule.name
    # the rule catches it and names every game of the date
    rule = _rule()
    verdicts = rule.evaluate(inputs)
    assert verdicts["passed"].tolist() == [True, False]
    bad_games = schedule.loc[schedule["game_date"] == pd.Timestamp(BAD), "game_id"]
    assert len(bad_games) > 1
    for game in bad_games:
        assert game in verdicts["detail"].iloc[1]
    assert verdicts["value"].iloc[1] == 2 * len(bad_games)  # both team rows of every game
    result = to_check_result(rule, verdicts, inputs.thresholds)
    assert not result.passed and result.metadata["failed_dates"].value == BAD
    assert result.metadata["worst_value"].value == 2 * len(bad_games)


def _frame(team_minutes, player_minutes, pts=100, player_pts=100) -> pd.DataFrame:
    n = len(team_minutes)
    return pd.DataFrame(
        {
            "game_date": pd.Timestamp("2024-01-15"),
            "source_game_id": [f"00223005{i:02d}" for i in range(n)],
            "team_id": 1610612739,
            "team_minutes": pd.array(team_minutes, dtype="Float64"),
            "player_minutes_sum": pd.array(player_minutes, dtype="Float64"),
            "pts": pd.array([pts] * n, dtype="Int64"),
            "player_pts_sum": pd.array([player_pts] * n, dtype="Int64"),
        }
    )


def _bad_rows(frame: pd.DataFrame) -> list[bool]:
    verdicts = _rule().evaluate(_inputs(frame, None, ["2024-01-15"]))
    flagged = verdicts["detail"].iloc[0]
    return [f"{g}/1610612739" in flagged for g in frame["source_game_id"]]


def test_team_minutes_must_be_240_plus_25_per_overtime():
    tol = load_thresholds().team_offense_game_summary.team_minutes_tolerance
    assert 0 < tol < 5
    team = [240, 265, 290, 48, 53, 250, 215, None, 240 + tol / 2]
    assert _bad_rows(_frame(team, [pd.NA] * len(team))) == [False, False, False, True, True, True, True, True, False]


def test_team_minutes_must_match_the_players_when_the_players_reconcile():
    # 265 is a valid overtime length, but this team's players played a regulation game
    assert _bad_rows(_frame([265, 240, 240], [240, 240 + 1 / 60, pd.NA])) == [True, False, False]
    # a player feed that doesn't reconcile on points is judged elsewhere (players_reconcile, usage_rate)
    assert _bad_rows(_frame([265], [240], pts=100, player_pts=90)) == [False]


def test_a_tighter_tolerance_comes_from_the_thresholds_file(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("team_offense_game_summary:\n  team_minutes_tolerance: 0\n")
    frame = _frame([240], [240 + 1 / 60])
    inputs = CheckInputs(frame=frame, dates=[pd.Timestamp("2024-01-15")], thresholds=load_thresholds(f))
    assert not _rule().evaluate(inputs)["passed"].iloc[0]
    assert _rule().evaluate(_inputs(frame, None, ["2024-01-15"]))["passed"].iloc[0]
