"""Every use of Dagster's private `dagster._core` API, in one module.

Why these are needed: Dagster's public API has no way to ask, per partition, what a check's latest evaluation
was and whether it judged the latest materialization (`AssetCheckPartitionInfo` is only reachable through the
event log storage), no public way to point a per-partition check evaluation logged from a range run at the
materialization it judged (`AssetCheckEvaluationTargetMaterializationData`), and no public event-type enum for
the latest materialization per partition. The status report (`nba_pipeline.ops.report`) also needs what only
private modules expose: backfills in progress and their done / target subsets (`PartitionBackfill`,
`BulkActionStatus`), the pool slots a run still holds (`get_concurrency_info`), and the failed check evaluations
(`get_asset_check_execution_history` with a status filter, to say why a check failed). The alert sensor
(`nba_pipeline.ops.alerts`) reads check evaluations and run failures after a storage id (`get_asset_check_execution_history` with a status filter: the public `fetch_*`
methods cover materializations, observations and run status changes, not check evaluations). The production run
launcher (`nba_pipeline.plumbing.run_launcher`) asks a code server whether it still runs a run (`CanCancelExecution`) and
answers run monitoring with a `CheckRunHealthResult`, neither of which is public. If one of these moves in a Dagster upgrade, this is the one file to fix — with `nba_pipeline/plumbing/instance_storage.py`,
the event-log storage class the shipped dagster.yaml loads, which has to subclass Dagster's private SQLite storage.

`check_partition_frame` is the same answer as `get_asset_check_partition_info`, for every check at once, on SQLite
event logs: one read of the check executions and one of the latest materializations per partition, where Dagster's
method runs two queries per check (its own, and one for the asset's wipe details) and builds a Python record per
row — most of `nba-pipeline status`'s time on four seasons. It reads Dagster's tables (`asset_check_executions`,
`event_logs`; the materializations through Dagster's own table objects and wipe filter) as that method does; other
storages (PostgreSQL) get Dagster's method, and a test compares the two on real instances in every check state.
`mark_partitions_failed` gives a date that a range step materialized but did not publish (quarantined, held back)
the partition status FAILED: Dagster OSS derives FAILED only from a failed run (a step's output covers its whole range,
dagster-io/dagster#17836) and its per-partition `ASSET_FAILED_TO_MATERIALIZE` event is neither stored nor read by OSS
storages (`can_store_asset_failure_events` is False), so the step writes the asset's partition status cache itself.
`last_verdicts` reads the same table for the last *completed* evaluation of dates whose latest record is a plan
(one query on SQLite; elsewhere each check's history through `get_asset_check_execution_history`, which has no
per-partition "latest completed" query): a run that planned a date and ended without evaluating it revokes no
verdict (`checks.readiness`). `quicken_daemon_loops` is for the tests' `dagster dev` only: the backfill and sensor
daemons' loop intervals are module constants with no setting.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection, Mapping, Sequence

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
    AssetCheckPartitionInfo,
)

__all__ = [
    "latest_materialization_ids",
    "failed_check_partitions",
    "code_server_runs",
    "worker_health",
    "log_check_evaluations",
    "CHECK_PARTITION_COLUMNS",
    "check_partition_frame",
    "free_slots_of_run",
    "run_start_pid",
    "status_judging",
    "last_verdicts",
    "VERDICT_COLUMNS",
    "reader_is_partitioned",
    "AssetCheckEvaluationTargetMaterializationData",
    "automation_instance",
    "AssetCheckExecutionRecordStatus",
    "AssetCheckPartitionInfo",
    "check_partition_infos",
    "materialization_targets",
    "backfills_in_progress",
    "pool_slots_by_run",
    "failed_check_evaluations",
    "failed_check_records",
    "mark_partitions_failed",
]


def check_partition_infos(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey], partition_keys: Collection[str] | None
) -> Sequence[AssetCheckPartitionInfo]:
    """Latest evaluation (or plan) of each check per partition, with the materialization it judged."""
    if not keys:
        return []
    return instance.event_log_storage.get_asset_check_partition_info(
        list(keys), partition_keys=None if partition_keys is None else list(partition_keys)
    )


def log_check_evaluations(context: dg.AssetExecutionContext, evaluations: Sequence[dg.AssetCheckEvaluation]) -> None:
    """Log a range run's per-date check evaluations, as `context.log_event` logs each one, but as one event batch
    when the instance's event-log storage stores check evaluations in a batch (`TunedSqliteEventLogStorage`): one
    transaction instead of three statements per evaluation. Why private: the public `log_event` has no batch, and
    `DagsterEvent.from_step` with batch metadata is how Dagster itself batches a range step's materializations."""
    from dagster import DagsterEvent
    from dagster._core.events import DagsterEventBatchMetadata, generate_event_batch_id

    op_context = context.op_execution_context
    if not getattr(context.instance.event_log_storage, "stores_check_evaluation_batches", False):
        for evaluation in evaluations:
            context.log_event(evaluation)
        return
    step_context = op_context._step_execution_context  # noqa: SLF001
    batch_id, last = generate_event_batch_id(), len(evaluations) - 1
    for i, evaluation in enumerate(evaluations):
        message = (f"Asset check '{evaluation.check_name}' on '{evaluation.asset_key.to_user_string()}' "
                   + ("passed." if evaluation.passed else "did not pass.")
                   + ("" if evaluation.description is None else f" Description: '{evaluation.description}'"))
        event = DagsterEvent.from_step(
            event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, step_context=step_context,
            event_specific_data=evaluation, message=message,
            batch_metadata=DagsterEventBatchMetadata(batch_id, i == last),
        )
        op_context._events.append(event)  # noqa: SLF001  (as log_event: the step's event stream carries it too)


