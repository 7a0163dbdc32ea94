"""A check rule judges each game date of a run on its own; the check passes only if every date passes.

Per-date verdicts are what make a range run explain itself: the result names the failing dates, the failing
game ids and the value against the threshold, and dates without games pass as "no games scheduled".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import dagster as dg
import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.plumbing.automation import with_asset
from nba_pipeline.config import Thresholds
from nba_pipeline.plumbing.dagster_private import AssetCheckEvaluationTargetMaterializationData
from nba_pipeline.metadata import markdown_table

NO_GAMES = "no games scheduled"
SKIPPED_BOOTSTRAP = "skipped: bootstrap"
VERDICT_COLUMNS = ["game_date", "scheduled_games", "rows", "value", "passed", "detail"]


@dataclass(frozen=True)
class CheckInputs:
    """What a rule sees: the asset's rows for the run's dates, the schedule for those dates, the thresholds,
    and named reference frames a rule compares against (e.g. the players who played)."""

    frame: pd.DataFrame
    dates: Sequence[pd.Timestamp]
    thresholds: Thresholds
    schedule: pd.DataFrame | None = None
    reference: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def scheduled_games(self) -> pd.Series:
        """Scheduled games per date of the run (zero on off days); empty when the asset has no schedule input."""
        return self._scheduled.copy()

    @cached_property
    def _scheduled(self) -> pd.Series:  # every rule of an audit asks: counted once per audit
        index = pd.DatetimeIndex(self.dates, name="game_date")
        if self.schedule is None:
            return pd.Series(pd.NA, index=index, dtype="Int64")
        counts = self.schedule.groupby(to_datetime(self.schedule["game_date"]))["game_id"].nunique()
        return counts.reindex(index, fill_value=0).astype("Int64")


Evaluator = Callable[[CheckInputs], pd.DataFrame]
Worse = Literal["lower", "higher"]  # which way a rule's per-date `value` gets worse


@dataclass(frozen=True)
class CheckRule:
    name: str
    description: str
    evaluate: Evaluator  # -> one verdict row per date (VERDICT_COLUMNS)
    blocking: bool = True
    threshold: Callable[[Thresholds], float] | None = field(default=None, compare=False)
    # "lower" for shares and means (less populated is worse), "higher" for counts of bad rows (more is worse)
    worse: Worse = "lower"
    unit: str = ""  # of `value` and `threshold` ("%", "rows", "points"): recorded with every evaluation

    def worst(self, values: pd.Series) -> float:
        """The worst of per-date values, in this rule's direction."""
        return float(values.max() if self.worse == "higher" else values.min())

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.ERROR if self.blocking else dg.AssetCheckSeverity.WARN

    def spec(self, asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            name=self.name,
            asset=asset_key,
            description=self.description,
            blocking=self.blocking,
            partitions_def=partitions_def,
            automation_condition=with_asset(),
        )


def verdicts_by_date(per_date: pd.DataFrame, inputs: CheckInputs) -> pd.DataFrame:
    """Complete per-date verdicts: dates absent from `per_date` had no rows — fine only if nothing was scheduled."""
    scheduled = inputs.scheduled_games()
    out = per_date.set_index("game_date").reindex(scheduled.index) if not per_date.empty else pd.DataFrame(index=scheduled.index)
    for col in ("rows", "value", "passed", "detail"):
        if col not in out:
            out[col] = pd.NA
    out["scheduled_games"] = scheduled
    out["rows"] = pd.to_numeric(out["rows"]).fillna(0).astype("int64")
    no_rows = out["rows"] == 0
    unknown = scheduled.isna().to_numpy()  # the asset has no schedule input: completeness is checked downstream
    nothing_scheduled = (scheduled.fillna(0) == 0).to_numpy() & ~unknown
    unrecorded, off_day = no_rows & unknown, no_rows & nothing_scheduled
    missing = no_rows & ~nothing_scheduled & ~unknown
    passed = out["passed"].astype("boolean").mask(unrecorded | off_day, True).mask(missing, False)
    out["passed"] = passed.fillna(True).astype(bool)
    detail = out["detail"].astype(object).mask(unrecorded, "no rows").mask(off_day, NO_GAMES)
    out["detail"] = detail.mask(missing, "no rows for the scheduled games").fillna("").astype(str)
    return out.reset_index()[VERDICT_COLUMNS]


