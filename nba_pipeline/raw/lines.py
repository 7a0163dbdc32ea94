"""Prop lines are history, not state: every change of a number is kept as a snapshot with the time it was posted.

`append_snapshots` turns a fetch into the rows to add (only what changed since the stored snapshots, so
re-fetching an unchanged board writes nothing new); `current_lines` is what every reader uses: per player and
date, the points line as it stands in the latest snapshot."""

from __future__ import annotations

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
