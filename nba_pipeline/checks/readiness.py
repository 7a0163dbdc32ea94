"""The one definition of "passed": when a date of an asset may be read downstream.

A date is readable only if, for every blocking check of its asset, the latest evaluation of that date
SUCCEEDED and judged that date's latest materialization. Everything else blocks, and says which case it is:

- failed: the latest evaluation failed;
- planned: a run that will evaluate it was created (queued, starting, running) but has not evaluated it yet —
  creating a run flips the latest status to PLANNED, so a queued or cancelled run on a failed date blocks too;
- not evaluated: the run that planned it ended (failed, cancelled, killed) without evaluating it;
- missing: no evaluation at all (never materialized with its checks, a check added later, a wiped instance);
- stale: it passed, but on an older materialization than the latest one.

The cross-run gate (`checks.gate`, in the warehouse IO manager's input loading) and the automation condition
(`automation.gated_eager`) both call `not_readable`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from enum import Enum

import dagster as dg
import pandas as pd

from nba_pipeline.dagster_private import (
    AssetCheckExecutionRecordStatus as Status,
)
from nba_pipeline.dagster_private import check_partition_infos, status_judging

BLOCKING_CHECKS: dict[dg.AssetKey, tuple[str, ...]] = {}
"""Blocking check names per asset, registered when its check specs are built: a job that selects only a
downstream asset carries no check specs of its upstream assets, so readiness cannot read them off the job."""

COLUMNS = ["asset", "game_date", "check", "state", "run_id", "detail"]
_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


class State(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    PLANNED = "planned"
    NOT_EVALUATED = "not evaluated"
    MISSING = "missing"
    STALE = "stale"


def register_blocking_checks(asset: dg.AssetKey, names: Collection[str]) -> None:
    BLOCKING_CHECKS[asset] = tuple(names)


def check_states(
    instance: dg.DagsterInstance, asset: dg.AssetKey, dates: Collection[str], infos: Sequence | None = None
) -> pd.DataFrame:
    """One row per (date, blocking check) of `asset`: its state and the run behind it. `infos`: the check-partition
    records already fetched in bulk (`nba-pipeline status` reads every check once), else they are queried."""
    names = BLOCKING_CHECKS.get(asset, ())
    dates = sorted(set(dates))
    if not names or not dates:
        return pd.DataFrame(columns=COLUMNS)
    if infos is None:
        infos = check_partition_infos(instance, [dg.AssetCheckKey(asset, n) for n in names], dates)
    else:
        wanted, on = {dg.AssetCheckKey(asset, n) for n in names}, set(dates)
        infos = [i for i in infos if i.check_key in wanted and i.partition_key in on]
    found = pd.DataFrame(
        [
            (i.partition_key, i.check_key.name, *_latest(instance, i))
            for i in infos
            if i.partition_key is not None
        ],
        columns=["game_date", "check", "status", "current", "run_id"],
    )
    grid = pd.MultiIndex.from_product([dates, names], names=["game_date", "check"]).to_frame(index=False)
    states = grid.merge(found, on=["game_date", "check"], how="left")
    states["state"] = State.MISSING.value
    states.loc[states["status"] == Status.FAILED.value, "state"] = State.FAILED.value
    states.loc[(states["status"] == Status.SUCCEEDED.value) & states["current"].eq(True), "state"] = State.PASSED.value
    states.loc[(states["status"] == Status.SUCCEEDED.value) & states["current"].eq(False), "state"] = State.STALE.value
    planned = states["status"] == Status.PLANNED.value
    run_status = _run_statuses(instance, states.loc[planned, "run_id"].dropna().unique())
    ended = states["run_id"].map(run_status).fillna("DELETED").isin({s.value for s in _FINISHED} | {"DELETED"})
    states.loc[planned & ~ended, "state"] = State.PLANNED.value
    states.loc[planned & ended, "state"] = State.NOT_EVALUATED.value
    states["asset"] = asset.to_user_string()
    states["detail"] = _details(states, run_status)
    return states[COLUMNS]


def not_readable(instance: dg.DagsterInstance, asset: dg.AssetKey, dates: Collection[str]) -> pd.DataFrame:
    """The (date, check) pairs of `asset` that block reading those dates, each with a message saying why."""
    states = check_states(instance, asset, dates)
    return states[states["state"] != State.PASSED.value].reset_index(drop=True)


def _latest(instance: dg.DagsterInstance, info) -> tuple[str, bool, str]:
    """(status, judged the latest materialization, run) of the evaluation that counts for one check and date.

    Dagster's "latest" execution is the one whose run was created last; when an overlapping run created earlier
    materialized later, the evaluation that judged that latest materialization is the one that counts."""
    status, current = info.latest_execution_status.value, info.is_current
    if current or status == Status.PLANNED.value or info.latest_materialization_storage_id is None:
        return status, current, info.latest_planned_run_id
    judged = status_judging(instance, info.check_key, info.partition_key, info.latest_materialization_storage_id)
    if judged is None:
        return status, False, info.latest_planned_run_id
    return judged[0], True, judged[1]


def _run_statuses(instance: dg.DagsterInstance, run_ids) -> dict[str, str]:
    if len(run_ids) == 0:
        return {}
    runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list(run_ids)))
    return {run.run_id: run.status.value for run in runs}


def _details(states: pd.DataFrame, run_status: Mapping[str, str]) -> pd.Series:
    """Why each (date, check) blocks, built only for the rows in that state (passed rows get no message)."""
    out = pd.Series("", index=states.index, dtype=object)
    for state in (State.FAILED, State.PLANNED, State.NOT_EVALUATED, State.MISSING, State.STALE):
        rows = states[states["state"] == state.value]
        if rows.empty:
            continue
        asset, check, date = rows["asset"], rows["check"], rows["game_date"]
        run = rows["run_id"].fillna("").str[:8]
        status = rows["run_id"].map(lambda r: run_status.get(r, "deleted")).str.lower()
        out[rows.index] = {
            State.FAILED: asset + " failed " + check + " on " + date,
            State.PLANNED: asset + " " + check + " on " + date + " is planned by run " + run + " (" + status
            + ") and not evaluated yet",
            State.NOT_EVALUATED: asset + " " + check + " on " + date + " was never evaluated: run " + run
            + " planned it and ended " + status,
            State.MISSING: asset + " " + check + " on " + date + " has no evaluation on this instance "
            "(never materialized with its checks)",
            State.STALE: asset + " " + check + " on " + date + " passed on an older materialization; the latest "
            "materialization was not checked",
        }[state]
    return out
