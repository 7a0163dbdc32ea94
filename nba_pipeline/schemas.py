"""Column contracts of every table, and `conform`, which enforces them at the edges (sources and transforms).

A frame that lacks a column, or whose values cannot take the declared type, is an error — never a table with a
silently different shape. An empty frame still carries its columns and types, so an off-day partition writes
a correctly typed zero-row slice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from nba_pipeline.datetimes import to_datetime

DATE = "datetime64[ns]"
INT = "Int64"
FLOAT = "Float64"
STR = "string"
BOOL = "boolean"

UNREADABLE = "unreadable"  # raw tables: the cells a source sent that could not be read as their column's type


@dataclass(frozen=True)
class Format:
    """A text format a raw column must match in full: `what` says it in words for a failed check."""

    what: str
    regex: str


@dataclass(frozen=True)
class Col:
    """One raw column's contract. NULL is allowed unless `required` (or unless `required_with` is not NULL);
    `min`/`max` bound a number, or for a text column with a `fmt`, the minutes its game clock reads."""

    dtype: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    fmt: Format | None = None
    one_of: tuple[str, ...] | None = None
    at_most: tuple[str, ...] = ()  # columns this one never exceeds (makes <= attempts)
    required_with: str | None = None  # NULL only where this other column is NULL too (a DNP row has no stats)


# Every form a source spells a game id in (normalised in analytics, which warns about non-canonical forms); no
# whitespace or markup.
GAME_ID_TEXT = Format("a game id", r"[A-Za-z0-9_:@.\-]{1,40}")
# What `analytics.box_scores.parse_minutes` reads: '34:12', '34:12.0', '29', '29.5'.
CLOCK = Format("a game clock (M:SS or whole minutes)", r"\d{1,3}:[0-5]?\d(?:\.\d+)?|\d{1,3}(?:\.\d+)?")
# Letters in any script, then letters, spaces, apostrophes, periods, hyphens ('De\'Aaron Fox', 'Nikola Vučević').
PERSON_NAME = Format("a person's name", r"[^\W\d_](?:[^\W\d_]|[ '’.\-]){0,63}")
TRICODE = Format("a three-letter team code", r"[A-Z]{3}")
SEASON_LABEL = Format("a season label like 2023-24", r"\d{4}-\d{2}")
# The simulator's officials are 'Official 154': digits may follow the first letter.
OFFICIAL_NAME = Format("an official's name", r"[^\W\d_](?:[^\W_]|[ '’.\-]){0,63}")
POSITION = Format("a starting position (F, C, G or empty)", r"[A-Z]{0,2}")
PLAIN_TEXT = Format("plain text (no markup)", r"[^<>]{0,200}")

_GAME = {"game_id": Col(STR, required=True, fmt=GAME_ID_TEXT), "game_date": Col(DATE, required=True)}
_TEAM = {"team_id": Col(INT, required=True, min=1), "team_abbreviation": Col(STR, required=True, fmt=TRICODE)}


def _box_stats(required_with: str | None) -> dict[str, Col]:
    count = lambda *at_most: Col(INT, min=0, at_most=at_most, required_with=required_with, required=required_with is None)  # noqa: E731
    stats = {
        "fgm": count("fga"), "fga": count(), "fg3m": count("fg3a", "fgm"), "fg3a": count("fga"), "ftm": count("fta"),
        "fta": count(), "oreb": count(), "dreb": count(), "reb": count(), "ast": count(), "stl": count(), "blk": count(),
        "tov": count(), "pf": count(), "pts": count(),
        "plus_minus": Col(INT, min=-100, max=100, required_with=required_with, required=required_with is None),
    }
    return stats


_PLAYER_STATS = _box_stats(required_with="minutes")
BOX_STAT_COLUMNS = tuple(_PLAYER_STATS)

SCHEDULE_CONTRACT = {
    **_GAME,
    "season": Col(STR, required=True, fmt=SEASON_LABEL),
    "tipoff_et": Col(DATE),  # the replay's files have no tip-off times
    "home_team_id": Col(INT, required=True, min=1),
    "home_team": Col(STR, required=True, fmt=TRICODE),
    "away_team_id": Col(INT, required=True, min=1),
    "away_team": Col(STR, required=True, fmt=TRICODE),
    "game_status": Col(STR, required=True, one_of=("Scheduled", "In Progress", "Final")),
}
PLAYER_BOXSCORES_CONTRACT = {
    **_GAME,
    **_TEAM,
    "player_id": Col(INT, required=True, min=1),
    "player_name": Col(STR, required=True, fmt=PERSON_NAME),
    "start_position": Col(STR, fmt=POSITION),
    "comment": Col(STR, fmt=PLAIN_TEXT),
    "minutes": Col(STR, fmt=CLOCK, min=0, max=70),  # NULL: did not play (the comment says why)
    **_PLAYER_STATS,
}
TEAM_BOXSCORES_CONTRACT = {
    **_GAME,
    **_TEAM,
    # 240 player-minutes, +25 per overtime; loose on purpose: a feed in game minutes (48) is judged downstream
    # by team_minutes_valid, which says which unit it found.
    "minutes": Col(STR, required=True, fmt=CLOCK, min=0, max=400),
    **_box_stats(required_with=None),
    "tov": Col(INT, min=0),  # unknown in the replay's files: NULL, never the players' sum
}
SHOT_ZONES_CONTRACT = {
    **_GAME,
    "team_id": Col(INT, required=True, min=1),
    "player_id": Col(INT, required=True, min=1),
    **{f"{zone}_{stat}": Col(INT, required=True, min=0, at_most=(f"{zone}_fga",) if stat == "fgm" else ())
       for zone in ("paint", "mid", "three") for stat in ("fga", "fgm")},
}
INJURY_REPORT_CONTRACT = {
    **_GAME,
    **_TEAM,
    "player_id": Col(INT, required=True, min=1),
    "player_name": Col(STR, required=True, fmt=PERSON_NAME),
    "status": Col(STR, required=True, one_of=("Out", "Doubtful", "Questionable", "Probable", "Available")),
    "reason": Col(STR, fmt=PLAIN_TEXT),
    "report_at": Col(DATE, required=True),  # Eastern time of the report version the row is from (a newer version supersedes it)
}
PROP_LINES_CONTRACT = {
    **_GAME,
    # NULL: the vendor's name matched no NBA.com player, or several; the row is kept and the `vendor_names_matched`
    # warning names it (one unknown name must not quarantine the date's other lines)
    "player_id": Col(INT, min=1),
    "player_name": Col(STR, required=True, fmt=PERSON_NAME),
    "team_abbreviation": Col(STR, fmt=TRICODE, required_with="player_id"),
    "market": Col(STR, required=True, fmt=Format("a market name", r"[a-z_]{1,40}")),
    "line": Col(FLOAT, required=True, min=0),
    "over_odds": Col(INT, required=True),
    "under_odds": Col(INT, required=True),
    "sportsbook": Col(STR, required=True, fmt=PLAIN_TEXT),
    "snapshot_at": Col(DATE, required=True),  # Eastern time the book posted this number (the fetch time, for a source that does not say)
}
REFEREE_ASSIGNMENTS_CONTRACT = {
    **_GAME,
    "official_id": Col(INT, required=True, min=1),
    "official_name": Col(STR, required=True, fmt=OFFICIAL_NAME),
    "role": Col(STR, required=True, one_of=("Crew Chief", "Referee", "Umpire")),
}
RAW_CONTRACTS: dict[str, dict[str, Col]] = {
    "schedule": SCHEDULE_CONTRACT,
    "player_boxscores": PLAYER_BOXSCORES_CONTRACT,
    "team_boxscores": TEAM_BOXSCORES_CONTRACT,
    "shot_zones": SHOT_ZONES_CONTRACT,
    "injury_report": INJURY_REPORT_CONTRACT,
    "prop_lines": PROP_LINES_CONTRACT,
    "referee_assignments": REFEREE_ASSIGNMENTS_CONTRACT,
}


def _dtypes(contract: Mapping[str, Col]) -> dict[str, str]:
    return {**{c: col.dtype for c, col in contract.items()}, UNREADABLE: STR}


RAW_SCHEMAS: dict[str, dict[str, str]] = {feed: _dtypes(contract) for feed, contract in RAW_CONTRACTS.items()}
SCHEDULE, PLAYER_BOXSCORES, TEAM_BOXSCORES, SHOT_ZONES, INJURY_REPORT, PROP_LINES, REFEREE_ASSIGNMENTS = RAW_SCHEMAS.values()

# The leading columns of every player-per-game-date table downstream of analytics.
PLAYER_GAME_KEYS = {
    "game_id": STR,
    "game_date": DATE,
    "season": STR,
    "player_id": INT,
    "player_name": STR,
    "team_id": INT,
}


class SchemaError(ValueError):
    """A frame does not match its table's column contract."""


