"""Rolling windows counted in games, not calendar days, computed for every (key, date) at once.

For each target row (a player or team on a game date) the window is its last N counted games strictly before
that date, inside the same season. The computation is prefix sums over the sorted history: one sort and a few
`searchsorted` calls for the whole range, no per-player or per-date Python loop.

A window is complete only if it holds N games, every one of them passed upstream (`ok`), and every one of them
has all of the window's values (a NULL `pts` on an ok game makes the window incomplete: `missing_value`). An
incomplete window's averages are all NULL and its reason says why — never an average over fewer games than it
claims, and never a NULL average under a complete flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from nba_pipeline.datetimes import to_datetime

_DAY_BITS = 20  # days since 1970 fit in 20 bits until the year 4840
BOOTSTRAP = "bootstrap"
UPSTREAM_FAILED = "upstream_failed"
MISSING_VALUE = "missing_value"


def _days(dates: pd.Series) -> np.ndarray:
    return to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


def game_windows(
    games: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    key: str,
    values: Sequence[str],
    sizes: Mapping[str, int],
    ok: str = "ok",
    halflives: Sequence[float] = (),
) -> pd.DataFrame:
    """Window statistics for `targets` (key, season, game_date) from `games` (key, season, game_date, values, ok).

    `games` holds only the games that count (a DNP is not a game played); `ok` marks the ones that passed upstream.
    Returns, aligned with `targets`: `games_before` (this season), `last_game_date`, `last_<value>`,
    `<value>_season_avg` (over ok games), and per window name in `sizes`: `<w>_games`, `<w>_failed_games`,
    `<w>_is_complete`, `<w>_incomplete_reason`, `<w>_<value>_avg`, `<w>_<value>_std`; per halflife h in
    `halflives`, `<value>_ewma_<h>`: the exponentially weighted mean of the season's usable games before the date,
    weights halving every h games (the latest game weighs most; NULL before the first such game).
    """
    pairs = pd.concat([games[[key, "season"]], targets[[key, "season"]]], ignore_index=True).drop_duplicates()
    index = pd.MultiIndex.from_frame(pairs.astype({key: "int64", "season": "object"}))

    def sort_keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        code = index.get_indexer(pd.MultiIndex.from_frame(frame[[key, "season"]].astype({key: "int64", "season": "object"})))
        return code.astype(np.int64) << _DAY_BITS, (code.astype(np.int64) << _DAY_BITS) + _days(frame["game_date"])

    g = games.assign(_sort=sort_keys(games)[1]).sort_values("_sort", kind="stable")
    g_sort = g["_sort"].to_numpy()
    t_group, t_sort = sort_keys(targets)
    start = np.searchsorted(g_sort, t_group, side="left")  # first game of the target's (key, season)
    pos = np.searchsorted(g_sort, t_sort, side="left")  # first game on or after the target date
    before = pos - start

    good = g[ok].fillna(False).to_numpy(dtype=bool)
    prefix = lambda a: np.concatenate([[0.0], np.cumsum(a, dtype=np.float64)])  # noqa: E731
    failed_prefix = prefix(~good)

    out = pd.DataFrame(index=targets.index)
    out["games_before"] = pd.array(before, dtype="Int64")
    has_last = before > 0
    last = np.maximum(pos - 1, 0)
    g_dates = np.append(to_datetime(g["game_date"]).to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    out["last_game_date"] = np.where(has_last, g_dates[np.where(has_last, last, len(g))], np.datetime64("NaT", "ns"))

    raws = {value: g[value].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan) for value in values}
    lacks = {value: prefix(np.isnan(raw)) for value, raw in raws.items()}  # games lacking this value
    lacks_any = prefix(np.logical_or.reduce([np.isnan(raw) for raw in raws.values()])) if raws else prefix(np.zeros(len(g), bool))

    windows: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # window -> (first game of the window, is complete)
    for window, size in sizes.items():
        lo = np.maximum(pos - size, start)
        in_window = pos - lo
        failed = (failed_prefix[pos] - failed_prefix[lo]).astype(np.int64)
        missing = (lacks_any[pos] - lacks_any[lo]).astype(np.int64)
        complete = (before >= size) & (failed == 0) & (missing == 0)
        lacking = np.full(len(targets), "", dtype=object)  # which values the window's games lack, in `values` order
        for value in values:
            has_gap = lacks[value][pos] - lacks[value][lo] > 0
            lacking = np.where(has_gap, np.where(lacking == "", value, lacking + ", " + value), lacking)
        reason = np.where(
            before < size,
            BOOTSTRAP + ": " + before.astype(str) + f" of {size} games this season",
            np.where(
                failed > 0,
                UPSTREAM_FAILED + ": " + failed.astype(str) + f" of {size} games failed upstream checks",
                np.where(missing > 0, MISSING_VALUE + ": " + missing.astype(str) + f" of {size} games lack " + lacking, ""),
            ),
        )
        out[f"{window}_games"] = pd.array(in_window, dtype="Int64")
        out[f"{window}_failed_games"] = pd.array(failed, dtype="Int64")
        out[f"{window}_is_complete"] = pd.array(complete, dtype="boolean")
        out[f"{window}_incomplete_reason"] = pd.Series(reason, index=targets.index, dtype="string").replace("", pd.NA)
        windows[window] = (lo, complete)

    for value, raw in raws.items():
        usable = good & ~np.isnan(raw)
        filled = np.where(usable, raw, 0.0)
        sums, squares, counts = prefix(filled), prefix(filled**2), prefix(usable)
        last_value = np.append(raw, np.nan)[np.where(has_last, last, len(g))]
        out[f"last_{value}"] = pd.array(last_value, dtype="Float64")
        season_n = counts[pos] - counts[start]
        for halflife in halflives:
            # pandas' grouped EWM (compiled, no per-group Python): a game that is not usable keeps the mean as it was
            code = pd.Series(g["_sort"].to_numpy() >> _DAY_BITS)
            ewma = pd.Series(np.where(usable, raw, np.nan)).groupby(code).ewm(halflife=halflife, ignore_na=True).mean()
            ewma = np.append(ewma.droplevel(0).sort_index().to_numpy(), np.nan)
            out[f"{value}_ewma_{halflife:g}"] = pd.array(np.where(season_n > 0, ewma[np.where(has_last, last, len(g))], np.nan), dtype="Float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{value}_season_avg"] = pd.array(np.where(season_n > 0, (sums[pos] - sums[start]) / season_n, np.nan), dtype="Float64")

        for window, size in sizes.items():
            lo, complete = windows[window]  # complete: `size` ok games, every value present -> all `size` usable
            mean = (sums[pos] - sums[lo]) / size
            var = np.maximum((squares[pos] - squares[lo]) / size - mean**2, 0.0) * size / max(size - 1, 1)
            out[f"{window}_{value}_avg"] = pd.array(np.where(complete, mean, np.nan), dtype="Float64")
            out[f"{window}_{value}_std"] = pd.array(np.where(complete, np.sqrt(var), np.nan), dtype="Float64")
    return out
