"""Every use of Dagster's private `dagster._core` API, in one module.

Why these are needed: Dagster's public API has no way to ask, per partition, what a check's latest evaluation
was and whether it judged the latest materialization (`AssetCheckPartitionInfo` is only reachable through the
event log storage), no public way to point a per-partition check evaluation logged from a range run at the
materialization it judged (`AssetCheckEvaluationTargetMaterializationData`), and no public event-type enum for
the latest materialization per partition. The status report (`nba_pipeline.status`) also needs what only
private modules expose: backfills in progress and their done / target subsets (`PartitionBackfill`,
`BulkActionStatus`), the pool slots a run still holds (`get_concurrency_info`), and the failed check evaluations
(`get_asset_check_execution_history` with a status filter, to say why a check failed). The alert sensor
(`nba_pipeline.alerts`) reads check evaluations and run failures after a storage id (`get_asset_check_execution_history` with a status filter: the public `fetch_*`
methods cover materializations, observations and run status changes, not check evaluations). If one of these moves in a Dagster upgrade, this is the one file to fix — with `nba_pipeline/instance_storage.py`,
the event-log storage class the shipped dagster.yaml loads, which has to subclass Dagster's private SQLite storage.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
    AssetCheckPartitionInfo,
)

__all__ = [
    "log_check_evaluations",
    "free_slots_of_run",
    "run_start_pid",
    "status_judging",
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
    from dagster._core.events import DagsterEvent, DagsterEventBatchMetadata, generate_event_batch_id

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
            event_type=DagsterEventType.ASSET_CHECK_EVALUATION, step_context=step_context,
            event_specific_data=evaluation, message=message,
            batch_metadata=DagsterEventBatchMetadata(batch_id, i == last),
        )
        op_context._events.append(event)  # noqa: SLF001  (as log_event: the step's event stream carries it too)


def materialization_targets(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, run_id: str, partition_keys: Collection[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Per partition, the materialization a check evaluation logged now judges: the latest stored one."""
    storage_ids: Mapping[str, int] = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(partition_keys)
    )
    now = time.time()
    return {
        key: AssetCheckEvaluationTargetMaterializationData(storage_id=sid, run_id=run_id, timestamp=now)
        for key, sid in storage_ids.items()
    }


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


def run_start_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float, str | None] | None:
    """(pid, timestamp, host or None) of the process that started executing a run, from its RUN_START event."""
    records = instance.all_logs(run_id, of_type=DagsterEventType.RUN_START)
    if not records or records[0].dagster_event is None or records[0].dagster_event.pid is None:
        return None
    return int(records[0].dagster_event.pid), float(records[0].timestamp), None


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