CHECK_PARTITION_COLUMNS = [
    "asset", "check", "partition", "status", "run_id", "check_event_storage_id", "target_materialization_storage_id",
    "latest_materialization_storage_id", "current",
]
_ID_COLUMNS = ["check_event_storage_id", "target_materialization_storage_id", "latest_materialization_storage_id"]


def check_partition_frame(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey], partition_keys: Collection[str] | None,
    between: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """`check_partition_infos` as one frame (CHECK_PARTITION_COLUMNS), a row per check and partition: `asset` the
    asset key's user string, `status` the latest execution status's value, `run_id` the run that last planned it,
    the three storage ids (nullable Int64) and `current`, Dagster's `is_current` (no materialization, or the latest
    one is the one the latest evaluation targeted). On a SQLite event log, two queries for every check at once.
    `between` (first, last): only the partitions from first to last, inclusive, in string order (ISO dates: a date
    range), read as such — a long range costs no list of every key."""
    storage = instance.event_log_storage
    if not keys:
        return _empty_check_frame()
    if _one_query_storage(storage):
        frame = _check_partition_query(storage, list(dict.fromkeys(keys)), partition_keys, between)
    else:
        frame = pd.DataFrame(
            [
                (i.check_key.asset_key.to_user_string(), i.check_key.name, i.partition_key, i.latest_execution_status.value,
                 i.latest_planned_run_id, i.latest_check_event_storage_id, i.latest_target_materialization_storage_id,
                 i.latest_materialization_storage_id)
                for i in check_partition_infos(instance, keys, partition_keys)
            ],
            columns=CHECK_PARTITION_COLUMNS[:-1],
        )
        if between is not None:
            frame = frame[frame["partition"].notna() & frame["partition"].between(*between)].reset_index(drop=True)
    frame[_ID_COLUMNS] = frame[_ID_COLUMNS].astype("Int64")
    latest = frame["latest_materialization_storage_id"]
    frame["current"] = (latest.isna() | latest.eq(frame["target_materialization_storage_id"]).fillna(False)).astype(bool)
    return frame


def _empty_check_frame() -> pd.DataFrame:
    frame = pd.DataFrame(columns=CHECK_PARTITION_COLUMNS)
    frame[_ID_COLUMNS] = frame[_ID_COLUMNS].astype("Int64")
    return frame.astype({"current": bool})


def _one_query_storage(storage: object) -> bool:
    """Whether `check_partition_frame` may use its own query: a SQL event log on SQLite (Dagster's sharded or
    consolidated storage, or a subclass such as `instance_storage.TunedSqliteEventLogStorage`)."""
    from dagster._core.storage.event_log.sqlite import ConsolidatedSqliteEventLogStorage, SqliteEventLogStorage

    return isinstance(storage, (SqliteEventLogStorage, ConsolidatedSqliteEventLogStorage))


