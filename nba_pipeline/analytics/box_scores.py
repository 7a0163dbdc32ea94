"""Reading box-score values the way every source writes them: minutes strings and stat sanity."""

from __future__ import annotations

import numpy as np
import pandas as pd


def parse_minutes(values: pd.Series) -> pd.Series:
    """Minutes as a float: '34:12' → 34.2, '265:00' → 265.0, 29 → 29.0; blanks and garbage → NA."""
    text = values.astype("string").str.strip()
    clock = text.str.extract(r"^(?P<m>\d{1,3}):(?P<s>\d{1,2})(?:\.\d+)?$")
    whole = pd.to_numeric(text.where(text.str.fullmatch(r"\d{1,3}(?:\.\d+)?").fillna(False)), errors="coerce")
    from_clock = clock["m"].astype("Float64") + clock["s"].astype("Float64") / 60
    minutes = from_clock.fillna(pd.Series(whole, index=values.index).astype("Float64"))
    return minutes.astype("Float64")


def impossible_stats(box: pd.DataFrame, max_minutes: float | None = None) -> pd.Series:
    """Rows whose numbers cannot be true: negatives, more makes than attempts, points that don't add up."""
    counts = ["fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "ast", "stl", "blk", "tov", "pf", "pts"]
    bad = pd.Series(False, index=box.index)
    for col in counts:
        bad |= (box[col] < 0).fillna(False)
    bad |= (box["fgm"] > box["fga"]).fillna(False)
    bad |= (box["fg3m"] > box["fg3a"]).fillna(False)
    bad |= (box["ftm"] > box["fta"]).fillna(False)
    bad |= (box["fg3a"] > box["fga"]).fillna(False)
    bad |= (box["fg3m"] > box["fgm"]).fillna(False)
    bad |= (box["pts"] != 2 * box["fgm"] + box["fg3m"] + box["ftm"]).fillna(False)
    if max_minutes is not None:
        bad |= (parse_minutes(box["minutes"]) > max_minutes).fillna(False)
    return bad.astype(bool)


def safe_ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as Float64, NA where the denominator is zero or missing."""
    num = numerator.astype("Float64")
    den = denominator.astype("Float64")
    return (num / den.where(den != 0)).astype("Float64").replace([np.inf, -np.inf], pd.NA)
