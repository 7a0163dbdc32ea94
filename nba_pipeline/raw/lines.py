"""Prop lines are history, not state: every change of a number is kept as a snapshot with the time it was posted.

`append_snapshots` turns a fetch into the rows to add (only what changed since the stored snapshots, so
re-fetching an unchanged board writes nothing new); `current_lines` is what every reader uses: per player and
date, the platform's points line as it stands in the latest snapshots — one configured book's, or the consensus
of every book (`platform_lines`) — with the vig removed to give the market's implied probability of the over."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_pipeline.datetimes import to_datetime

POINTS_MARKET = "player_points"
LINE_KEY = ["game_date", "game_id", "player_id", "market", "sportsbook"]
PRICE = ["line", "over_odds", "under_odds"]
IMPLIED_OVER = "implied_over_probability"  # the over's probability with the vig removed (over and under sum to 1)
CONSENSUS = "consensus"


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


def american_probability(odds: pd.Series) -> pd.Series:
    """The probability an American price implies, vig included: -150 -> 0.6, +130 -> 0.435. 0 or NULL -> NULL."""
    o = pd.to_numeric(odds, errors="coerce").astype("Float64")
    return pd.Series(np.where(o < 0, -o / (-o + 100), 100 / (o + 100)), index=odds.index, dtype="Float64").where(o.fillna(0) != 0)


def no_vig_over(over_odds: pd.Series, under_odds: pd.Series) -> pd.Series:
    """The over's probability with the book's margin removed (proportionally: p_over / (p_over + p_under))."""
    over, under = american_probability(over_odds), american_probability(under_odds)
    return over / (over + under)


def platform_lines(prop_lines: pd.DataFrame, book: str | None = None) -> pd.DataFrame:
    """One points line per date and player, from each book's latest snapshot: `book`'s, or (None) the consensus.

    The consensus line is the number most books post (ties: the one nearest the median of all books' numbers, then
    the lower); its prices are the median prices and its implied probability the mean no-vig probability of the
    books posting that number; `snapshot_at` is the latest of those books' snapshots. A player with one book gets
    that book's line. Rows without a player id (a vendor name matched to no NBA.com player: the `vendor_names_matched`
    check names them) are not lines anyone can predict and are left out here."""
    latest = latest_snapshots(prop_lines[(prop_lines["market"] == POINTS_MARKET) & prop_lines["player_id"].notna()])
    latest = latest.assign(**{IMPLIED_OVER: no_vig_over(latest["over_odds"], latest["under_odds"])})
    key = ["game_date", "player_id"]
    if book is not None:
        return latest[latest["sportsbook"] == book].drop_duplicates(key, keep="last").reset_index(drop=True)
    if latest.empty:
        return latest.reset_index(drop=True)
    grouped = latest.groupby(key)["line"]
    votes = latest.assign(
        _books=latest.groupby([*key, "line"])["line"].transform("size"),
        _distance=(latest["line"] - grouped.transform("median")).abs(),
    )
    chosen = votes.sort_values(["_books", "_distance", "line"], ascending=[False, True, True], kind="stable").drop_duplicates(key)
    at_line = votes.merge(chosen[[*key, "line"]], on=[*key, "line"])
    agreed = at_line.groupby(key, as_index=False).agg(
        over_odds=("over_odds", "median"),
        under_odds=("under_odds", "median"),
        **{IMPLIED_OVER: (IMPLIED_OVER, "mean")},
        snapshot_at=("snapshot_at", "max"),
        books=("sportsbook", "nunique"),
    )
    first = chosen.drop(columns=["over_odds", "under_odds", IMPLIED_OVER, "snapshot_at", "_books", "_distance"])
    out = first.merge(agreed, on=key)
    one_book = out["books"] == 1
    out["sportsbook"] = out["sportsbook"].where(one_book, CONSENSUS + " of " + out["books"].astype(str) + " books")
    out = out.astype({"over_odds": "Float64", "under_odds": "Float64"}).round({"over_odds": 0, "under_odds": 0})
    out = out.astype({"over_odds": "Int64", "under_odds": "Int64"})
    return out.drop(columns="books")[[*latest.columns]].reset_index(drop=True)


def current_lines(prop_lines: pd.DataFrame, book: str | None = None) -> pd.DataFrame:
    """Points lines as they stand now: one row per date and player (`platform_lines`: `book`'s, else the consensus),
    with the market's no-vig implied probability of the over."""
    return platform_lines(prop_lines, book)


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
    keys = [to_datetime(lines["game_date"]), source]
    date_count = lines.groupby(keys)[column].transform("size")
    value_count = lines.groupby([*keys, lines[column]])[column].transform("size")
    return ((date_count >= PLACEHOLDER_MIN_LINES) & (value_count > PLACEHOLDER_MAX_SHARE * date_count)).fillna(False)