def _check_partition_query(
    storage, keys: list[dg.AssetCheckKey], partition_keys: Collection[str] | None, between: tuple[str, str] | None
) -> pd.DataFrame:
    """Dagster's `_get_asset_check_partition_info_for_key` for every key at once: per (asset, check, partition) the
    check execution with the highest id among those with an evaluation event storage id, with the asset's latest
    materialization of that partition (after its last wipe); the latest unpartitioned materialization of the asset
    counts too, when it is later (Dagster's method takes the max of the two)."""
    import sqlalchemy as db
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable as E
    from dagster._core.storage.sqlalchemy_compat import db_select

    asset_keys = list(dict.fromkeys(k.asset_key for k in keys))
    db_keys = [a.to_string() for a in asset_keys]
    names = sorted({k.name for k in keys})
    partitions = None if partition_keys is None else list(dict.fromkeys(partition_keys))
    # The executions as stored, read with the DB-API cursor (SQLAlchemy's result rows cost more than the query); the
    # latest per (asset, check, partition) is taken here, as one pass over them: a GROUP BY would sort them all.
    marks = lambda values: ", ".join("?" * len(values))  # noqa: E731
    executions = (
        "SELECT asset_key, check_name, partition, execution_status, run_id, evaluation_event_storage_id, "
        "materialization_event_storage_id, id FROM asset_check_executions "
        f"WHERE evaluation_event_storage_id IS NOT NULL AND asset_key IN ({marks(db_keys)}) "
        f"AND check_name IN ({marks(names)})"
        + ("" if partitions is None else f" AND partition IN ({marks(partitions)})")
        + ("" if between is None else " AND partition BETWEEN ? AND ?")
    )
    materializations = [E.c.asset_key.in_(db_keys), E.c.partition != None,  # noqa: E711
                        E.c.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION.value]
    if partitions is not None:
        materializations.append(E.c.partition.in_(partitions))
    if between is not None:
        materializations.append(E.c.partition.between(*between))
    latest_materializations = storage._add_assets_wipe_filter_to_query(  # as Dagster's: events after a wipe only
        db_select([E.c.asset_key, E.c.partition, db.func.max(E.c.id)]).where(db.and_(*materializations))
        .group_by(E.c.asset_key, E.c.partition),
        storage._get_assets_details(asset_keys), asset_keys,
    )
    with storage.index_connection() as conn:
        compiled = latest_materializations.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        # a wipe time is a datetime parameter: stored as SQLAlchemy stores SQLite datetimes, as Dagster's query binds it
        as_stored = db.DateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect) or (lambda value: value)
        params = [compiled.params[name] for name in compiled.positiontup]
        params = [as_stored(v) if isinstance(v, dt.datetime) else v for v in params]
        cursor = conn.connection.cursor()
        try:
            rows = cursor.execute(executions, [*db_keys, *names, *(partitions or []), *(between or [])]).fetchall()
            materialized = cursor.execute(str(compiled), params).fetchall()
        finally:
            cursor.close()
    frame = pd.DataFrame(rows, columns=["db_key", *CHECK_PARTITION_COLUMNS[1:-2], "id"])
    frame = frame.sort_values("id").drop_duplicates(["db_key", "check", "partition"], keep="last")
    # only the (asset, check) pairs asked for (the query filters assets and names separately)
    pair = pd.MultiIndex.from_tuples([(k.asset_key.to_string(), k.name) for k in keys]).get_indexer(
        pd.MultiIndex.from_arrays([frame["db_key"], frame["check"]]))
    frame = frame[pair >= 0].assign(asset=np.array([k.asset_key.to_user_string() for k in keys], dtype=object)[pair[pair >= 0]])
    latest = pd.DataFrame(materialized, columns=["db_key", "partition", "id"])
    at = pd.MultiIndex.from_frame(latest[["db_key", "partition"]]).get_indexer(
        pd.MultiIndex.from_arrays([frame["db_key"], frame["partition"]]))
    ids = np.zeros(len(frame), dtype=np.int64)
    ids[at >= 0] = latest["id"].to_numpy(dtype=np.int64)[at[at >= 0]]
    frame["partition_materialization"] = pd.arrays.IntegerArray(ids, mask=at < 0)
    unpartitioned = {a.to_string(): sid for a, sid in
                     storage._get_latest_unpartitioned_materialization_storage_ids(asset_keys).items()}
    frame["latest_materialization_storage_id"] = pd.concat(
        [frame["partition_materialization"].astype("Int64"), frame["db_key"].map(unpartitioned).astype("Int64")], axis=1
    ).max(axis=1, skipna=True)
    return frame[CHECK_PARTITION_COLUMNS[:-1]]


