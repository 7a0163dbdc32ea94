"""The single place where every source's spelling of a game id becomes the canonical NBA.com id.

Forms seen in the sources:
- canonical:       '0022300061' (10 characters, leading zeros)
- integer:         '22300061', 22300061, '22300061.0' (a feed that stored ids as numbers)
- date-team:       '20240115_LAL_DEN' (date, away, home) or Basketball-Reference's '202401150DEN' (date, 0, home)
Joining on raw ids is what left usage_rate 47 % NULL in the original system; every join in the analytics
phase goes through `normalize_game_ids`. Ids that match no form (a vendor's opaque id) become NA, so the
rows surface in checks instead of silently dropping out of a join.
"""

from __future__ import annotations

import pandas as pd

from nba_pipeline.datetimes import to_datetime

_CANONICAL = r"^00[1-6]\d{7}$"
_INTEGER = r"^(?P<num>[1-6]\d{7})(?:\.0+)?$"
_DATE_AWAY_HOME = r"^(?P<date>\d{8})[_-](?P<away>[A-Z]{3})[_@-](?P<home>[A-Z]{3})$"
_BBREF = r"^(?P<date>\d{8})0(?P<home>[A-Z]{3})$"


def normalize_game_ids(ids: pd.Series, schedule: pd.DataFrame) -> pd.Series:
    """Canonical game ids for `ids`; date-team forms are resolved through `schedule` (game_id, game_date, teams)."""
    text = ids.astype("string").str.strip()
    out = pd.Series(pd.NA, index=ids.index, dtype="string")

    canonical = text.str.fullmatch(_CANONICAL).fillna(False)
    out[canonical] = text[canonical]

    integer = text.str.extract(_INTEGER)["num"]
    has_int = integer.notna() & ~canonical
    out[has_int] = integer[has_int].str.zfill(10)

    keyed = schedule.assign(date_key=to_datetime(schedule["game_date"]).dt.strftime("%Y%m%d"))
    by_matchup = _unambiguous(keyed["date_key"] + "|" + keyed["away_team"] + "|" + keyed["home_team"], keyed["game_id"])
    by_home = _unambiguous(keyed["date_key"] + "|" + keyed["home_team"], keyed["game_id"])

    dated = text.str.extract(_DATE_AWAY_HOME)
    has_dated = dated["date"].notna() & out.isna()
    out[has_dated] = (dated["date"] + "|" + dated["away"] + "|" + dated["home"])[has_dated].map(by_matchup)

    bbref = text.str.extract(_BBREF)
    has_bbref = bbref["date"].notna() & out.isna()
    out[has_bbref] = (bbref["date"] + "|" + bbref["home"])[has_bbref].map(by_home)

    # Only ids of scheduled games count; a well-formed id for an unscheduled game is as bad as garbage.
    return out.where(out.isin(schedule["game_id"]), pd.NA).astype("string")


def _unambiguous(keys: pd.Series, game_ids: pd.Series) -> pd.Series:
    """game id by key. A schedule listing a game twice (its raw `no_duplicate_keys` check fails that date) must
    not crash the lookup: a key of one game is kept once, a key of two different games maps to none."""
    pairs = pd.DataFrame({"key": keys, "game_id": game_ids}).drop_duplicates()
    return pairs[~pairs["key"].duplicated(keep=False)].set_index("key")["game_id"]
