"""Evaluating an asset's rules inside its own step, so checks run on every launch path the asset runs on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import dagster as dg
import pandas as pd

from nba_pipeline.checks.rules import CheckInputs, CheckRule, to_check_result
from nba_pipeline.config import Thresholds
from nba_pipeline.partitions import game_date_partitions


def check_specs(rules: Sequence[CheckRule], asset: str) -> list[dg.AssetCheckSpec]:
    return [rule.spec(dg.AssetKey(asset), game_date_partitions) for rule in rules]


def check_results(
    context: dg.AssetExecutionContext,
    rules: Sequence[CheckRule],
    frame: pd.DataFrame,
    thresholds: Thresholds,
    schedule: pd.DataFrame | None = None,
    reference: Mapping[str, pd.DataFrame] | None = None,
) -> Iterator[dg.AssetCheckResult]:
    inputs = CheckInputs(
        frame=frame, dates=window_dates(context), thresholds=thresholds, schedule=schedule, reference=reference or {}
    )
    for rule in rules:
        result = to_check_result(rule, rule.evaluate(inputs), thresholds)
        if not result.passed:
            context.log.warning(f"check {rule.name} failed: {result.description}")
        yield result


def window_dates(context: dg.AssetExecutionContext) -> list[pd.Timestamp]:
    """The run's game dates (one for a single partition, all of them for a range run)."""
    return [pd.Timestamp(key) for key in context.partition_keys]