def materialization_targets(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, run_id: str, partition_keys: Collection[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Per partition, the materialization a check evaluation logged now judges: the latest stored one."""
    storage_ids: Mapping[str, int] = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=set(partition_keys)
    )
    now = time.time()
    return {
        key: AssetCheckEvaluationTargetMaterializationData(storage_id=sid, run_id=run_id, timestamp=now)
        for key, sid in storage_ids.items()
    }


def mark_partitions_failed(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition, partition_keys: Collection[str]
) -> None:
    """Partition status FAILED (partition bar, asset health, `get_status_by_partition`) for partitions whose
    materialization this run has just stored: the cache is brought up to date first (so it holds this run's
    materializations), then the keys are added to its failed subset. A later materialization of a key clears it
    (Dagster's own incremental update); a wiped or rebuilt cache forgets it (the key then reads MATERIALIZED again)."""
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    if not partition_keys or not instance.event_log_storage.can_write_asset_status_cache():
        return
    value = get_and_update_asset_status_cache_value(instance, asset_key, partitions_def)
    if value is None:
        return
    failed = value.deserialize_failed_partition_subsets(partitions_def).with_partition_keys(partition_keys)
    instance.update_asset_cached_status_data(asset_key, value._replace(serialized_failed_partition_subset=failed.serialize()))


def automation_instance(context: dg.AutomationContext) -> dg.DagsterInstance:
    """The instance an automation condition is evaluated against (not on the public AutomationContext)."""
    return context.asset_graph_view.instance


def reader_is_partitioned(context: dg.InputContext) -> bool:
    """Whether the asset loading this input is itself partitioned (an unpartitioned reader maps to every upstream
    partition, whatever partition tags its run carries)."""
    step = context.step_context
    assets_def = step.job_def.asset_layer.get_assets_def_for_node(step.node_handle)
    return assets_def is not None and assets_def.partitions_def is not None


def status_judging(
    instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, partition: str, materialization_storage_id: int
) -> tuple[str, str] | None:
    """(status, run id) of the evaluation of `check_key` on `partition` that judged the given materialization, if any.

    Dagster orders a check's executions by when their run was *created*, so of two overlapping runs the one
    created later counts as latest even when the other evaluated (and materialized) after it; this finds the
    evaluation of the materialization that is actually the latest."""
    from dagster._core.event_api import PartitionKeyFilter

    history = instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=50, partition_filter=PartitionKeyFilter(key=partition)
    )
    for record in history:
        event = record.event.dagster_event if record.event else None
        target = getattr(getattr(event, "event_specific_data", None), "target_materialization_data", None)
        if target is not None and target.storage_id == materialization_storage_id:
            return record.status.value, record.run_id
    return None


VERDICT_COLUMNS = ["verdict", "verdict_run_id", "verdict_target_storage_id"]
_COMPLETED = [AssetCheckExecutionRecordStatus.SUCCEEDED.value, AssetCheckExecutionRecordStatus.FAILED.value]
_HISTORY_PAGE = 1000


def last_verdicts(instance: dg.DagsterInstance, wanted: pd.DataFrame) -> pd.DataFrame:
    """Per row of `wanted` (asset as user string, check, partition, latest_materialization_storage_id), its last
    *completed* evaluation (SUCCEEDED or FAILED; a plan is not one), in `wanted`'s order and index (VERDICT_COLUMNS:
    status value, run id, the materialization it judged; NA where there is none). Of several, the latest one that
    judged the partition's latest materialization counts, else the latest one — Dagster's "latest" (the run created
    last) is not always the one that judged the latest materialization (`status_judging`).

    On a SQLite event log one query for every row at once; other storages page through each check's completed
    history (`get_asset_check_execution_history`, a query per page of a check, never one per partition)."""
    out = pd.DataFrame({"verdict": pd.Series(None, index=wanted.index, dtype=object),
                        "verdict_run_id": pd.Series(None, index=wanted.index, dtype=object),
                        "verdict_target_storage_id": pd.Series(pd.NA, index=wanted.index, dtype="Int64")})
    wanted = wanted[wanted["partition"].notna()]
    if wanted.empty:
        return out
    pairs = wanted[["asset", "check"]].drop_duplicates()
    keys = [dg.AssetCheckKey(dg.AssetKey.from_user_string(a), n) for a, n in pairs.itertuples(index=False)]
    storage = instance.event_log_storage
    if _one_query_storage(storage):
        done = _completed_query(storage, keys, (wanted["partition"].min(), wanted["partition"].max()))
    else:
        done = _completed_history(storage, keys, wanted)
    on = ["asset", "check", "partition"]
    done = _verdict_that_counts(done, wanted)
    at = pd.MultiIndex.from_frame(done[on]).get_indexer(pd.MultiIndex.from_frame(wanted[on]))
    hit = wanted.index[at >= 0]
    chosen = done.iloc[at[at >= 0]]
    out.loc[hit, "verdict"] = chosen["status"].to_numpy(dtype=object)
    out.loc[hit, "verdict_run_id"] = chosen["run_id"].to_numpy(dtype=object)
    out.loc[hit, "verdict_target_storage_id"] = chosen["target"].astype("Int64").to_numpy()
    return out


_DONE_COLUMNS = ["asset", "check", "partition", "status", "run_id", "target", "id"]


def _verdict_that_counts(done: pd.DataFrame, wanted: pd.DataFrame) -> pd.DataFrame:
    """Of the completed executions `done` (_DONE_COLUMNS), one per (asset, check, partition) of `wanted`: the latest
    that judged the partition's latest materialization, else the latest."""
    on = ["asset", "check", "partition"]
    done = done.merge(wanted[[*on, "latest_materialization_storage_id"]].drop_duplicates(on), on=on)
    latest = done["latest_materialization_storage_id"].astype("Int64")
    done["judged_latest"] = latest.eq(done["target"].astype("Int64")).fillna(False).astype(bool)
    return done.sort_values(["judged_latest", "id"]).drop_duplicates(on, keep="last")[_DONE_COLUMNS]


def _completed_query(storage, keys: list[dg.AssetCheckKey], between: tuple[str, str]) -> pd.DataFrame:
    """Every completed execution of `keys` on a partition in `between` (inclusive), one query (as
    `_check_partition_query` reads Dagster's `asset_check_executions` table)."""
    db_keys = list(dict.fromkeys(k.asset_key.to_string() for k in keys))
    names = sorted({k.name for k in keys})
    marks = lambda values: ", ".join("?" * len(values))  # noqa: E731
    sql = (
        "SELECT asset_key, check_name, partition, execution_status, run_id, materialization_event_storage_id, id "
        f"FROM asset_check_executions WHERE execution_status IN ({marks(_COMPLETED)}) "
        f"AND asset_key IN ({marks(db_keys)}) AND check_name IN ({marks(names)}) AND partition BETWEEN ? AND ?"
    )
    with storage.index_connection() as conn:
        cursor = conn.connection.cursor()
        try:
            rows = cursor.execute(sql, [*_COMPLETED, *db_keys, *names, *between]).fetchall()
        finally:
            cursor.close()
    frame = pd.DataFrame(rows, columns=["db_key", *_DONE_COLUMNS[1:]])
    users = {k.asset_key.to_string(): k.asset_key.to_user_string() for k in keys}
    frame.insert(0, "asset", frame.pop("db_key").map(users))
    frame["target"] = frame["target"].astype("Int64")
    return frame[_DONE_COLUMNS]


def _completed_history(storage, keys: list[dg.AssetCheckKey], wanted: pd.DataFrame) -> pd.DataFrame:
    """The completed executions of `keys` on the partitions of `wanted`, newest first per check, paged until every
    wanted partition of the check has one that judged its latest materialization (or the history ends)."""
    rows = []
    for key in keys:
        mine = wanted[(wanted["asset"] == key.asset_key.to_user_string()) & (wanted["check"] == key.name)]
        latest = dict(zip(mine["partition"], mine["latest_materialization_storage_id"]))
        open_ = set(latest)
        cursor = None
        while open_:
            page = storage.get_asset_check_execution_history(
                key, limit=_HISTORY_PAGE, cursor=cursor,
                status={AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED},
            )
            for record in page:
                if record.partition not in latest:
                    continue
                event = record.event.dagster_event if record.event else None
                data = getattr(getattr(event, "event_specific_data", None), "target_materialization_data", None)
                target = None if data is None else data.storage_id
                rows.append((key.asset_key.to_user_string(), key.name, record.partition, record.status.value,
                             record.run_id, target, record.id))
                if target is not None and not pd.isna(latest[record.partition]) and target == latest[record.partition]:
                    open_.discard(record.partition)
            if len(page) < _HISTORY_PAGE:
                break
            cursor = page[-1].id
    frame = pd.DataFrame(rows, columns=_DONE_COLUMNS)
    frame["target"] = frame["target"].astype("Int64")
    return frame


def run_start_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, timestamp) of the process that started executing a run, from its RUN_START event (which names no host:
    `nba_pipeline.ops.run_host` records that as run tags)."""
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
    if not records or records[0].dagster_event is None or records[0].dagster_event.pid is None:
        return None
    return int(records[0].dagster_event.pid), float(records[0].timestamp)


def free_slots_of_run(instance: dg.DagsterInstance, run_id: str) -> None:
    """Give back every pool slot a run holds (what run monitoring does for runs that ended)."""
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def backfills_in_progress(instance: dg.DagsterInstance) -> list[dict]:
    """Asset backfills the daemon is still working on: id, creation time, and asset-partitions targeted /
    materialized / failed (with their downstream) as the daemon last recorded them."""
    from dagster._core.execution.backfill import BulkActionStatus

    out = []
    for status in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING):
        for backfill in instance.get_backfills(status=status):
            data = backfill.asset_backfill_data if backfill.is_asset_backfill else None
            out.append(
                {
                    "backfill_id": backfill.backfill_id,
                    "status": status.value,
                    "created_at": float(backfill.backfill_timestamp),
                    "total": data.target_subset.num_partitions_and_non_partitioned_assets if data else None,
                    "done": data.materialized_subset.num_partitions_and_non_partitioned_assets if data else None,
                    "failed": data.failed_and_downstream_subset.num_partitions_and_non_partitioned_assets if data else None,
                }
            )
    return out


def pool_slots_by_run(instance: dg.DagsterInstance) -> dict[str, list[tuple[str, str]]]:
    """Per run id, the (pool, step) slots it holds in every pool of the instance (one query per pool)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    held: dict[str, list[tuple[str, str]]] = {}
    for pool in sorted(storage.get_concurrency_keys()):
        for slot in storage.get_concurrency_info(pool).claimed_slots:
            held.setdefault(slot.run_id, []).append((pool, slot.step_key))
    return held


def failed_check_evaluations(
    instance: dg.DagsterInstance, partitions_by_check: Mapping[dg.AssetCheckKey, Collection[str]]
) -> list[tuple[dg.AssetCheckKey, str, str, dict]]:
    """(check, partition, description, metadata as plain values) of the latest failed evaluation of each given
    check on each given partition: one history query per check (failed records only), never one per date."""
    out = []
    for key, partitions in partitions_by_check.items():
        wanted = set(partitions)
        history = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=len(wanted) + 100, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        for record in history:  # most recent first
            if record.partition not in wanted or record.event is None or record.event.dagster_event is None:
                continue
            wanted.discard(record.partition)
            data = record.event.dagster_event.event_specific_data
            metadata = {k: getattr(v, "value", v) for k, v in (getattr(data, "metadata", None) or {}).items()}
            out.append((key, record.partition, getattr(data, "description", None) or "", metadata))
    return out



def failed_check_records(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey], after_id: int | None, since: float, limit: int
) -> list[tuple[int, str, float, object]]:
    """(record id, run id, created at, AssetCheckEvaluation) of every FAILED evaluation of `keys` recorded after the
    record id `after_id` (or, without one, since the time `since`), oldest first: one query per check, failed
    records only. Check execution records live in the index storage, so this works on run-sharded SQLite too
    (where `get_event_records` needs a run-aware cursor)."""
    out = []
    for key in keys:
        history = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=limit, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        for record in history:  # most recent first
            if (record.id <= after_id) if after_id is not None else (record.create_timestamp < since):
                break
            data = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
            if data is not None:
                out.append((record.id, record.run_id, record.create_timestamp, data))
    return sorted(out, key=lambda r: r[0])


