"""Turning user-supplied dates into game-date partition keys, strictly.

A partition key is an ISO date (YYYY-MM-DD) inside the partition set. Anything else — a keyword like
"YESTERDAY" that a scheduler forgot to resolve, "2024-13-01", "01/15/2024" — is refused with a message
that says what was expected, so nothing downstream ever runs on an unresolved date.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from nba_pipeline.game_date import FIRST_GAME_DATE, GAME_TIMEZONE

EASTERN = ZoneInfo(GAME_TIMEZONE)
DATE_KEYWORDS = {"TODAY": 0, "YESTERDAY": 1}

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


def last_partition_date(now: dt.datetime | None = None) -> dt.date:
    """The last game-date partition that exists: today in US/Eastern (`game_date_partitions` has end_offset=1)."""
    return game_date_for(now or dt.datetime.now(dt.timezone.utc))


def parse_game_date_range(start: str, end: str, *, latest: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Parse an inclusive range of partition keys; the end must not precede the start, and no date may come after
    `latest` (default: the last partition, today's game date) — a later date can never be a partition."""
    latest = latest or last_partition_date()
    first, last = parse_game_date(start, latest=latest), parse_game_date(end, latest=latest)
    if last < first:
        raise InvalidGameDate(f"range end {end} precedes range start {start}")
    return first, last


def game_date_for(moment: dt.datetime) -> dt.date:
    """The game date (US/Eastern calendar day) of an instant: a 10:30 pm ET tip-off, 03:30 UTC the next day,
    belongs to the Eastern day it started on. Naive datetimes are refused: their zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidGameDate(f"{moment.isoformat()} has no time zone; pass an aware datetime (UTC or Eastern)")
    return moment.astimezone(EASTERN).date()


def resolve_partition_key(value: str, now: dt.datetime) -> str:
    """The one place a date keyword becomes a partition key: 'YESTERDAY' / 'TODAY' relative to `now` in US/Eastern;
    an ISO date passes through `parse_game_date`. Anything else is refused."""
    keyword = value.strip().upper() if isinstance(value, str) else value
    if keyword in DATE_KEYWORDS:
        day = game_date_for(now) - dt.timedelta(days=DATE_KEYWORDS[keyword])
        return parse_game_date(day.isoformat()).isoformat()
    return parse_game_date(value).isoformat()
