"""Composite factors on the simulated season: population, bootstrap dates, context, checks."""

import json

import pandas as pd
import pytest

from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs
from nba_pipeline.config import load_thresholds
from nba_pipeline.precompute import checks
from nba_pipeline.precompute.composite_factors import (
    build_player_composite_factors,
    missing_history,
)

DATES = list(pd.date_range("2023-10-24", "2023-12-15"))


@pytest.fixture(scope="module")
def factors(simulated_season):
    s = simulated_season
    return build_player_composite_factors(
        s["player_game_summary"], s["team_defense_game_summary"], s["schedule"], s["injury_report"], DATES
    )


def _verdicts(rule_name, frame, season, reference=None):
    rule = next(r for r in checks.COMPOSITE_FACTOR_RULES if r.name == rule_name)
    schedule = season["schedule"][season["schedule"]["game_date"].isin(DATES)]
    inputs = CheckInputs(frame, DATES, load_thresholds(), schedule, reference or {})
    return rule.evaluate(inputs)


def test_every_player_on_a_box_score_has_one_row(factors, simulated_season):
    pgs = simulated_season["player_game_summary"]
    expected = pgs[pgs["game_date"].isin(DATES)][["game_date", "player_id"]]
    assert len(factors) == len(expected)
    assert not factors.duplicated(["game_date", "player_id"]).any()


def test_the_first_week_is_a_bootstrap_skip_and_later_dates_are_not(factors):
    per_date = factors.groupby("game_date")["bootstrap_date"].first()
    assert per_date.loc["2023-10-24"] and per_date.loc["2023-10-27"]
    assert not per_date.loc["2023-11-15":].any()
    assert factors.loc[factors["bootstrap_date"], "avg_usage_rate_last_7_games"].isna().all()


def test_usage_average_equals_the_players_last_seven_games(factors, simulated_season):
    pgs = simulated_season["player_game_summary"]
    row = factors[factors["l7_is_complete"]].iloc[500]
    history = pgs[(pgs["player_id"] == row["player_id"]) & pgs["played"] & (pgs["game_date"] < row["game_date"])]
    assert row["avg_usage_rate_last_7_games"] == pytest.approx(history.sort_values("game_date")["usage_rate"].tail(7).mean())
    context = json.loads(row["usage_context_json"])
    assert context["rest_days"] == (row["game_date"] - history["game_date"].max()).days
    assert context["teammates_out"] == row["teammates_out"]


def test_spike_and_projection_only_where_the_window_is_complete(factors):
    assert (factors["projected_usage_rate"].notna() == factors["l7_is_complete"]).all()
    assert (factors["usage_spike_score"].notna() == factors["l7_is_complete"]).all()
    assert (factors["opponent_last_game_date"].dropna() < factors.loc[factors["opponent_last_game_date"].notna(), "game_date"]).all()


def test_checks_pass_on_clean_data_and_report_bootstrap_dates(factors, simulated_season):
    verdicts = _verdicts(names.USAGE_L7_POPULATED, factors, simulated_season)
    assert verdicts["passed"].all()
    assert (verdicts["detail"] == "skipped: bootstrap").sum() >= 5


def test_a_window_claiming_more_than_it_counted_fails_the_honesty_check(factors, simulated_season):
    lying = factors.copy()
    victim = lying.index[lying["l7_games"] < 7][0]
    lying.loc[victim, "avg_usage_rate_last_7_games"] = 20.0  # an average over fewer games than it claims
    verdicts = _verdicts(names.WINDOWS_HONEST, lying, simulated_season)
    assert (~verdicts["passed"]).sum() == 1
    assert str(lying.loc[victim, "player_id"]) in verdicts.loc[~verdicts["passed"], "detail"].iloc[0]


def test_missing_history_is_named(simulated_season):
    pgs = simulated_season["player_game_summary"]
    dropped = pgs[pgs["game_date"] != pd.Timestamp("2023-11-01")]
    missing = missing_history(simulated_season["schedule"], dropped, [pd.Timestamp("2023-11-01"), pd.Timestamp("2023-11-20")])
    assert missing.iloc[0] == ""
    gone = simulated_season["schedule"].loc[simulated_season["schedule"]["game_date"] == "2023-11-01", "game_id"]
    assert set(missing.iloc[1].split(", ")) == set(gone)


def test_dates_never_materialized_are_named_and_off_season_dates_need_nothing():
    from nba_pipeline.precompute.composite_factors import unmaterialized_history

    stored = {f"2023-10-{d}" for d in range(24, 32)} | {"2023-11-01"}
    out = unmaterialized_history(stored, [pd.Timestamp("2023-11-02"), pd.Timestamp("2023-11-05"), pd.Timestamp("2023-08-01")])
    assert out.iloc[0] == "" and out.iloc[2] == ""
    assert out.iloc[1] == "3 date(s): 2023-11-02..2023-11-04"
