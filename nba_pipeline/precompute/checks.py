"""Rules for player_composite_factors: populated windows, honest window sizes, every lined player present, full history."""

from __future__ import annotations

import pandas as pd

from nba_pipeline.checks import names
from nba_pipeline.checks.factories import (
    expected_rows,
    min_share,
    no_bad_rows,
    no_duplicate_keys,
    skipping_bootstrap,
)
from nba_pipeline.checks.rules import CheckInputs, CheckRule, verdicts_by_date
from nba_pipeline.precompute.composite_factors import SCORING_WINDOWS, USAGE_WINDOW

MISSING_HISTORY = "missing_history"  # reference frame: game_date, missing_history_games, unmaterialized_dates
PROP_LINES = "prop_lines"  # reference frame: the date's points lines (known before tip-off)


def _window_lies(f: pd.DataFrame, _) -> pd.Series:
    """A value whose window is incomplete, a complete flag on a window shorter than its size, or a NULL average
    under a complete flag (a complete window has all its games and every value in them)."""
    windows = [("l7", USAGE_WINDOW, "avg_usage_rate_last_7_games")] + [
        (w, n, f"{stat}_avg_last_{n}") for w, n in SCORING_WINDOWS.items() for stat in ("points", "minutes")
    ]
    bad = pd.Series(False, index=f.index)
    for window, size, value in windows:
        complete = f[f"{window}_is_complete"].fillna(False)
        bad |= (f[value].notna() & ~complete) | (complete & (f[f"{window}_games"] != size)).fillna(True)
        bad |= complete & f[value].isna()
    return bad


def _history_complete(inputs: CheckInputs) -> pd.DataFrame:
    missing = inputs.reference[MISSING_HISTORY].reset_index(drop=True)
    games = missing["missing_history_games"].fillna("")
    partitions = missing["unmaterialized_dates"].fillna("")
    detail = ("player_game_summary never materialized for " + partitions).where(partitions != "", "")
    detail = detail.str.cat(("games this season without player rows: " + games).where(games != "", ""), sep="; ").str.strip("; ")
    per_date = pd.DataFrame(
        {
            "game_date": missing["game_date"],
            "rows": inputs.frame.groupby("game_date").size().reindex(missing["game_date"], fill_value=0).to_numpy(),
            "value": (detail != "").astype(int),
            "passed": detail == "",
            "detail": detail,
        }
    )
    return verdicts_by_date(per_date, inputs)


COMPOSITE_FACTOR_RULES = [
    skipping_bootstrap(
        min_share(
            names.USAGE_L7_POPULATED,
            "avg_usage_rate_last_7_games is populated for at least the configured share of rows whose player has "
            "played 7 games this season.",
            lambda f: f["avg_usage_rate_last_7_games"].notna(),
            lambda f: f["games_before"] >= USAGE_WINDOW,
            lambda t: t.player_composite_factors.usage_l7_populated_min_pct,
            game_column="game_id",
        )
    ),
    no_bad_rows(
        names.WINDOWS_HONEST,
        "No window average is computed from fewer games than it claims; complete flags match the games counted, "
        "and a complete window has its average.",
        _window_lies,
        ["game_id", "player_id"],
    ),
    expected_rows(
        names.EVERY_PLAYER_HAS_ROW,
        "Every player with a points line on the date has a row (the pre-game population includes every line).",
        PROP_LINES,
        ["game_date", "player_id"],
    ),
    CheckRule(
        names.HISTORY_COMPLETE,
        "Every earlier date of the season was materialized and every final game has player rows, so no window "
        "silently skips a game.",
        _history_complete,
        worse="higher",  # value: 1 when the date's history has gaps
    ),
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_date", "player_id"]),
]

DAILY_CACHE_RULES = [
    no_duplicate_keys(names.NO_DUPLICATE_KEYS, ["game_date", "player_id"]),
    expected_rows(names.EVERY_PROP_LINE_HAS_ROW, "Every player with a points line has a row.", PROP_LINES, ["game_date", "player_id"]),
]
