"""Turning user-supplied dates into game-date partition keys, strictly.

A partition key is an ISO date (YYYY-MM-DD) inside the partition set. Anything else — a keyword like
"YESTERDAY" that a scheduler forgot to resolve, "2024-13-01", "01/15/2024" — is refused with a message
that says what was expected, so nothing downstream ever runs on an unresolved date.
"""

from __future__ import annotations

import datetime as dt
import re

from nba_pipeline.partitions import FIRST_GAME_DATE

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidGameDate(ValueError):
    """A date or partition key that is not a valid game-date partition."""


def parse_game_date(value: str, *, latest: dt.date | None = None) -> dt.date:
    """Parse a partition key; refuse keywords, other formats and dates outside the partition set."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise InvalidGameDate(
            f"{value!r} is not a game-date partition key: expected an ISO date YYYY-MM-DD "
            f"(keywords such as 'YESTERDAY' must be resolved before they reach the pipeline)"
        )
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as err:
        raise InvalidGameDate(f"{value!r} is not a real calendar date: {err}") from None
    first = dt.date.fromisoformat(FIRST_GAME_DATE)
    if day < first:
        raise InvalidGameDate(f"{value} is before the first partition {FIRST_GAME_DATE}")
    if latest is not None and day > latest:
        raise InvalidGameDate(f"{value} is after the latest partition {latest.isoformat()}")
    return day


def parse_game_date_range(start: str, end: str) -> tuple[dt.date, dt.date]:
    """Parse an inclusive range of partition keys; the end must not precede the start."""
    first, last = parse_game_date(start), parse_game_date(end)
    if last < first:
        raise InvalidGameDate(f"range end {end} precedes range start {start}")
    return first, last
