import datetime as dt

import pytest

from nba_pipeline.dates import (
    InvalidGameDate,
    game_date_for,
    parse_game_date,
    parse_game_date_range,
    resolve_partition_key,
)


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


UTC = dt.timezone.utc


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "now_utc, yesterday",
    [
        ("2024-01-16T11:00:00", "2024-01-15"),  # 06:00 ET, the morning run
        ("2024-01-16T04:59:59", "2024-01-14"),  # 23:59:59 ET on the 15th: still the 15th in New York
        ("2024-01-16T05:00:00", "2024-01-15"),  # midnight ET
        ("2024-03-11T04:30:00", "2024-03-10"),  # 00:30 EDT after spring-forward (EST would still say the 10th)
        ("2024-03-10T07:30:00", "2024-03-09"),  # 03:30 EDT on the DST morning itself
        ("2024-11-04T04:30:00", "2024-11-02"),  # 23:30 EST after fall-back (EDT would already say the 4th)
    ],
)
def test_yesterday_is_resolved_in_one_place_in_eastern_time(now_utc, yesterday):
    assert resolve_partition_key("YESTERDAY", _utc(now_utc)) == yesterday
    assert resolve_partition_key("yesterday", _utc(now_utc)) == yesterday


def test_a_late_tip_off_belongs_to_its_eastern_day():
    tipoff = dt.datetime(2024, 1, 15, 22, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert game_date_for(tipoff) == dt.date(2024, 1, 15)
    assert game_date_for(tipoff.astimezone(UTC)) == dt.date(2024, 1, 15)  # 03:30 UTC on the 16th
    with pytest.raises(InvalidGameDate, match="no time zone"):
        game_date_for(dt.datetime(2024, 1, 16, 3, 30))


def test_resolution_refuses_what_it_cannot_resolve():
    with pytest.raises(InvalidGameDate):
        resolve_partition_key("LAST_NIGHT", _utc("2024-01-16T11:00:00"))
    assert resolve_partition_key("2024-01-15", _utc("2024-01-16T11:00:00")) == "2024-01-15"


def test_a_range_ends_at_the_last_partition_dagster_has():
    from nba_pipeline.dates import last_partition_date
    from nba_pipeline.partitions import game_date_partitions

    assert last_partition_date().isoformat() == game_date_partitions.get_last_partition_key()
    assert last_partition_date(_utc("2024-01-16T04:59:59")) == dt.date(2024, 1, 15)  # still the 15th in New York
    day = last_partition_date()
    assert parse_game_date_range("2024-01-15", day.isoformat())[1] == day
    with pytest.raises(InvalidGameDate, match=f"after the latest partition {day.isoformat()}"):
        parse_game_date_range("2024-01-15", (day + dt.timedelta(days=1)).isoformat())
    with pytest.raises(InvalidGameDate, match="after the latest partition 2024-01-15"):
        parse_game_date_range("2024-01-10", "2024-01-16", latest=dt.date(2024, 1, 15))
