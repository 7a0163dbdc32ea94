"""The analytics rules on frames built by the transforms: they pass clean data and name what they fail on."""

import datetime as dt

import pandas as pd

from nba_pipeline.analytics import checks
from nba_pipeline.analytics.player_game_summary import build_player_game_summary
from nba_pipeline.analytics.team_offense import build_team_offense
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs, to_check_result
from nba_pipeline.config import load_thresholds
from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults

DAYS = [dt.date(2024, 1, 14), dt.date(2024, 1, 15)]


def _summary(faults=None):
    clean = LeagueSimulator()
    faulty = LeagueSimulator(faults=faults)
    a, b = DAYS
    schedule = clean.fetch("schedule", a, b)
    offense = build_team_offense(clean.fetch("team_boxscores", a, b), clean.fetch("player_boxscores", a, b), schedule, 5)
    frame = build_player_game_summary(faulty.fetch("player_boxscores", a, b), offense, clean.fetch("shot_zones", a, b), schedule, 68)
    return CheckInputs(frame=frame, dates=[pd.Timestamp(d) for d in DAYS], thresholds=load_thresholds(), schedule=schedule)


def _rule(name):
    return next(r for r in checks.PLAYER_GAME_SUMMARY_RULES if r.name == name)


def test_every_player_rule_passes_on_clean_data():
    inputs = _summary()
    for rule in checks.PLAYER_GAME_SUMMARY_RULES:
        assert to_check_result(rule, rule.evaluate(inputs), inputs.thresholds).passed, rule.name


def test_usage_check_fails_only_the_faulty_date_and_names_the_unmatched_ids():
    inputs = _summary(SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=["2024-01-15"]))
    rule = _rule(names.USAGE_RATE_POPULATED)
    verdicts = rule.evaluate(inputs)
    assert verdicts["passed"].tolist() == [True, False]
    assert verdicts["value"].iloc[1] == 0.0
    result = to_check_result(rule, verdicts, inputs.thresholds)
    assert not result.passed
    assert result.metadata["failed_dates"].value == "2024-01-15"
    assert "sr:match:" in result.metadata["failures"].value
    assert result.metadata["threshold"].value == 95.0


def test_partial_id_mismatch_like_the_original_47_percent_bug_fails():
    inputs = _summary(SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores"))
    # every game hit: 0 %; the original bug left 47 % populated — anything under 95 % fails
    verdicts = _rule(names.USAGE_RATE_POPULATED).evaluate(inputs)
    assert not verdicts["passed"].any()
