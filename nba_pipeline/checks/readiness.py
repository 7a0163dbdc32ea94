"""The one definition of "passed": when a date of an asset may be read downstream.

A date is readable only if, for every blocking check of its asset, the latest evaluation of that date
SUCCEEDED and judged that date's latest materialization. Everything else blocks, and says which case it is:

- failed: the latest evaluation failed;
- planned: a run that will evaluate it was created (queued, starting, running) but has not evaluated it yet —
  creating a run flips Dagster's latest status to PLANNED, so a queued run on a failed date blocks too, and its
  message gives each check's last completed verdict (a check that failed reads "failed");
- not evaluated: the run that planned it ended (failed, cancelled, killed) without evaluating it, and no earlier
  evaluation judged the date's latest materialization;
- missing: no evaluation at all (never materialized with its checks, a check added later, a wiped instance);
- stale: it passed, but on an older materialization than the latest one.
- warehouse disagrees (`checks.gate`): the warehouse's publish record for the date names a run this instance never
  saw pass (another instance, a CLI run without DAGSTER_HOME).

A plan of a run that ended revokes nothing: with write–audit–publish, a date such a run did not materialize still
holds exactly the rows its last completed evaluation judged. So for a date planned by an ended run, the last
completed evaluation counts — passed if it succeeded on the date's latest materialization (the ended run
materialized nothing new), failed if it failed, else not evaluated.

The cross-run gate (`checks.gate`, in the warehouse IO manager's input loading) and the automation condition
(`automation.gated_eager`) both call `not_readable`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from enum import Enum

import dagster as dg
import numpy as np
import pandas as pd

from nba_pipeline.plumbing.dagster_private import (
    AssetCheckExecutionRecordStatus as Status,
)
from nba_pipeline.plumbing.dagster_private import check_partition_frame, last_verdicts, status_judging

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


_STATES = list(State)
_STATUSES = [s.value for s in Status]


def register_blocking_checks(asset: dg.AssetKey, names: Collection[str]) -> None:
    BLOCKING_CHECKS[asset] = tuple(names)


def check_states(
    instance: dg.DagsterInstance, asset: dg.AssetKey, dates: Collection[str], infos: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per (date, blocking check) of `asset`: its state and the run behind it. `infos`: the check-partition
    frame already fetched in bulk (`dagster_private.check_partition_frame`; `nba-pipeline status` reads every check
    once), else it is queried."""
    return many_check_states(instance, [asset], dates, infos)


