"""Regular-season calendars: which Eastern dates can hold games, and which season a date belongs to.

Windows never cross a season boundary, so the season of a game date is a fact the whole pipeline shares.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import pandas as pd

from nba_pipeline.datetimes import to_datetime


@dataclass(frozen=True)
class Season:
    label: str  # "2023-24"
    first_day: dt.date
    last_day: dt.date
    all_star_break: tuple[dt.date, dt.date]  # inclusive days without games

    @property
    def start_year(self) -> int:
        return self.first_day.year

    @property
    def game_id_prefix(self) -> str:
        """NBA.com game ids: '00' league, '2' regular season, two-digit start year ('0022300061')."""
        return f"002{self.start_year % 100:02d}"

    def game_days(self) -> list[dt.date]:
        """Days that can hold games: the season minus the All-Star break, Thanksgiving and Christmas Eve."""
        days = pd.date_range(self.first_day, self.last_day, freq="D").date
        thanksgiving = _fourth_thursday_of_november(self.start_year)
        christmas_eve = dt.date(self.start_year, 12, 24)
        asb_start, asb_end = self.all_star_break
        return [
            d
            for d in days
            if not (asb_start <= d <= asb_end) and d not in (thanksgiving, christmas_eve)
        ]


def _fourth_thursday_of_november(year: int) -> dt.date:
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(weeks=3)


def _d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


# Real calendars (opening night, last regular-season day, All-Star break without games).
# 2026-27 is the announced-calendar projection so that "yesterday" has games in the current season.
SEASONS: tuple[Season, ...] = (
    Season("2021-22", _d("2021-10-19"), _d("2022-04-10"), (_d("2022-02-18"), _d("2022-02-23"))),
    Season("2022-23", _d("2022-10-18"), _d("2023-04-09"), (_d("2023-02-17"), _d("2023-02-22"))),
    Season("2023-24", _d("2023-10-24"), _d("2024-04-14"), (_d("2024-02-16"), _d("2024-02-21"))),
    Season("2024-25", _d("2024-10-22"), _d("2025-04-13"), (_d("2025-02-14"), _d("2025-02-19"))),
    Season("2025-26", _d("2025-10-21"), _d("2026-04-12"), (_d("2026-02-13"), _d("2026-02-18"))),
    Season("2026-27", _d("2026-10-20"), _d("2027-04-11"), (_d("2027-02-12"), _d("2027-02-17"))),
)
SEASON_BY_LABEL: dict[str, Season] = {s.label: s for s in SEASONS}


def season_for_date(day: dt.date) -> Season | None:
    """The season whose regular-season span contains `day`, or None in the off-season."""
    for season in SEASONS:
        if season.first_day <= day <= season.last_day:
            return season
    return None


def seasons_overlapping(start: dt.date, end: dt.date) -> list[Season]:
    return [s for s in SEASONS if s.first_day <= end and s.last_day >= start]


@cache
def _season_lookup() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "first_day": to_datetime([s.first_day for s in SEASONS]),
            "last_day": to_datetime([s.last_day for s in SEASONS]),
            "season": [s.label for s in SEASONS],
        }
    )


def season_labels(game_dates: pd.Series) -> pd.Series:
    """Vectorised `season_for_date` over a datetime64 Series; NA in the off-season."""
    lookup = _season_lookup()
    idx = lookup["first_day"].searchsorted(to_datetime(game_dates), side="right") - 1
    idx_clipped = idx.clip(0, len(lookup) - 1)
    inside = (idx >= 0) & (to_datetime(game_dates).to_numpy() <= lookup["last_day"].to_numpy()[idx_clipped])
    labels = lookup["season"].to_numpy()[idx_clipped]
    return pd.Series(labels, index=game_dates.index, dtype="string").where(inside)
