"""Rules for ml_feature_store: completeness past bootstrap, no feature from the future, one row per player-game."""

from __future__ import annotations

import pandas as pd

from nba_pipeline.checks import names
from nba_pipeline.checks.factories import (
    min_mean,
    no_bad_rows,
    no_duplicate_keys,
    skipping_bootstrap,
)
from nba_pipeline.checks.rules import CheckInputs

FEATURE_COMPLETENESS_RULE = skipping_bootstrap(
    min_mean(
        names.FEATURE_COMPLETENESS,
        "Mean share of v1 features present, over rows past the 10-game bootstrap, is at least the configured floor.",
        "feature_completeness_pct",
        lambda f: ~f["bootstrap"].fillna(True),
        lambda t: t.ml_feature_store.feature_completeness_min_pct,
        unit="%",
    ),
    flag="bootstrap",
)

FEATURE_STORE_RULES = [
    FEATURE_COMPLETENESS_RULE,
    no_bad_rows(
        names.NO_LEAKAGE,
        "Every input row behind a feature is from a game date before the row's own game date.",
        lambda f, _: (f["latest_input_game_date"] >= f["game_date"]).fillna(False),
        ["game_date", "player_id", "latest_input_game_date"],
    ),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_date", "player_id"]),
]


def with_completeness_pct(store: pd.DataFrame) -> pd.DataFrame:
    """The store as its rules read it: completeness as a percentage, like every other threshold."""
    return store.assign(feature_completeness_pct=100 * store["feature_completeness"])


def failing_feature_dates(store: pd.DataFrame, inputs: CheckInputs) -> pd.DataFrame:
    """Verdicts of the completeness rule that failed: what a model must refuse to train on."""
    verdicts = FEATURE_COMPLETENESS_RULE.evaluate(inputs)
    return verdicts[~verdicts["passed"]]
