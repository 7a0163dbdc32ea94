"""Prop lines are history, not state: every change of a number is kept as a snapshot with the time it was posted.

`append_snapshots` turns a fetch into the rows to add (only what changed since the stored snapshots, so
re-fetching an unchanged board writes nothing new); `current_lines` is what every reader uses: per player and
date, the points line as it stands in the latest snapshot."""

from __future__ import annotations

import numpy as np
import pandas as pd

POINTS_MARKET = "player_points"
LINE_KEY = ["game_date", "game_id", "player_id", "market", "sportsbook"]
PRICE = ["line", "over_odds", "under_odds"]


def latest_snapshots(prop_lines: pd.DataFrame) -> pd.DataFrame:
    """Per line key, the most recent snapshot."""
    ordered = prop_lines.sort_values("snapshot_at", kind="stable")
    return ordered.drop_duplicates(LINE_KEY, keep="last")


def append_snapshots(stored: pd.DataFrame, fetched: pd.DataFrame) -> pd.DataFrame:
    """The stored snapshots plus every fetched line whose number or prices differ from its latest stored snapshot
    (or that is new). A fetch never rewrites an earlier snapshot."""
    if stored.empty:
        return fetched.reset_index(drop=True)
    latest = latest_snapshots(stored)[LINE_KEY + PRICE]
    compared = fetched.merge(latest, on=LINE_KEY, how="left", suffixes=("", "_stored"), indicator=True)
    same = (compared["_merge"] == "both").to_numpy()
    for column in PRICE:
        same &= (compared[column] == compared[f"{column}_stored"]).fillna(False).to_numpy(dtype=bool)
    return pd.concat([stored, fetched[~same]], ignore_index=True)


def current_lines(prop_lines: pd.DataFrame) -> pd.DataFrame:
    """Points lines as they stand now: one row per date and player, the latest snapshot's number."""
    points = prop_lines[prop_lines["market"] == POINTS_MARKET]
    return latest_snapshots(points).drop_duplicates(["game_date", "player_id"], keep="last").reset_index(drop=True)


SYNTHETIC, SIMULATED, VENDOR = "synthetic", "simulated", "vendor"
SIMULATED_BOOKS = ("SimBook",)  # the simulator's book (nba_pipeline/simulator/feeds.py)
DEFAULT_PRICE = -110  # when a line has no price: the usual vig, break-even 110/210 = 52.4 %
PLACEHOLDER_MIN_LINES = 20  # a date with fewer lines is too small to call one value a placeholder
PLACEHOLDER_MAX_SHARE = 0.25  # one value on more than this share of a date's lines is a default, not a price


def line_source(sportsbook: pd.Series) -> pd.Series:
    """Where a line came from: `synthetic` (the replay's book, priced from averages), `simulated` (the simulator's
    book) or `vendor` (a real sportsbook, the market). Grading never mixes them."""
    book = sportsbook.astype("string").fillna("")
    return pd.Series(
        np.select([book.str.startswith("synthetic"), book.isin(SIMULATED_BOOKS)], [SYNTHETIC, SIMULATED], VENDOR),
        index=sportsbook.index, dtype="string",
    )


def break_even(american_odds: pd.Series) -> pd.Series:
    """The win probability a bet at these odds needs to break even (-110 -> 0.524; no price -> DEFAULT_PRICE's)."""
    odds = pd.to_numeric(american_odds, errors="coerce").astype(float).fillna(DEFAULT_PRICE).to_numpy()
    return pd.Series(np.where(odds < 0, -odds / (100.0 - odds), 100.0 / (odds + 100.0)), index=american_odds.index)


def placeholder_lines(lines: pd.DataFrame) -> pd.Series:
    """Per line (aligned with `lines`): True where its value is shared by more than PLACEHOLDER_MAX_SHARE of its
    date's and source's lines (at least PLACEHOLDER_MIN_LINES of them) — a default such as 20 for every player, not
    a price: it must not be bet or graded."""
    source = line_source(lines["sportsbook"]) if "sportsbook" in lines else pd.Series(VENDOR, index=lines.index)
    column = "prop_line" if "prop_line" in lines else "line"
    keys = [pd.to_datetime(lines["game_date"]), source]
    date_count = lines.groupby(keys)[column].transform("size")
    value_count = lines.groupby([*keys, lines[column]])[column].transform("size")
    return ((date_count >= PLACEHOLDER_MIN_LINES) & (value_count > PLACEHOLDER_MAX_SHARE * date_count)).fillna(False)