def code_server_runs(run: dg.DagsterRun, timeout: int = 10) -> bool | None:
    """Whether the code server that launched `run` (DefaultRunLauncher's `.dagster/grpc_info` tag) is executing it now;
    None if that server cannot be asked (no tag, or not reachable). `CanCancelExecution` is the gRPC call that asks a
    server about one of its run workers; Dagster has no public client for it."""
    import json

    from dagster._core.storage.tags import GRPC_INFO_TAG
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
    from dagster import deserialize_value

    info = json.loads(run.tags[GRPC_INFO_TAG]) if GRPC_INFO_TAG in run.tags else None
    if not info:
        return None
    client = DagsterGrpcClient(port=info.get("port"), socket=info.get("socket"), host=info.get("host"),
                               use_ssl=bool(info.get("use_ssl", False)))
    try:
        answer = client.can_cancel_execution(CanCancelExecutionRequest(run_id=run.run_id), timeout=timeout)
    except Exception:  # noqa: BLE001  (DagsterUserCodeUnreachableError, grpc errors: the server is not answering)
        return None
    return deserialize_value(answer, CanCancelExecutionResult).can_cancel


def worker_health(running: bool, message: str):
    """A run launcher's answer to run monitoring (`CheckRunHealthResult`, not exported by `dagster`)."""
    from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

    return CheckRunHealthResult(WorkerStatus.RUNNING if running else WorkerStatus.FAILED, message)


