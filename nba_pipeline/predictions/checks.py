"""Rules for predictions (one per points line, each with a number, no placeholder line) and grading (final games get
graded)."""

from __future__ import annotations

from nba_pipeline.checks import names
from nba_pipeline.checks.factories import (
    expected_rows,
    min_share,
    no_bad_rows,
    no_duplicate_keys,
)

PROP_LINES = "prop_lines"  # reference frame: the date's points lines

PREDICTION_RULES = [
    expected_rows(names.ONE_PREDICTION_PER_PROP, "Every player with a points line has a prediction row.", PROP_LINES, ["game_date", "player_id"]),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_date", "player_id"]),
    no_bad_rows(
        names.PREDICTION_MADE,
        "Every row with a model trained before its date carries a predicted number (a player without features is "
        "named, not guessed). Dates before the first walk-forward cutoff have no model and say so in "
        "no_prediction_reason.",
        lambda f, _: f["predicted_points"].isna() & f["model_version"].notna(),
        ["game_id", "player_id"],
    ),
    no_bad_rows(
        names.NO_PLACEHOLDER_LINES,
        "No points line is a placeholder: one value shared by more than a quarter of a date's lines from one source "
        "(at least 20 of them) is a default such as 20 for every player, not a price (raw.lines.placeholder_lines); "
        "such a date is refused, its lines neither bet nor graded.",
        lambda f, _: f["placeholder_line"],
        ["game_date", "player_id", "prop_line"],
    ),
]

GRADING_RULES = [
    min_share(
        names.GRADING_COVERAGE,
        "At least the configured share of predictions whose game is final are graded.",
        lambda f: f["graded"],
        lambda f: f["game_final"],
        lambda t: t.prediction_grading.graded_min_pct,
        game_column="game_id",
    ),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_date", "player_id"]),
]
