import pandas as pd

from nba_pipeline.analytics.game_ids import normalize_game_ids

SCHEDULE = pd.DataFrame(
    {
        "game_id": ["0022300609", "0022300610"],
        "game_date": pd.to_datetime(["2024-01-15", "2024-01-15"]),
        "away_team": ["CHI", "MIN"],
        "home_team": ["CLE", "UTA"],
    }
)


def test_every_form_the_sources_produce_maps_to_the_canonical_id():
    ids = pd.Series(
        ["0022300609", "22300609", 22300609, "22300609.0", "20240115_CHI_CLE", "20240115-CHI@CLE", "202401150CLE", " 0022300610 "],
        dtype=object,
    )
    assert normalize_game_ids(ids, SCHEDULE).tolist() == ["0022300609"] * 7 + ["0022300610"]


def test_unmappable_ids_become_na_instead_of_silently_matching():
    ids = pd.Series(["sr:match:00012345", None, "", "0022399999", "20240116_CHI_CLE", "202401150XXX"], dtype=object)
    assert normalize_game_ids(ids, SCHEDULE).isna().all()


def test_a_schedule_listing_a_game_twice_does_not_crash_the_lookup():
    """The raw schedule's no_duplicate_keys fails such a date; the pure function still answers."""
    twice = pd.concat([SCHEDULE, SCHEDULE.iloc[[0]]], ignore_index=True)
    ids = pd.Series(["20240115_CHI_CLE", "202401150UTA", "0022300609"], dtype=object)
    assert normalize_game_ids(ids, twice).tolist() == ["0022300609", "0022300610", "0022300609"]
    # the same matchup under two different ids: ambiguous, so NA (it surfaces in checks), never a guess
    clash = pd.concat([SCHEDULE, SCHEDULE.iloc[[0]].assign(game_id="0022300611")], ignore_index=True)
    assert normalize_game_ids(ids, clash).isna().tolist() == [True, False, False]