def many_check_states(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetKey], dates: Collection[str], infos: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`check_states` of several assets at once (one check-partition read, one pass): asset by asset in the order
    given, then by date, then check."""
    dates = sorted(set(dates))
    pairs = [(a, n) for a in dict.fromkeys(assets) for n in BLOCKING_CHECKS.get(a, ())]
    if not pairs or not dates:
        return pd.DataFrame(columns=COLUMNS)
    if infos is None:
        infos = check_partition_frame(instance, [dg.AssetCheckKey(a, n) for a, n in pairs], dates)
    # the grid: every asset's dates x its blocking checks, date-major within an asset; each record of `infos` is
    # placed at its row by position (asset's offset + date's index x the asset's checks + the check's index)
    by_asset = {a: [n for b, n in pairs if b == a] for a in dict.fromkeys(a for a, _ in pairs)}
    n_dates, offset, place = len(dates), 0, {}
    for a, checks in by_asset.items():
        for i, n in enumerate(checks):
            place[(a.to_user_string(), n)] = (offset, len(checks), i)
        offset += n_dates * len(checks)
    pair = pd.MultiIndex.from_tuples(list(place)).get_indexer(pd.MultiIndex.from_arrays([infos["asset"], infos["check"]]))
    day = pd.Index(dates).get_indexer(infos["partition"])
    mine = (pair >= 0) & (day >= 0)  # a blocking check of these assets, on one of these dates
    found = _latest(instance, infos[mine], {a.to_user_string(): a for a in by_asset})
    where = np.array(list(place.values()), dtype=np.int64).reshape(-1, 3)[pair[mine]]
    rows = where[:, 0] + day[mine] * where[:, 1] + where[:, 2]
    states = pd.DataFrame({
        "asset": np.concatenate([np.repeat(a.to_user_string(), n_dates * len(ns)) for a, ns in by_asset.items()]),
        "game_date": np.concatenate([np.repeat(dates, len(ns)) for ns in by_asset.values()]),
        "check": np.concatenate([np.tile(ns, n_dates) for ns in by_asset.values()]),
    }).astype(object)
    # the state of each row, as an index into _STATES (missing unless its record says otherwise)
    status = np.full(offset, -1, dtype=np.int64)
    status[rows] = pd.Index(_STATUSES).get_indexer(found["status"])
    current = np.zeros(offset, dtype=bool)
    current[rows] = found["current"].to_numpy(dtype=bool)
    run_id = np.full(offset, np.nan, dtype=object)
    run_id[rows] = found["run_id"].to_numpy(dtype=object)
    state = np.full(offset, _STATES.index(State.MISSING), dtype=np.int64)
    state[status == _STATUSES.index(Status.FAILED.value)] = _STATES.index(State.FAILED)
    succeeded = status == _STATUSES.index(Status.SUCCEEDED.value)
    state[succeeded & current] = _STATES.index(State.PASSED)
    state[succeeded & ~current] = _STATES.index(State.STALE)
    planned = status == _STATUSES.index(Status.PLANNED.value)
    run_status = _run_statuses(instance, pd.unique(run_id[planned & pd.notna(run_id)]))
    ended = np.zeros(offset, dtype=bool)
    ended[planned] = (pd.Series(run_id[planned]).map(run_status).fillna("DELETED")
                      .isin({s.value for s in _FINISHED} | {"DELETED"}).to_numpy())
    state[planned & ~ended] = _STATES.index(State.PLANNED)
    state[planned & ended] = _STATES.index(State.NOT_EVALUATED)
    # a plan's last completed verdict: what counts once its run ended, what its message says while it runs
    verdict = np.full(offset, None, dtype=object)
    verdict[rows] = found["verdict"].to_numpy(dtype=object)
    verdict_run = np.full(offset, None, dtype=object)
    verdict_run[rows] = found["verdict_run_id"].to_numpy(dtype=object)
    verdict_current = np.zeros(offset, dtype=bool)
    verdict_current[rows] = found["verdict_current"].to_numpy(dtype=bool)
    passed_before = ended & (verdict == Status.SUCCEEDED.value) & verdict_current
    failed_before = ended & (verdict == Status.FAILED.value)
    state[passed_before] = _STATES.index(State.PASSED)
    state[failed_before] = _STATES.index(State.FAILED)
    run_id[passed_before | failed_before] = verdict_run[passed_before | failed_before]
    states["state"] = np.array([s.value for s in _STATES], dtype=object)[state]
    states["run_id"] = run_id
    states["detail"] = _details(states, state, run_status, np.where(planned & ~ended, verdict, None))
    return states[COLUMNS]


def not_readable(instance: dg.DagsterInstance, asset: dg.AssetKey, dates: Collection[str]) -> pd.DataFrame:
    """The (date, check) pairs of `asset` that block reading those dates, each with a message saying why."""
    states = check_states(instance, asset, dates)
    return states[states["state"] != State.PASSED.value].reset_index(drop=True)


def _latest(instance: dg.DagsterInstance, infos: pd.DataFrame, keys: Mapping[str, dg.AssetKey]) -> pd.DataFrame:
    """Per row of `infos` (a check-partition frame of the assets `keys`, by user string; rows with a partition), in
    its order: game_date, check, asset, the status of the evaluation that counts, whether it judged the latest
    materialization (`current`) and its run.

    Dagster's "latest" execution is the one whose run was created last; when an overlapping run created earlier
    materialized later, the evaluation that judged that latest materialization is the one that counts (looked up
    one by one: only rows that are not current, neither planned nor without a materialization).

    Planned rows also get their last completed evaluation (`dagster_private.last_verdicts`, one read for all of
    them): `verdict` (status value or None), `verdict_run_id`, `verdict_current` (it judged the latest
    materialization)."""
    found = infos[["partition", "check", "asset", "status", "current", "run_id", "latest_materialization_storage_id"]]
    found = found.rename(columns={"partition": "game_date"}).reset_index(drop=True)
    planned = found["status"] == Status.PLANNED.value
    verdicts = last_verdicts(instance, found[planned].rename(columns={"game_date": "partition"}))
    found = found.join(verdicts.reindex(found.index))
    latest = found["latest_materialization_storage_id"].astype("Int64")
    found["verdict_current"] = latest.eq(found["verdict_target_storage_id"]).fillna(False).astype(bool)
    found = found.drop(columns="verdict_target_storage_id")
    other = (~found["current"] & (found["status"] != Status.PLANNED.value)
             & found["latest_materialization_storage_id"].notna())
    for i in found.index[other.to_numpy()]:
        row = found.loc[i]
        judged = status_judging(instance, dg.AssetCheckKey(keys[row["asset"]], row["check"]),
                                row["game_date"], int(row["latest_materialization_storage_id"]))
        if judged is not None:
            found.loc[i, ["status", "current", "run_id"]] = [judged[0], True, judged[1]]
    return found.drop(columns="latest_materialization_storage_id")


def _run_statuses(instance: dg.DagsterInstance, run_ids) -> dict[str, str]:
    if len(run_ids) == 0:
        return {}
    runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list(run_ids)))
    return {run.run_id: run.status.value for run in runs}


def _details(states: pd.DataFrame, state: np.ndarray, run_status: Mapping[str, str], verdict: np.ndarray) -> pd.Series:
    """Why each (date, check) blocks (`state`: each row's index into _STATES), built only for the rows in that state
    (passed rows get no message). `verdict`: the last completed evaluation's status of each planned row whose run is
    still in progress (None elsewhere)."""
    out = pd.Series("", index=states.index, dtype=object)
    for kind in (State.FAILED, State.PLANNED, State.NOT_EVALUATED, State.MISSING, State.STALE):
        rows = states[state == _STATES.index(kind)]
        if rows.empty:
            continue
        asset, check, date = rows["asset"], rows["check"], rows["game_date"]
        run = rows["run_id"].fillna("").str[:8]
        status = rows["run_id"].map(lambda r: run_status.get(r, "deleted")).str.lower()
        out[rows.index] = {
            State.FAILED: asset + " failed " + check + " on " + date,
            State.PLANNED: asset + " " + check + " on " + date + " is planned by run " + run + " (" + status
            + ") and not evaluated yet" + pd.Series(verdict[rows.index], index=rows.index).map(_LAST).fillna(""),
            State.NOT_EVALUATED: asset + " " + check + " on " + date + " was never evaluated: run " + run
            + " planned it and ended " + status,
            State.MISSING: asset + " " + check + " on " + date + " has no evaluation on this instance "
            "(never materialized with its checks)",
            State.STALE: asset + " " + check + " on " + date + " passed on an older materialization; the latest "
            "materialization was not checked",
        }[kind]
    # a planned check whose last completed evaluation failed reads as failed, as it would without the plan
    failed = (state == _STATES.index(State.PLANNED)) & (verdict == Status.FAILED.value)
    if failed.any():
        rows = states[failed]
        status = rows["run_id"].map(lambda r: run_status.get(r, "deleted")).str.lower()
        out[rows.index] = (rows["asset"] + " failed " + rows["check"] + " on " + rows["game_date"]
                           + " (its last evaluation); run " + rows["run_id"].fillna("").str[:8] + " (" + status
                           + ") will evaluate it again")
    return out


_LAST = {Status.SUCCEEDED.value: " (it passed its last evaluation)"}
