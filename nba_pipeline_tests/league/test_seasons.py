import datetime as dt

import pandas as pd

from nba_pipeline.league.seasons import SEASON_BY_LABEL, season_for_date, season_labels


def test_game_days_exclude_all_star_break_thanksgiving_and_christmas_eve():
    season = SEASON_BY_LABEL["2023-24"]
    days = set(season.game_days())
    assert dt.date(2024, 2, 18) not in days  # All-Star Sunday
    assert dt.date(2023, 11, 23) not in days  # Thanksgiving
    assert dt.date(2023, 12, 24) not in days
    assert dt.date(2023, 12, 25) in days  # Christmas Day games
    assert min(days) == dt.date(2023, 10, 24) and max(days) == dt.date(2024, 4, 14)


def test_season_lookup_scalar_and_vectorised_agree():
    dates = pd.Series(pd.to_datetime(["2021-10-19", "2022-07-01", "2024-04-14", "2024-04-15", "2025-10-21"]))
    assert season_labels(dates).tolist() == ["2021-22", pd.NA, "2023-24", pd.NA, "2025-26"]
    assert season_for_date(dt.date(2022, 7, 1)) is None
    assert season_for_date(dt.date(2024, 4, 14)).label == "2023-24"