def to_check_result(rule: CheckRule, verdicts: pd.DataFrame, thresholds: Thresholds) -> dg.AssetCheckResult:
    """One result for the run, with per-date numbers in metadata so the check page explains itself."""
    failed = verdicts[~verdicts["passed"]]
    no_games = verdicts["detail"] == NO_GAMES
    bootstrap = verdicts["detail"] == SKIPPED_BOOTSTRAP
    checked = verdicts[~no_games & ~bootstrap]
    values = pd.to_numeric(checked["value"], errors="coerce").dropna()
    metadata: dict[str, dg.RawMetadataValue] = {
        "dates_checked": len(verdicts),
        "dates_with_games": int((~no_games).sum()),
        "dates_no_games_scheduled": int(no_games.sum()),
        "dates_skipped_bootstrap": int(bootstrap.sum()),
        "dates_failed": len(failed),
        "failed_dates": ", ".join(d.strftime("%Y-%m-%d") for d in failed["game_date"][:50]) or "none",
    }
    if rule.threshold is not None:
        metadata["threshold"] = float(rule.threshold(thresholds))
    if rule.unit:
        metadata["unit"] = rule.unit
    if not values.empty:
        metadata["worst_value"] = rule.worst(values)
    if not failed.empty:
        metadata["failures"] = dg.MetadataValue.md(_markdown(failed.head(25)))
    if len(verdicts) == 1 and no_games.all():
        metadata["status"] = NO_GAMES
    elif bootstrap.any():
        metadata["status"] = f"{SKIPPED_BOOTSTRAP}, {int(bootstrap.sum())} dates"
    return dg.AssetCheckResult(
        check_name=rule.name,
        passed=failed.empty,
        severity=rule.severity,
        metadata=metadata,
        description=f"{len(failed)} of {len(verdicts)} date(s) failed: {failed['detail'].iloc[0]}"
        if not failed.empty
        else metadata.get("status"),
    )


def to_partition_evaluations(
    rule: CheckRule,
    verdicts: pd.DataFrame,
    thresholds: Thresholds,
    asset_key: dg.AssetKey,
    targets: Mapping[str, AssetCheckEvaluationTargetMaterializationData] | None = None,
) -> list[dg.AssetCheckEvaluation]:
    """One evaluation per game date, so a range run records which dates passed (the UI's per-partition view,
    automation's `all_deps_blocking_checks_passed`, and the cross-run gate all read these)."""
    threshold = float(rule.threshold(thresholds)) if rule.threshold is not None else None
    evaluations = []
    for row in verdicts.itertuples(index=False):
        key = row.game_date.strftime("%Y-%m-%d")
        metadata: dict[str, dg.RawMetadataValue] = {"rows": int(row.rows), "detail": row.detail or "passed"}
        if not pd.isna(row.scheduled_games):
            metadata["scheduled_games"] = int(row.scheduled_games)
        if not pd.isna(row.value):
            metadata["value"] = float(row.value)
        if threshold is not None:
            metadata["threshold"] = threshold
        if rule.unit:
            metadata["unit"] = rule.unit
        evaluations.append(
            dg.AssetCheckEvaluation(
                asset_key=asset_key,
                check_name=rule.name,
                passed=bool(row.passed),
                metadata=metadata,
                severity=rule.severity,
                description=row.detail or None,
                blocking=rule.blocking,
                partition=key,
                target_materialization_data=(targets or {}).get(key),
            )
        )
    return evaluations


def _markdown(frame: pd.DataFrame) -> str:
    rows = [
        [
            f"{row.game_date:%Y-%m-%d}",
            "" if pd.isna(row.scheduled_games) else int(row.scheduled_games),
            row.rows,
            "" if pd.isna(row.value) else f"{float(row.value):.2f}",
            row.detail,
        ]
        for row in frame.itertuples(index=False)
    ]
    return markdown_table(["game date", "scheduled games", "rows", "value", "detail"], rows)
