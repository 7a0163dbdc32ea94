"""Every daily table is built by one factory, so every one of them is audited before it is published.

`@published_table(phase, rules)` turns a transform — a function of its upstream frames returning a `Table` —
into a daily-partitioned asset whose step always runs in this order:

1. thresholds loaded and validated, the partition range validated (bad input fails before anything is read);
2. inputs loaded through the gated warehouse IO manager (no upstream date that has not passed is ever read);
3. the transform; its rows must all fall on the step's dates;
4. write: the rows go to a staging table;  audit: every rule judges every date of the staged rows;
5. publish: one transaction replaces only the dates that passed every blocking check, quarantines the others
   and records, per date, run, code version and verdicts in the warehouse;
6. Dagster learns the outcome: one materialization (metadata: per date published or quarantined), the check
   results per date, and partition status FAILED for every date of the step whose rows were not published
   (quarantined or held back): the partition bar and the asset's health agree with the warehouse.

Each asset's `code_version` is a hash of its transform's source, so it changes when the transform does. The
warehouse publishes only the asset's *promoted* code version (`nba-pipeline promote` records one; a table's first
publish promotes its own): any other version is refused, however often or late it runs.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.plumbing.automation import gated_eager
from nba_pipeline.checks.gate import note_held_in_run, register_input_window, take_held_back
from nba_pipeline.checks.rules import CheckInputs, CheckRule
from nba_pipeline.checks.runner import audit, check_results, check_specs
from nba_pipeline.config import ThresholdsError
from nba_pipeline.plumbing.dagster_private import mark_partitions_failed
from nba_pipeline.plumbing.run_steps import step_times
from nba_pipeline.dates import InvalidGameDate, parse_game_date_range
from nba_pipeline.metadata import frame_summary, markdown_table
from nba_pipeline.partitions import game_date_partitions
from nba_pipeline.warehouse import STEP_SESSION_TAG, WAREHOUSE_POOL, step_session_key, stored_in
from nba_pipeline.warehouse.base import ColumnTypeChanged, MissingTableError, TableRef, UnpromotedCodeRefused, WarehouseError

RESERVED = {"context", "limits", "dates", "source", "previous"}  # transform parameters filled by the step, not by inputs
PUBLISHED_TABLES: dict[str, TableRef] = {}  # every asset made by `published_table`, by name: what `promote` promotes
CRASH_POINT_ENV = "NBA_PIPELINE_CRASH_POINT"  # fault injection for crash tests: "<asset>:staged" or "<asset>:published"


@dataclass(frozen=True)
class Table:
    """What a transform returns: its rows, metadata worth a glance, and what its rules compare against."""

    frame: pd.DataFrame
    metadata: Mapping[str, Any] = field(default_factory=dict)
    schedule: pd.DataFrame | None = None
    reference: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    audited: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # the rows as the rules read them, if derived
    by_date: pd.DataFrame | None = None  # numbers per game date ('YYYY-MM-DD' index): that partition's metadata


def daily_table(phase: str, automation_condition: dg.AutomationCondition | None = None, **extra: Any) -> dict[str, Any]:
    """`@dg.asset` arguments for a table of `phase`; raw feeds are scheduled, every later phase follows upstream."""
    if automation_condition is None and phase != "raw":
        automation_condition = gated_eager()
    return dict(
        group_name=phase,
        partitions_def=game_date_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata=stored_in(phase),
        kinds={"pandas"},
        automation_condition=automation_condition,
        pool=WAREHOUSE_POOL,
        **extra,
    )


def code_version_of(*objects: Any) -> str:
    """A short hash of the source of the given functions / modules: it changes when the transform changes."""
    digest = hashlib.sha256()
    for obj in objects:
        digest.update(inspect.getsource(obj).encode())
    return digest.hexdigest()[:12]


def published_table(
    phase: str,
    rules: Sequence[CheckRule],
    *,
    name: str | None = None,
    ins: Mapping[str, dg.AssetIn] | None = None,
    code: Sequence[Any] = (),
    automation_condition: dg.AutomationCondition | None = None,
    description: str | None = None,
) -> Callable[[Callable[..., Table]], dg.AssetsDefinition]:
    """Make `transform` a daily table of `phase` checked by `rules` (see the module docstring for the step).

    Parameters of `transform` named after upstream assets are its inputs (`ins` overrides their mapping);
    `context`, `limits` (validated thresholds), `dates` (the step's game dates), `source` and `previous` (the
    table's own published rows of those dates, None before its first publish) are filled in.
    `code`: the modules or functions the transform's output depends on, hashed into the code version."""

    def decorate(transform: Callable[..., Table]) -> dg.AssetsDefinition:
        asset_name = name or transform.__name__
        params = list(inspect.signature(transform).parameters)
        inputs = [p for p in params if p not in RESERVED]
        resources = {"warehouse", "thresholds"} | ({"source"} if "source" in params else set())
        ref = TableRef(schema=phase, table=asset_name)
        version = code_version_of(transform, *code)
        PUBLISHED_TABLES[asset_name] = ref
        asset_ins = {p: (ins or {}).get(p, dg.AssetIn()) for p in inputs}
        for p, spec in asset_ins.items():  # what each input reads per date: the step holds back dates, not itself
            register_input_window(asset_name, p, spec.partition_mapping, dict(spec.metadata or {}))

        @dg.asset(
            name=asset_name,
            description=description or inspect.getdoc(transform),
            ins=asset_ins,
            required_resource_keys=resources,
            check_specs=check_specs(rules, asset_name),
            code_version=version,
            op_tags={STEP_SESSION_TAG: "step"},
            **daily_table(phase, automation_condition),
        )
        def _step(context, **upstream):
            # the connection the inputs were read with, kept for the write-audit-publish, closed when it ends
            with context.resources.warehouse.session(context.log, step=step_session_key(context.run.run_id, context.op_def.name)):
                yield from _write_audit_publish(context, transform, params, upstream, rules, ref, version)

        return _step

    return decorate


def step_dates(context: dg.AssetExecutionContext) -> list[pd.Timestamp]:
    """The step's game dates, validated: a reversed or malformed range fails here, before any work, by name."""
    if context.has_partition_key:
        start = end = context.partition_key
    else:
        window = context.partition_key_range
        start, end = window.start, window.end
    try:
        parse_game_date_range(start, end)
    except InvalidGameDate as err:
        raise dg.Failure(description=f"bad partition range {start}...{end}: {err}") from None
    return [pd.Timestamp(key) for key in context.partition_keys]


def _write_audit_publish(context, transform, params, upstream, rules, ref: TableRef, version: str):
    held = take_held_back(step_session_key(context.run.run_id, context.op_def.name))
    note_held_in_run(context.run.run_id, ref.table, held)
    try:
        limits = context.resources.thresholds.load()
    except ThresholdsError as err:
        raise dg.Failure(description=f"nothing was written: {err}") from None
    every_date = step_dates(context)
    dates = [d for d in every_date if f"{d:%Y-%m-%d}" not in set(held["game_date"])]
    if not dates:  # each input held back some of the dates, together all of them
        first = held.iloc[0]
        raise dg.Failure(
            description=f"refusing to materialize {ref.table}: every one of its {len(held)} date(s) reads upstream dates "
            f"that have not passed their blocking checks (e.g. {first['game_date']} reads {first['upstream']} on "
            f"{first['upstream_date']}: {first['why']}). Fix the upstream data and re-materialize those dates.",
            metadata=_held_metadata(held),
        )
    started = time.monotonic()
    context.log.info(f"{ref.table}: started on {_span(dates)}{_position(context)}"
                     + (f"; {len(held)} date(s) held back (they read dates that did not pass)" if len(held) else ""))
    filled = {"context": context, "limits": limits, "dates": dates}
    if "source" in params:
        filled["source"] = context.resources.source
    if "previous" in params:  # the table's own published rows of these dates: history it appends to or keeps
        filled["previous"] = _published_rows(context.resources.warehouse, ref, dates, context.log)
    table = transform(**{p: upstream[p] if p in upstream else filled[p] for p in params})
    frame = table.frame
    if len(held):  # rows a transform made for held-back dates from what it could read: not built, not published
        frame = frame[~to_datetime(frame["game_date"]).isin(to_datetime(held["game_date"]))]
    outside = ~to_datetime(frame["game_date"]).isin(pd.DatetimeIndex(every_date))
    if outside.any():
        raise dg.Failure(
            description=f"nothing was written: {ref.table} produced {int(outside.sum())} row(s) dated outside the step's "
            f"dates {dates[0]:%Y-%m-%d}..{dates[-1]:%Y-%m-%d}"
        )

    warehouse = context.resources.warehouse
    with warehouse.session(context.log):  # write, audit, publish: one connection
        try:
            staging = warehouse.stage(ref, frame, context.run.run_id, context.log)
            _crash_point(ref.table, "staged")
            staged = warehouse.read_staged(staging, context.log)
        except WarehouseError as err:
            raise dg.Failure(description=str(err)) from None
        checked = table.audited(staged) if table.audited else staged
        result = audit(rules, CheckInputs(checked, dates, limits, table.schedule, table.reference))
        outcomes = result.outcomes(staged, dates)
        try:
            warehouse.publish(ref, staging, outcomes, asset=ref.table, run_id=context.run.run_id, code_version=version, log=context.log)
        except (UnpromotedCodeRefused, ColumnTypeChanged) as err:  # refused before any write: the staged rows are not needed
            warehouse.drop_staging(staging, context.log)
            raise dg.Failure(description=str(err)) from None
        except WarehouseError as err:
            raise dg.Failure(description=str(err)) from None
        _crash_point(ref.table, "published")
    quarantined = outcomes.loc[~outcomes["passed"], "game_date"]
    context.log.info(
        f"{ref.table}: done in {time.monotonic() - started:.1f} s — {len(frame)} rows; "
        f"{int(outcomes['passed'].sum())} date(s) published, {len(quarantined)} quarantined"
        + (f" ({_span(list(quarantined))}: see its failed checks)" if len(quarantined) else "")
        + (f", {len(held)} held back" if len(held) else "")
        # what the step does next takes longer than its data work on a long range: say so, or the log looks stuck
        + (f"; recording {len(rules) * len(dates)} check evaluations ({len(rules)} checks × {len(dates)} dates) in "
           "Dagster's event log" if len(dates) > 1 and rules else "")
    )

    by_date = table.by_date
    if by_date is not None and len(held):
        by_date = by_date.drop(index=list(held["game_date"]), errors="ignore")
    _add_partition_metadata(context, by_date)
    yield dg.MaterializeResult(
        metadata={**frame_summary(staged, **table.metadata), **_publish_metadata(outcomes), **_held_metadata(held)}
    )
    # the step's output materialized every date of its range (Dagster has no per-partition output): a date whose
    # rows were not published must not read as materialized on the partition bar, the asset's health or the API
    unpublished = sorted({f"{d:%Y-%m-%d}" for d in quarantined} | set(held["game_date"]))
    mark_partitions_failed(context.instance, context.asset_key, game_date_partitions, unpublished)
    # in a range run, a date that failed is quarantined and the dates reading it are held back downstream: the
    # run-level result must not stop every other date's downstream steps (Dagster's in-run blocking is per step)
    yield from check_results(context, result, carry_on=not context.has_partition_key and bool(outcomes["passed"].any()))


def _span(dates: Sequence[pd.Timestamp]) -> str:
    if len(dates) == 1:
        return f"{dates[0]:%Y-%m-%d}"
    if len(dates) <= 3:
        return ", ".join(f"{d:%Y-%m-%d}" for d in dates)
    return f"{len(dates)} dates {min(dates):%Y-%m-%d}..{max(dates):%Y-%m-%d}"


def _position(context) -> str:
    """' (step 3 of 15)' in a run of several assets, so a long CLI run's log says how far it is."""
    selected = context.run.asset_selection
    if not selected or len(selected) < 2:
        return ""
    ended = sum(step.end_time is not None for step in step_times(context.instance, context.run.run_id))
    return f" (step {ended + 1} of {len(selected)})"


def _published_rows(warehouse, ref: TableRef, dates: list[pd.Timestamp], log) -> pd.DataFrame | None:
    try:
        return warehouse.read(ref, [f"{d:%Y-%m-%d}" for d in dates], log)
    except MissingTableError:
        return None


def _add_partition_metadata(context: dg.AssetExecutionContext, by_date: pd.DataFrame | None) -> None:
    """Each date's numbers on that date's own materialization event (the step's single materialization still
    yields one event per partition), so the UI's Plots tab draws them over partitions; NaN is left out."""
    if by_date is None or by_date.empty:
        return
    for key, values in by_date.to_dict(orient="index").items():  # one call per date: the API takes one partition
        numbers = {k: dg.MetadataValue.float(float(v)) for k, v in values.items() if pd.notna(v)}
        if numbers:
            context.add_asset_metadata(numbers, partition_key=key)


def _publish_metadata(outcomes: pd.DataFrame) -> dict[str, dg.RawMetadataValue]:
    """Per date published or quarantined: every date for a short range, the quarantined ones for a long one."""
    quarantined = outcomes[~outcomes["passed"]]
    shown = outcomes if len(outcomes) <= 31 else quarantined
    metadata: dict[str, dg.RawMetadataValue] = {
        "dates_published": int(outcomes["passed"].sum()),
        "dates_quarantined": len(quarantined),
        "quarantined_dates": ", ".join(quarantined["game_date"].dt.strftime("%Y-%m-%d").head(50)) or "none",
    }
    if not shown.empty:
        table = shown.head(200).assign(
            game_date=lambda f: f["game_date"].dt.strftime("%Y-%m-%d"),
            outcome=lambda f: f["passed"].map({True: "published", False: "quarantined"}),
        )[["game_date", "outcome", "rows", "checks"]]
        metadata["publish"] = dg.MetadataValue.md(markdown_table(["game date", "outcome", "rows", "checks"], table.values.tolist()))
    return metadata


def _held_metadata(held: pd.DataFrame) -> dict[str, dg.RawMetadataValue]:
    """The dates this step did not build because they read an upstream date that did not pass, and why."""
    if held.empty:
        return {"dates_held_back": 0}
    return {
        "dates_held_back": len(held),
        "held_back": dg.MetadataValue.md(markdown_table(
            ["game date", "reads", "upstream date", "why"],
            held.head(200)[["game_date", "upstream", "upstream_date", "why"]].values.tolist(),
        )),
    }


def _crash_point(table: str, point: str) -> None:
    """Kill this process (as `kill -9` would) at a named point, when a crash test asks for it."""
    if os.environ.get(CRASH_POINT_ENV) == f"{table}:{point}":
        os.kill(os.getpid(), signal.SIGKILL)
