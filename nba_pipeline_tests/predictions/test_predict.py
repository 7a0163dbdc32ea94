"""Predictions from real walk-forward models on the simulated season: P(OVER), calls only past the price's break-even,
line sources, placeholder lines refused."""

import numpy as np
import pandas as pd
import pytest

from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs
from nba_pipeline.config import load_thresholds
from nba_pipeline.ml.features import build_feature_store, with_labels
from nba_pipeline.ml.model import train_walk_forward
from nba_pipeline.precompute.composite_factors import build_player_composite_factors
from nba_pipeline.precompute.daily_cache import build_player_daily_cache
from nba_pipeline.predictions.checks import PREDICTION_RULES
from nba_pipeline.predictions.predict import PLACEHOLDER, predict_props
from nba_pipeline.raw.lines import break_even, current_lines

DATES = list(pd.date_range("2023-11-01", "2023-12-20"))
LATE = pd.Timestamp("2023-12-20")


@pytest.fixture(scope="module")
def setting(simulated_season):
    s = simulated_season
    factors = build_player_composite_factors(
        s["player_game_summary"], s["team_defense_game_summary"], s["schedule"], s["injury_report"], s["prop_lines"], DATES
    )
    features = build_feature_store(build_player_daily_cache(factors, s["injury_report"], s["prop_lines"]))
    models = train_walk_forward(with_labels(features[features["game_date"] < LATE], s["player_game_summary"]), workers=1)
    lines = current_lines(s["prop_lines"])
    return lines[lines["game_date"] == LATE].reset_index(drop=True), features[features["game_date"] == LATE], models


def test_a_call_is_made_only_where_its_probability_clears_the_break_even(setting):
    lines, features, models = setting
    p = predict_props(lines, features, models, 1.0, run_id="r")
    assert len(p) == len(lines) and (p["line_source"] == "simulated").all() and not p["placeholder_line"].any()
    known = p["predicted_points"].notna()
    assert known.all() and p["p_over"].between(0, 1, inclusive="neither").all()
    over, under = p["recommendation"] == "OVER", p["recommendation"] == "UNDER"
    assert over.any() and under.any() and (p["recommendation"] == "PASS").any()
    assert (p.loc[over, "p_over"] >= p.loc[over, "break_even"]).all() and (p.loc[over, "edge"] >= 1.0).all()
    assert (1 - p.loc[under, "p_over"] >= p.loc[under, "break_even"]).all() and (p.loc[under, "edge"] <= -1.0).all()
    # the break-even is that of the called side's own price (the simulated book prices each side)
    assert np.allclose(p.loc[over, "break_even"], break_even(p.loc[over, "over_odds"]))
    assert np.allclose(p.loc[under, "break_even"], break_even(p.loc[under, "under_odds"]))
    cleared = (p["p_over"] >= break_even(p["over_odds"])) & (p["edge"] >= 1.0)
    assert (over == cleared).all()
    # the confidence is the called side's probability
    assert np.allclose(p.loc[under, "confidence"], 1 - p.loc[under, "p_over"])
    # a better price lowers the bar: more OVER calls at +150 (break-even 40 %), with no minimum edge
    overs = lambda frame: (predict_props(frame, features, models, 0.0, run_id="r")["recommendation"] == "OVER").sum()  # noqa: E731
    assert overs(lines.assign(over_odds=150)) > overs(lines) >= over.sum()


def test_a_placeholder_board_is_never_called_and_its_check_fails(setting):
    lines, features, models = setting
    p = predict_props(lines.assign(line=20.0), features, models, 1.0, run_id="r")
    assert p["placeholder_line"].all() and (p["recommendation"] == "PASS").all()
    assert (p["no_prediction_reason"] == PLACEHOLDER).all()
    rule = next(r for r in PREDICTION_RULES if r.name == names.NO_PLACEHOLDER_LINES)
    verdict = rule.evaluate(CheckInputs(frame=p, dates=[LATE], thresholds=load_thresholds()))
    assert not verdict["passed"].any() and rule.blocking
    fine = predict_props(lines, features, models, 1.0, run_id="r")
    assert rule.evaluate(CheckInputs(frame=fine, dates=[LATE], thresholds=load_thresholds()))["passed"].all()
