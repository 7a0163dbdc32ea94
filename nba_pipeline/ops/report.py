"""`nba-pipeline status`: what is published, missing, failed, blocked or quarantined, and what is running — from
the Dagster instance and the warehouse's publish log, in one report.

Sources (all bulk reads; nothing loops over dates issuing queries):

- the warehouse's publish log (`Warehouse.publish_log`: DuckDB's lock-free Parquet read copy, so status never
  waits on the DuckDB writer, or BigQuery's `pipeline.publish_log`): the latest record per asset and date
  (published or quarantined, by which run, which blocking checks failed and why);
- one check-partition read for every check of every asset (`dagster_private.check_partition_frame`), read by
  `checks.gate.many_blocking_problems` for every asset at once — whether a date may be read, the same predicate
  the gate and automation use — and by the check table; one event query per failing check for the evaluations
  that failed (their description says why);
- usage_rate populated % per season from the published analytics.player_game_summary (players who played with a
  usage_rate / players who played, the population of the `usage_rate_populated` check): the published rows
  themselves, so it is true of what readers read;
- runs in progress and their step timings (`get_run_step_stats`), backfills in progress, dead runs
  (`recovery.dead_runs`: a dead run, NOT_STARTED ones included, is not "in progress") and the pool slots runs hold.

The report's modules: `published` (warehouse reads), `checks` (check evaluations), `states` (each date's state),
`blocked` (tracing blocked dates to their cause), `runs` (progress, ETA, dead runs), `verdict` (the verdict and the
exit-code rule), `text` and `html` (output).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from nba_pipeline.ops.checks import check_infos, check_table
from nba_pipeline.ops.freshness import LATE_DEADLINE, late_dates
from nba_pipeline.ops.published import as_warehouse, usage_rate_by_season
from nba_pipeline.ops.recovery import dead_runs
from nba_pipeline.ops.runs import dead_and_stuck, failed_runs, in_progress
from nba_pipeline.ops.states import STATES, date_states
from nba_pipeline.ops.verdict import HEALTHY, RULES, UNREACHABLE, exit_code, verdict
from nba_pipeline.partitions import FIRST_GAME_DATE, SEASON_LOOKBACK_DAYS
from nba_pipeline.warehouse.base import Warehouse, WarehouseUnreachable


@dataclass
class StatusReport:
    start: str
    end: str
    instance: str
    warehouse: str
    generated_at: str
    assets: pd.DataFrame  # asset + one count column per state + dates
    dates: pd.DataFrame  # asset, game_date, state, cause_asset, cause_date, cause_check, detail (every non-published)
    checks: pd.DataFrame  # asset, check, blocking, season, dates, passed, failed, other, pass_pct
    usage_rate: pd.DataFrame  # season, dates, players_played, usage_populated, populated_pct, min_date_pct
    failures: pd.DataFrame  # asset, game_date, check, blocking, state, value, threshold, unit, why
    failed_runs: pd.DataFrame  # run_id, job, partitions, created_at, step, error
    in_progress: pd.DataFrame  # kind, id, status, done, total, rate_per_min, eta, overdue, why
    dead_runs: pd.DataFrame  # run_id, status, why, slots
    late: dict = field(default_factory=dict)  # {"date", "assets", "deadline"}: yesterday's post-game tables not published in time
    verdict: str = HEALTHY
    reasons: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return exit_code(self.verdict)

    def to_dict(self) -> dict:
        def records(frame: pd.DataFrame) -> list[dict]:
            return json.loads(frame.to_json(orient="records", date_format="iso"))

        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "rules": RULES,
            "range": {"start": self.start, "end": self.end},
            "instance": self.instance,
            "warehouse": self.warehouse,
            "generated_at": self.generated_at,
            "assets": records(self.assets),
            "not_published": records(self.dates),
            "checks_by_season": records(self.checks),
            "usage_rate_by_season": records(self.usage_rate),
            "failures": records(self.failures),
            "failed_runs": records(self.failed_runs),
            "in_progress": records(self.in_progress),
            "dead_runs": records(self.dead_runs),
            "late": self.late,
            "timings_seconds": self.timings,
        }



# -- inputs ----------------------------------------------------------------------------------------------------
def partitioned_assets() -> list[dg.AssetsDefinition]:
    """Every daily asset of the Definitions, upstream before downstream."""
    # the phase modules, not `nba_pipeline.definitions`: that one also builds resources (BigQuery, GCS clients) the
    # report never uses; a test checks this list is Definitions' ALL_ASSETS
    from nba_pipeline.analytics.assets import analytics_assets
    from nba_pipeline.ml.assets import ml_assets
    from nba_pipeline.precompute.assets import precompute_assets
    from nba_pipeline.predictions.assets import prediction_assets
    from nba_pipeline.raw.assets import raw_assets

    every = [*raw_assets, *analytics_assets, *precompute_assets, *ml_assets, *prediction_assets]
    assets = [a for a in every if a.partitions_def is not None]
    by_key = {a.key: a for a in assets}
    ordered, seen = [], set()

    def visit(a: dg.AssetsDefinition) -> None:
        if a.key in seen:
            return
        seen.add(a.key)
        for up in a.keys_by_input_name.values():
            if up in by_key:
                visit(by_key[up])
        ordered.append(a)

    for a in assets:
        visit(a)
    return ordered



def default_range(log: pd.DataFrame) -> tuple[str, str]:
    """The dates the warehouse has records of; yesterday alone when it has none."""
    if log.empty:
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        return yesterday, yesterday
    return str(log["game_date"].min()), str(log["game_date"].max())


def build_report(
    instance: dg.DagsterInstance,
    warehouse: Warehouse | str,
    start: str | None = None,
    end: str | None = None,
    now: float | None = None,
    select: Sequence[str] | None = None,
) -> StatusReport:
    """The report over [start, end] (default: the dates the warehouse has records of). `select`: asset names or
    group names to report on (default: every daily asset); blocked dates are still traced through every asset.
    A warehouse that cannot be read gives the verdict UNREACHABLE (`unreachable_report`), never "missing" dates."""
    warehouse = as_warehouse(warehouse)
    try:
        return _build_report(instance, warehouse, start, end, now, select)
    except WarehouseUnreachable as err:
        return unreachable_report(instance, warehouse, start, end, now, str(err))


def unreachable_report(instance: dg.DagsterInstance, warehouse: Warehouse, start: str | None, end: str | None,
                       now: float | None, why: str) -> StatusReport:
    """The report when the warehouse cannot be read: nothing about dates, the runs the instance knows of."""
    now = time.time() if now is None else now
    if start is None or end is None:
        start, end = default_range(pd.DataFrame(columns=["game_date"]))
    found = dead_runs(instance, now=now)
    report = StatusReport(
        start=start, end=end, instance=str(getattr(instance, "root_directory", None) or "ephemeral"),
        warehouse=warehouse.where(), generated_at=dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
        assets=pd.DataFrame(columns=["asset", *STATES, "dates"]),
        dates=pd.DataFrame(columns=["asset", "game_date", "state", "cause_asset", "cause_date", "cause_check", "detail"]),
        checks=pd.DataFrame(columns=["asset", "check", "blocking", "season", "dates", "passed", "failed", "other", "pass_pct"]),
        usage_rate=pd.DataFrame(columns=["season", "dates", "players_played", "usage_populated", "populated_pct", "min_date_pct"]), failures=pd.DataFrame(columns=["asset", "game_date", "check", "blocking", "state", "value", "threshold", "unit", "why"]),
        failed_runs=pd.DataFrame(columns=["run_id", "job", "partitions", "created_at", "step", "error", "since_fixed"]),
        in_progress=in_progress(instance, now, {d.run_id for d in found}), dead_runs=dead_and_stuck(instance, found),
        verdict=UNREACHABLE, reasons=[f"the warehouse cannot be read, so nothing is judged: {why}"],
    )
    return report


def _build_report(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    start: str | None,
    end: str | None,
    now: float | None,
    select: Sequence[str] | None,
) -> StatusReport:
    timings, clock = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()

    now = time.time() if now is None else now
    whole, end_given = None, end is not None
    if start is None or end is None:
        whole = warehouse.publish_log()
        first, last = default_range(whole)
        start, end = start or first, end or last
    if end < start:
        raise ValueError(f"--end {end} precedes --start {start}")
    # dates before the range that the range's dates read (a season at most) decide what is blocked
    lookback = max(dt.date.fromisoformat(FIRST_GAME_DATE), dt.date.fromisoformat(start) - dt.timedelta(days=SEASON_LOOKBACK_DAYS))
    extended = list(pd.date_range(lookback, end).strftime("%Y-%m-%d"))
    dates = [d for d in extended if d >= start]
    if whole is None:
        log = warehouse.publish_log(extended[0], end)
    else:  # the whole log, already read: the same rows as reading the range
        log = whole[(whole["game_date"] >= extended[0]) & (whole["game_date"] <= end)].reset_index(drop=True)
    lap("publish_log")
    assets = partitioned_assets()
    shown = [a for a in assets if not select or a.key.to_user_string() in select or a.group_names_by_key[a.key] in select]
    if not shown:
        raise ValueError(f"--select {','.join(select or [])} names no daily asset or group")
    lap("definitions")
    infos = check_infos(instance, assets, extended)
    lap("check_records")
    states = date_states(instance, assets, extended, log, infos)
    names = {a.key.to_user_string() for a in shown}
    states = states[(states["game_date"] >= start) & states["asset"].isin(names)].reset_index(drop=True)
    lap("date_states")
    checks, failures = check_table(instance, shown, dates, infos)
    failures = failures.merge(states[["asset", "game_date", "state"]], on=["asset", "game_date"], how="left")
    failures = failures[["asset", "game_date", "check", "blocking", "state", "value", "threshold", "unit", "why"]]
    lap("checks")
    usage = usage_rate_by_season(warehouse, start, end)
    lap("usage_rate")
    found = dead_runs(instance, now=now)
    progress = in_progress(instance, now, {d.run_id for d in found})
    dead = dead_and_stuck(instance, found)
    failed = failed_runs(instance, start, end, states)
    lap("runs")
    counts = pd.crosstab(states["asset"], states["state"]).reindex(columns=STATES, fill_value=0)
    counts = counts.reindex([a.key.to_user_string() for a in shown], fill_value=0)
    counts["dates"] = len(dates)
    report = StatusReport(
        start=start, end=end, instance=str(getattr(instance, "root_directory", None) or "ephemeral"),
        warehouse=warehouse.where(), generated_at=dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
        assets=counts.rename_axis("asset").reset_index().rename_axis(None, axis=1),
        dates=states[states["state"] != "published"].reset_index(drop=True),
        checks=checks, usage_rate=usage, failures=failures, failed_runs=failed, in_progress=progress, dead_runs=dead,
        timings=timings,
    )
    report.late = late_in_view(warehouse, now, start, end, end_given, log)
    report.verdict, report.reasons = verdict(report)
    return report


def late_in_view(warehouse: Warehouse, now: float, start: str, end: str, end_given: bool, log: pd.DataFrame) -> dict:
    """Yesterday's post-game tables not published by their deadline (`ops.freshness`), when the report looks at
    yesterday: it is in the range, or the range was left to default and the warehouse is live (records within a
    week of yesterday). Empty otherwise, or before the deadline."""
    found = late_dates(warehouse, dt.datetime.fromtimestamp(now, dt.timezone.utc))
    if not found or not found[1]:
        return {}
    day, missing = found
    last = str(log["game_date"].max()) if not log.empty else None
    live = not end_given and last is not None and last >= (dt.date.fromisoformat(day) - dt.timedelta(days=7)).isoformat()
    if not (start <= day <= end or live):
        return {}
    return {"date": day, "assets": missing, "deadline": f"{LATE_DEADLINE:%H:%M} ET"}
