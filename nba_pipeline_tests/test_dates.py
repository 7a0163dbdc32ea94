import datetime as dt

import pytest

from nba_pipeline.dates import InvalidGameDate, parse_game_date, parse_game_date_range


@pytest.mark.parametrize("bad", ["YESTERDAY", "yesterday", "", "2024-1-5", "01/15/2024", "2024-02-30", "2024-13-01", " 2024-01-15"])
def test_malformed_keys_are_refused_with_a_clear_message(bad):
    with pytest.raises(InvalidGameDate) as err:
        parse_game_date(bad)
    assert repr(bad) in str(err.value) or bad in str(err.value)


def test_yesterday_keyword_message_says_it_must_be_resolved():
    with pytest.raises(InvalidGameDate, match="must be resolved"):
        parse_game_date("YESTERDAY")


def test_valid_keys_and_bounds():
    assert parse_game_date("2024-01-15") == dt.date(2024, 1, 15)
    with pytest.raises(InvalidGameDate, match="before the first partition"):
        parse_game_date("2021-10-18")
    with pytest.raises(InvalidGameDate, match="after the latest"):
        parse_game_date("2030-01-01", latest=dt.date(2026, 1, 1))
    with pytest.raises(InvalidGameDate, match="precedes"):
        parse_game_date_range("2024-01-15", "2024-01-14")
