"""The state of each date of each daily asset, from the publish log and the instance's check evaluations.

State of a date of an asset (first that applies):
  quarantined  the warehouse's latest record for the date is a quarantine (a blocking check failed on its rows);
  failed       the latest evaluation of a blocking check failed on the instance;
  running      a run in progress will evaluate it (readiness "planned");
  published    the warehouse's latest record is a publish, and the instance saw that run pass every blocking check;
  unverified   published, but the instance did not see that publish pass (stale, not evaluated, no evaluation,
               or the warehouse disagrees about which run published it; a plan by a run that ended without
               publishing the date does not count: its last completed evaluation does, as in the gate);
  blocked      no published rows, and a date it reads of an upstream asset is quarantined, failed or itself
               blocked (named: the root upstream asset, date and check);
  missing      nothing at all yet.
Blocked dates follow the project's partition mappings (`season_history*`, read within the season, as the gate
trims them), so a failed box-score date blocks the precompute dates after it in its season, not the ones before.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import pandas as pd

from nba_pipeline.checks.gate import many_blocking_problems
from nba_pipeline.checks.readiness import State
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.ops.blocked import blocked
from nba_pipeline.warehouse.base import PUBLISHED, QUARANTINED

STATES = ["published", "quarantined", "failed", "blocked", "running", "unverified", "missing"]
PROBLEM_STATES = {"quarantined", "failed", "blocked"}  # what blocks downstream dates
_READINESS_RANK = {  # worst first: the date's readiness is its worst blocking check
    State.FAILED.value: 0, State.PLANNED.value: 1, "warehouse disagrees": 2, State.NOT_EVALUATED.value: 3,
    State.STALE.value: 4, State.MISSING.value: 5,
}


def _readiness(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str], log: pd.DataFrame,
    infos: pd.DataFrame | None,
) -> pd.DataFrame:
    """Per asset and date that is not readable: its worst state and why (the gate's predicate, warehouse included:
    for the assets the publish log has records of)."""
    columns = ["asset", "game_date", "readiness", "failed_checks", "detail"]
    problems = many_blocking_problems(instance, [a.key for a in assets], dates, log if not log.empty else None, infos,
                                      compared=set(log["asset"]))
    if problems.empty:
        return pd.DataFrame(columns=columns)
    problems = problems.assign(rank=problems["state"].map(_READINESS_RANK).fillna(9))
    failed = problems[problems["state"] == State.FAILED.value].groupby(["asset", "game_date"])["check"].agg(", ".join)
    worst = problems.sort_values(["asset", "game_date", "rank", "check"]).drop_duplicates(["asset", "game_date"])
    worst = worst.set_index(["asset", "game_date"])
    return pd.DataFrame(
        {"readiness": worst["state"], "failed_checks": failed.reindex(worst.index), "detail": worst["detail"]}
    ).reset_index()[columns]



def date_states(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str], log: pd.DataFrame,
    infos: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """asset, game_date, state, cause_asset, cause_date, cause_check, detail for every asset and date of `dates`
    (asset by asset, in the order of `assets`). `infos`: `check_infos` of these assets and dates, if already fetched."""
    columns = ["asset", "game_date", "state", "cause_asset", "cause_date", "cause_check", "detail"]
    if not assets:
        return pd.DataFrame(columns=columns)
    day = to_datetime(pd.Series(dates))
    season = season_labels(day)
    group = season.astype(object).where(season.notna(), "off-season " + pd.Series(dates))
    calendar = pd.DataFrame({"game_date": dates, "day": day, "group": group})
    names = [a.key.to_user_string() for a in assets]
    # every asset x date at once, asset-major
    f = pd.DataFrame({"asset": names}).merge(calendar, how="cross")
    f = f.merge(log[["asset", "game_date", "outcome", "failed_checks", "checks"]], on=["asset", "game_date"], how="left")
    ready = _readiness(instance, assets, dates, log, infos)
    f = f.merge(ready.rename(columns={"failed_checks": "instance_failed"}), on=["asset", "game_date"], how="left")
    state = pd.Series("missing", index=f.index, dtype=object)
    published = f["outcome"].eq(PUBLISHED)
    state[published & f["readiness"].isna()] = "published"
    state[published & f["readiness"].notna()] = "unverified"
    state[f["outcome"].isna() & f["readiness"].eq("warehouse disagrees")] = "unverified"
    state[f["readiness"].eq(State.PLANNED.value)] = "running"
    state[f["readiness"].eq(State.FAILED.value)] = "failed"
    state[f["outcome"].eq(QUARANTINED)] = "quarantined"
    f["state"] = state
    f["cause_asset"] = f["asset"]
    f["cause_date"] = f["game_date"]
    f["cause_check"] = f["failed_checks"].where(f["outcome"].eq(QUARANTINED), f["instance_failed"])
    why_quarantined = "quarantined: " + f["checks"].fillna("")
    f["detail"] = why_quarantined.where(f["outcome"].eq(QUARANTINED), f["detail"])
    if f["state"].isin(PROBLEM_STATES).any():  # else nothing is blocked
        f = blocked(f, assets, len(dates), PROBLEM_STATES)
    f.loc[f["state"] == "missing", "detail"] = f["detail"].fillna("no publish record and no check evaluation")
    f.loc[~f["state"].isin(PROBLEM_STATES), ["cause_asset", "cause_date", "cause_check"]] = None
    return f[columns]
