"""Auditing a step's staged rows: every rule judges every date, and the dates that pass are the ones published.

A single run over a range stores one result per check for the whole range (Dagster's behaviour), so the step
also logs one evaluation per date: each partition then carries its own pass/fail, which is what the UI shows
per partition and what the gate reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from nba_pipeline.checks.readiness import register_blocking_checks
from nba_pipeline.checks.rules import (
    CheckInputs,
    CheckRule,
    to_check_result,
    to_partition_evaluations,
)
from nba_pipeline.config import Thresholds
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.plumbing.dagster_private import log_check_evaluations, materialization_targets
from nba_pipeline.partitions import game_date_partitions


def check_specs(rules: Sequence[CheckRule], asset: str) -> list[dg.AssetCheckSpec]:
    register_blocking_checks(dg.AssetKey(asset), [rule.name for rule in rules if rule.blocking])
    return [rule.spec(dg.AssetKey(asset), game_date_partitions) for rule in rules]


@dataclass(frozen=True)
class Audit:
    """Every rule's per-date verdicts for a step's dates, and which dates pass every blocking rule."""

    rules: Sequence[CheckRule]
    verdicts: Mapping[str, pd.DataFrame]
    thresholds: Thresholds

    def outcomes(self, frame: pd.DataFrame, dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
        """One row per date: passed (every blocking rule), rows, the blocking rules that failed and why."""
        index = pd.DatetimeIndex(dates, name="game_date")
        out = pd.DataFrame(index=index)
        out["rows"] = to_datetime(frame["game_date"]).value_counts().reindex(index, fill_value=0).astype("int64")
        failed_names = pd.Series("", index=index, dtype=object)
        details = pd.Series("", index=index, dtype=object)
        for rule in self.rules:
            if not rule.blocking:
                continue
            v = self.verdicts[rule.name].set_index("game_date").reindex(index)
            bad = ~v["passed"].astype("boolean").fillna(False).astype(bool)
            sep = failed_names.where(failed_names == "", failed_names + ", ")
            failed_names = failed_names.where(~bad, sep + rule.name)
            why = rule.name + ": " + v["detail"].fillna("").astype(str)
            details = details.where(~bad, details.where(details == "", details + "; ") + why)
        out["passed"] = failed_names == ""
        out["failed_checks"] = failed_names
        out["checks"] = details.where(~out["passed"], "all blocking checks passed")
        return out.reset_index()


def audit(rules: Sequence[CheckRule], inputs: CheckInputs) -> Audit:
    return Audit(rules, {rule.name: rule.evaluate(inputs) for rule in rules}, inputs.thresholds)


def check_results(context: dg.AssetExecutionContext, result: Audit, carry_on: bool = False) -> Iterator[dg.AssetCheckResult]:
    """The run's result of each selected rule; in a range run also one evaluation per date.

    `carry_on`: a range run in which some dates were published. A failed blocking rule's run-level result is then
    a warning, so that Dagster does not skip every downstream step for every date; the failed dates are stopped
    per date instead (their per-date evaluations fail, and downstream steps hold back the dates reading them)."""
    selected = {key.name for key in context.selected_asset_check_keys}
    # A run for one partition key stores its results with that key; a range run (even a one-date range, as
    # backfills launch them) stores them without one, so each date is logged explicitly.
    targets = (
        None
        if context.has_partition_key
        else materialization_targets(context.instance, context.asset_key, context.run.run_id, context.partition_keys)
    )
    rules = [rule for rule in result.rules if rule.name in selected]
    if targets is not None:  # every rule's per-date evaluations, stored as one batch where the instance can
        log_check_evaluations(context, [
            evaluation for rule in rules
            for evaluation in to_partition_evaluations(rule, result.verdicts[rule.name], result.thresholds, context.asset_key, targets)
        ])
    for rule in rules:
        verdicts = result.verdicts[rule.name]
        check = to_check_result(rule, verdicts, result.thresholds)
        if carry_on and not check.passed and rule.blocking:
            check = dg.AssetCheckResult(
                check_name=check.check_name, passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=check.metadata,
                description=f"{check.description} — those dates are quarantined and held back downstream; the others "
                "carry on",
            )
        if not check.passed:
            context.log.warning(f"check {rule.name} failed: {check.description}")
        yield check


def window_dates(context: dg.AssetExecutionContext) -> list[pd.Timestamp]:
    """The run's game dates (one for a single partition, all of them for a range run)."""
    return [pd.Timestamp(key) for key in context.partition_keys]
