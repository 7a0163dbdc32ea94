"""Evaluating an asset's rules inside its own step, so checks run on every launch path the asset runs on.

A single run over a range stores one result per check for the whole range (Dagster's behaviour), so the step
also logs one evaluation per date: each partition then carries its own pass/fail, which is what the UI shows
per partition and what gating across runs reads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

import dagster as dg
import pandas as pd
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.events import DagsterEventType

from nba_pipeline.checks.rules import (
    CheckInputs,
    CheckRule,
    to_check_result,
    to_partition_evaluations,
)
from nba_pipeline.config import Thresholds
from nba_pipeline.partitions import game_date_partitions

BLOCKING_CHECKS: dict[dg.AssetKey, tuple[str, ...]] = {}
"""Blocking check names per asset, for the cross-run gate: a job that selects only a downstream asset carries
no check specs of its upstream assets, so the gate cannot read them off the job."""


def check_specs(rules: Sequence[CheckRule], asset: str) -> list[dg.AssetCheckSpec]:
    BLOCKING_CHECKS[dg.AssetKey(asset)] = tuple(rule.name for rule in rules if rule.blocking)
    return [rule.spec(dg.AssetKey(asset), game_date_partitions) for rule in rules]


def check_results(
    context: dg.AssetExecutionContext,
    rules: Sequence[CheckRule],
    frame: pd.DataFrame,
    thresholds: Thresholds,
    schedule: pd.DataFrame | None = None,
    reference: Mapping[str, pd.DataFrame] | None = None,
) -> Iterator[dg.AssetCheckResult]:
    """The run's result of each rule; in a range run also one evaluation per date (`to_partition_evaluations`)."""
    inputs = CheckInputs(
        frame=frame, dates=window_dates(context), thresholds=thresholds, schedule=schedule, reference=reference or {}
    )
    # A run for one partition key stores its results with that key; a range run (even a one-date range, as
    # backfills launch them) stores them without one, so each date is logged explicitly.
    targets = None if context.has_partition_key else materializations_by_date(context)
    for rule in rules:
        verdicts = rule.evaluate(inputs)
        if targets is not None:
            for evaluation in to_partition_evaluations(rule, verdicts, thresholds, context.asset_key, targets):
                context.log_event(evaluation)
        result = to_check_result(rule, verdicts, thresholds)
        if not result.passed:
            context.log.warning(f"check {rule.name} failed: {result.description}")
        yield result


def materializations_by_date(context: dg.AssetExecutionContext) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The materialization each date's evaluation judges: this run's, already stored when checks run."""
    storage_ids = context.instance.event_log_storage.get_latest_storage_id_by_partition(
        context.asset_key, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(context.partition_keys)
    )
    now = time.time()
    return {
        key: AssetCheckEvaluationTargetMaterializationData(storage_id=sid, run_id=context.run.run_id, timestamp=now)
        for key, sid in storage_ids.items()
    }


def window_dates(context: dg.AssetExecutionContext) -> list[pd.Timestamp]:
    """The run's game dates (one for a single partition, all of them for a range run)."""
    return [pd.Timestamp(key) for key in context.partition_keys]
