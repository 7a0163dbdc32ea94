"""The `matches_schema` check of every raw feed, generated from the feed's declared contract (`schemas.RAW_CONTRACTS`).

A row fails when a cell could not be read as its type (the source's text is in the row's `unreadable` column,
see `schemas.conform_raw`), a required value is missing, a number is out of its range, a text is not in its format
or its set of values, or a make exceeds its attempt. The check is blocking: a date with such a row is quarantined,
and the check's detail names each row with what is wrong ("0022300609/1203 (minutes='-26:00' is not a game clock)").

Why not a dataframe-validation library (pandera, Great Expectations): what the pipeline needs from a failure is
a per-game-date verdict that the write-audit-publish step quarantines by and Dagster records per partition; the
project's rule factories (`checks.factories`) already produce exactly that, naming rows. pandera would give
failure cases per (column, index) that still have to be regrouped by date, it casts (and raises on an unreadable
cell) where the raw layer must keep the cell and name it, and it would be a new dependency on every step's path
for what is here a loop over a feed's columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.analytics.box_scores import parse_minutes
from nba_pipeline.checks import names
from nba_pipeline.checks.factories import no_problem_rows
from nba_pipeline.checks.rules import CheckRule
from nba_pipeline.schemas import UNREADABLE, Col


def _shown(values: pd.Series) -> pd.Series:
    return "'" + values.astype("string").fillna("").str.slice(0, 40) + "'"


def _number(values: pd.Series, col: Col) -> pd.Series:
    """The number a range bounds: the value, or for a game-clock text, its minutes."""
    return parse_minutes(values) if col.dtype == schemas.STR else values.astype("Float64")


def schema_problems(frame: pd.DataFrame, contract: Mapping[str, Col]) -> pd.Series:
    """Per row, what breaks the contract ('; '-separated), '' for a row that keeps it."""
    out = pd.Series("", index=frame.index, dtype="string")
    unreadable = frame[UNREADABLE].astype("string").fillna("") if UNREADABLE in frame else pd.Series("", index=frame.index, dtype="string")

    def add(mask: pd.Series, text: Callable[[], pd.Series | str] | str) -> None:
        """`text` (or what it returns: built only when some row has the problem) said on the rows of `mask`."""
        nonlocal out
        mask = mask.astype("boolean").fillna(False).astype(bool)
        if mask.any():
            out = out.where(~mask, out.where(out == "", out + "; ") + (text() if callable(text) else text))

    any_unreadable = bool((unreadable != "").any())
    add(unreadable != "", lambda: "unreadable: " + unreadable)
    for column, col in contract.items():
        values = frame[column]
        absent = values.isna()
        if any_unreadable:  # a value that was unreadable is said once, as unreadable, not also as missing
            absent &= ~unreadable.str.contains(f"(?:^|; ){column}=", regex=True)
        if col.required:
            add(absent, f"{column} missing")
        if col.required_with:
            add(absent & frame[col.required_with].notna(), f"{column} missing though {col.required_with} is given")
        if col.fmt is not None:
            matches = values.astype("string").str.fullmatch(col.fmt.regex)
            add(values.notna() & ~matches.fillna(False), lambda: column + "=" + _shown(values) + f" is not {col.fmt.what}")
        if col.one_of is not None:
            add(values.notna() & ~values.isin(col.one_of), lambda: column + "=" + _shown(values) + f" is not one of {'/'.join(col.one_of)}")
        if col.min is not None or col.max is not None:
            number = _number(values, col)
            low = number < col.min if col.min is not None else False
            high = number > col.max if col.max is not None else False
            add(low | high, lambda: column + "=" + _shown(values) + f" outside {_bound(col.min)}–{_bound(col.max)}")
        for other in col.at_most:
            add(values > frame[other], lambda: column + "=" + values.astype("string") + f" > {other}=" + frame[other].astype("string"))
    return out


def _bound(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def matches_schema(feed: str, label_columns: list[str]) -> CheckRule:
    contract = schemas.RAW_CONTRACTS[feed]
    return no_problem_rows(
        names.MATCHES_SCHEMA,
        f"Every value keeps the {feed} contract (schemas.RAW_CONTRACTS): readable as its type, present where "
        "required, in range (player minutes 0–70, no negative counts), in its format (ids, names, codes), makes "
        "never above attempts. Failures name the rows and what is wrong.",
        lambda f: schema_problems(f, contract),
        label_columns,
    )
