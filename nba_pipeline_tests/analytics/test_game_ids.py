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