def latest_materialization_ids(instance: dg.DagsterInstance, key: dg.AssetKey, dates: Collection[str]) -> dict[str, int]:
    """Per date of `dates`, the storage id of its latest materialization (dates never materialized left out): one
    indexed query, where the public `fetch_materializations` would page through every record of every date
    (`EventLogStorage.get_latest_storage_id_by_partition` is not on the public instance API)."""
    return instance.event_log_storage.get_latest_storage_id_by_partition(
        key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=set(dates))


def failed_check_partitions(instance: dg.DagsterInstance, key: dg.AssetCheckKey, dates: Collection[str]) -> list[tuple[str, int]]:
    """(date, storage id of the evaluation) of each of `dates` whose latest evaluation of check `key` failed, by date
    (`get_asset_check_partition_info`: the public API has no per-partition check status)."""
    infos = instance.event_log_storage.get_asset_check_partition_info([key], partition_keys=list(dates))
    return [(i.partition_key, i.latest_check_event_storage_id)
            for i in sorted(infos, key=lambda i: i.partition_key or "")
            if i.partition_key and i.latest_execution_status == AssetCheckExecutionRecordStatus.FAILED]


def quicken_daemon_loops(seconds: float) -> None:
    """Tests only (`nba_pipeline_tests/daemon_clock/sitecustomize.py`, in the daemon process of a test's `dagster dev`):
    the backfill daemon waits Dagster's fixed `DEFAULT_DAEMON_INTERVAL_SECONDS` (30 s) between iterations and the
    sensor daemon at least `MIN_INTERVAL_LOOP_TIME` (5 s); neither has a setting, so a story waited ~30 s per backfill
    step for nothing. Raises if either constant moved, so an upgrade check names it."""
    import dagster._daemon.controller as controller
    import dagster._daemon.sensor as sensor_daemon

    for module, name in ((controller, "DEFAULT_DAEMON_INTERVAL_SECONDS"), (sensor_daemon, "MIN_INTERVAL_LOOP_TIME")):
        if not isinstance(getattr(module, name, None), (int, float)):
            raise RuntimeError(f"{module.__name__}.{name} is gone: the tests' daemon clock needs another hook")
        setattr(module, name, seconds)