def _read(values: pd.Series, dtype: str) -> tuple[pd.Series, pd.Series]:
    """`values` as `dtype`, and which non-NULL cells could not be read (those are NULL in the result)."""
    try:  # the exact cast first: clean data (ids beyond 2**53 included) never goes through floats
        return (to_datetime(values).astype(DATE) if dtype == DATE else values.astype(dtype)), pd.Series(False, index=values.index)
    except (TypeError, ValueError, OverflowError):
        pass
    if dtype == DATE:
        read = to_datetime(values, errors="coerce").astype(DATE)
        bad = values.notna() & read.isna()
    elif dtype in (INT, FLOAT):
        number = pd.to_numeric(values.astype(object).where(values.notna(), None), errors="coerce")
        bad = values.notna() & (number.isna() | ((number % 1 != 0) if dtype == INT else False))
        read = number.where(~bad).astype(dtype)
    else:
        return values.astype(dtype), pd.Series(False, index=values.index)  # raises the cast's own error
    return read, bad.astype(bool)


def _shown(values: pd.Series) -> pd.Series:
    return "'" + values.astype("string").fillna("").str.slice(0, 40) + "'"


def conform(df: pd.DataFrame, schema: Mapping[str, str], table: str) -> pd.DataFrame:
    """Select the schema's columns in order and cast them; name the table, column and rows on any mismatch.
    A raw table's `unreadable` column is filled with '' when the frame has none."""
    if UNREADABLE in schema and UNREADABLE not in df.columns:
        df = df.assign(**{UNREADABLE: ""})
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise SchemaError(f"{table}: missing column(s) {missing}")
    out = {}
    for column, dtype in schema.items():
        values = df[column]
        try:
            out[column], bad = _read(values, dtype)
        except (TypeError, ValueError) as err:
            raise SchemaError(f"{table}.{column}: cannot be read as {dtype}: {err}") from None
        if bad.any():
            rows = ", ".join(f"row {i}: {v}" for i, v in _shown(values[bad]).head(3).items())
            raise SchemaError(f"{table}.{column}: {int(bad.sum())} value(s) cannot be read as {dtype} ({rows})")
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def conform_raw(df: pd.DataFrame, feed: str) -> pd.DataFrame:
    """A raw feed in its schema, where a cell that cannot take its column's type is NULL and named in the row's
    `unreadable` column ("pts='abc'"), so the feed's `matches_schema` check fails that row's date by name instead
    of the fetch failing every date, or the value passing as a silent NULL."""
    schema = RAW_SCHEMAS[feed]
    if UNREADABLE not in df.columns:
        df = df.assign(**{UNREADABLE: ""})
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise SchemaError(f"{feed}: missing column(s) {missing}")
    out, unreadable = {}, df[UNREADABLE].astype("string").fillna("")
    for column, dtype in schema.items():
        if column == UNREADABLE:
            continue
        try:
            out[column], bad = _read(df[column], dtype)
        except (TypeError, ValueError) as err:
            raise SchemaError(f"{feed}.{column}: cannot be read as {dtype}: {err}") from None
        if bad.any():
            note = (column + "=" + _shown(df[column])).where(bad, "")
            unreadable = unreadable.where(~bad | (unreadable == ""), unreadable + "; ") + note
    out[UNREADABLE] = unreadable
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def empty(schema: Mapping[str, str], table: str) -> pd.DataFrame:
    return conform(pd.DataFrame({c: [] for c in schema}), schema, table)
