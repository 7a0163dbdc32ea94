"""Composite factors on the simulated season: pre-game population, bootstrap dates, context, checks."""

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
        s["player_game_summary"], s["team_defense_game_summary"], s["schedule"], s["injury_report"], s["prop_lines"], DATES
    )


def _verdicts(rule_name, frame, season, reference=None):
    rule = next(r for r in checks.COMPOSITE_FACTOR_RULES if r.name == rule_name)
    schedule = season["schedule"][season["schedule"]["game_date"].isin(DATES)]
    inputs = CheckInputs(frame, DATES, load_thresholds(), schedule, reference or {})
    return rule.evaluate(inputs)


def test_the_pre_game_population_has_every_line_and_the_slates_players(factors, simulated_season):
    """Rows are the slate as known before tip-off (was: every player on the date's box score)."""
    s = simulated_season
    assert not factors.duplicated(["game_date", "player_id"]).any()
    lines = s["prop_lines"][s["prop_lines"]["game_date"].isin(DATES)]
    keys = factors.set_index(["game_date", "player_id"]).index
    assert lines.set_index(["game_date", "player_id"]).index.isin(keys).all()
    assert factors.loc[factors["on_prop_line"], ["game_date", "player_id"]].merge(lines).shape[0] == len(lines)
    schedule = s["schedule"]
    sides = pd.concat([schedule[["game_id", f"{side}_team_id", f"{other}_team_id"]].set_axis(["game_id", "team_id", "opponent_team_id"], axis=1)
                       for side, other in (("home", "away"), ("away", "home"))])
    assert len(factors.merge(sides, on=["game_id", "team_id", "opponent_team_id"])) == len(factors)  # every row on its team's game
    unlined = factors[~factors["on_prop_line"]]
    assert (unlined["last_game_date"].notna() | (unlined["games_before"] == 0)).all()
    # players who played are (almost all) expected before tip-off; the rest are debuts and trades
    pgs = s["player_game_summary"]
    played = pgs[pgs["played"] & pgs["game_date"].isin(DATES)].set_index(["game_date", "player_id"]).index
    assert played.isin(keys).mean() > 0.98


def test_a_date_reads_nothing_of_its_own_box_scores(simulated_season):
    """The rows for a date are identical whether its box scores (and later ones) exist or not."""
    s = simulated_season
    day = pd.Timestamp("2023-12-16")
    pgs, defense = s["player_game_summary"], s["team_defense_game_summary"]
    schedule = s["schedule"]
    pre_game_schedule = schedule.assign(game_status=schedule["game_status"].where(schedule["game_date"] < day, "Scheduled"))
    before = build_player_composite_factors(
        pgs[pgs["game_date"] < day], defense[defense["game_date"] < day], pre_game_schedule, s["injury_report"], s["prop_lines"], [day]
    )
    after = build_player_composite_factors(pgs, defense, schedule, s["injury_report"], s["prop_lines"], [day])
    assert len(before) > 100
    pd.testing.assert_frame_equal(before, after)


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
