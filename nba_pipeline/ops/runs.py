"""Runs for status: in progress (with done / total asset-partitions, rate and ETA from their step timings, and
whether they are overdue), dead or holding pool slots, and the failed runs touching a range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

import dagster as dg
import pandas as pd

from nba_pipeline.plumbing.dagster_private import backfills_in_progress, pool_slots_by_run
from nba_pipeline.plumbing.run_steps import StepTimes, step_times
from nba_pipeline.ops.recovery import DeadRun, dead_runs

OVERDUE_FACTOR, OVERDUE_MIN_SECONDS, NO_PROGRESS_SECONDS = 2.0, 600.0, 3600.0
MAX_FAILED_RUNS = 20
_IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]
_ENDED = {dg.DagsterRunStatus.SUCCESS.value, dg.DagsterRunStatus.FAILURE.value, dg.DagsterRunStatus.CANCELED.value}


def _partition_count(tags: dict) -> int:
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1
    return 1


def _progress(steps_of: Mapping[str, Sequence[StepTimes]], runs: Sequence[dg.DagsterRun], now: float) -> dict:
    """done / total asset-partitions of `runs` from their step timings (`steps_of`: run id -> its steps), rate, ETA,
    and whether it is overdue."""
    done = total = 0
    step_seconds = 0.0
    running_elapsed, running_parts, started, finished_steps = 0.0, 0, None, 0
    for run in runs:  # a run, or the runs of one backfill — never dates
        parts = _partition_count(run.tags)
        steps = steps_of[run.run_id]
        n_assets = len(run.asset_selection or []) or len(steps) or 1
        total += n_assets * parts
        ended = [s for s in steps if s.end_time is not None]
        done += len(ended) * parts
        finished_steps += len(ended)
        step_seconds += sum(s.end_time - s.start_time for s in ended if s.start_time is not None)
        for s in steps:
            if s.end_time is None and s.start_time is not None:
                running_elapsed, running_parts = max(running_elapsed, now - s.start_time), parts
        firsts = [s.start_time for s in steps if s.start_time is not None]
        if firsts:
            started = min(firsts) if started is None else min(started, min(firsts))
    rate = done / step_seconds if step_seconds > 0 else None  # asset-partitions per second of step time
    eta, overdue, why = None, False, ""
    if rate:
        remaining = max((total - done) / rate - running_elapsed, 0.0)
        eta = dt.datetime.fromtimestamp(now + remaining, dt.timezone.utc).isoformat(timespec="seconds")
        expected = running_parts / rate if running_parts else 0.0
        if running_parts and running_elapsed > max(OVERDUE_FACTOR * expected, OVERDUE_MIN_SECONDS):
            overdue, why = True, f"its running step has taken {running_elapsed:.0f} s; its rate predicts {expected:.0f} s"
    elif started is not None and now - started > NO_PROGRESS_SECONDS and finished_steps == 0:
        overdue, why = True, f"no step finished in {now - started:.0f} s"
    return {"done": done, "total": total, "rate_per_min": None if rate is None else round(rate * 60, 2),
            "eta": eta, "overdue": overdue, "why": why}


def in_progress(instance: dg.DagsterInstance, now: float, dead: Collection[str] = ()) -> pd.DataFrame:
    """Runs and backfills in progress, but for the runs in `dead` (`recovery.dead_runs`: not in progress, whatever
    their status says)."""
    columns = ["kind", "id", "status", "done", "total", "rate_per_min", "eta", "overdue", "why"]
    dead = set(dead)
    runs = [r for r in instance.get_runs(filters=dg.RunsFilter(statuses=_IN_PROGRESS)) if r.run_id not in dead]
    rows = []
    backfills = backfills_in_progress(instance)
    in_backfill: dict[str, list[dg.DagsterRun]] = {}
    for run in runs:
        in_backfill.setdefault(run.tags.get("dagster/backfill", ""), []).append(run)
    for b in backfills:
        mine = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": b["backfill_id"]}))
        p = _progress({r.run_id: step_times(instance, r.run_id) for r in mine}, mine, now)
        done = b["done"] if b["done"] is not None else p["done"]
        total = b["total"] if b["total"] is not None else p["total"]
        rate = p["rate_per_min"]
        eta = (dt.datetime.fromtimestamp(now + 60 * (total - done) / rate, dt.timezone.utc).isoformat(timespec="seconds")
               if rate else None)
        rows.append(["backfill", b["backfill_id"], b["status"], done, total, rate, eta, p["overdue"], p["why"]])
    for run in in_backfill.get("", []):
        p = _progress({run.run_id: step_times(instance, run.run_id)}, [run], now)
        rows.append(["run", run.run_id, run.status.value, p["done"], p["total"], p["rate_per_min"], p["eta"], p["overdue"], p["why"]])
    return pd.DataFrame(rows, columns=columns)


def dead_and_stuck(instance: dg.DagsterInstance, dead_found: Sequence[DeadRun] | None = None) -> pd.DataFrame:
    """Runs whose process died (still STARTED) or that never started, and runs that ended but still hold pool slots,
    with the slots. `dead_found`: `dead_runs(instance)`, if already read."""
    slots = pool_slots_by_run(instance)
    found = dead_runs(instance) if dead_found is None else dead_found
    dead = {d.run_id: d.why for d in found}
    status = {d.run_id: d.status for d in found}
    holders = instance.get_runs(filters=dg.RunsFilter(run_ids=list(slots))) if slots else []
    ended = {r.run_id: r.status.value for r in holders if r.status.value in _ENDED}
    rows = [[rid, status[rid], why, ", ".join(f"{p}:{s}" for p, s in slots.get(rid, []))] for rid, why in dead.items()]
    rows += [[rid, st, f"run ended {st.lower()} but still holds pool slots", ", ".join(f"{p}:{s}" for p, s in slots[rid])]
             for rid, st in ended.items() if rid not in dead]
    return pd.DataFrame(rows, columns=["run_id", "status", "why", "slots"])


def failed_runs(instance: dg.DagsterInstance, start: str, end: str, states: pd.DataFrame) -> pd.DataFrame:
    """The latest failed runs touching the range: which step failed and its error, and whether every asset-date
    it failed on is published now (since fixed)."""
    columns = ["run_id", "job", "partitions", "created_at", "step", "error", "since_fixed"]
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]), limit=200)
    rows = []
    published = states[states["state"] == "published"].groupby("asset")["game_date"].agg(set)
    for record in records:
        run = record.dagster_run
        first = run.tags.get("dagster/asset_partition_range_start") or run.tags.get("dagster/partition")
        last = run.tags.get("dagster/asset_partition_range_end") or first
        if first is None or last < start or first > end:
            continue
        logs = instance.all_logs(run.run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE})
        failure = next((e for e in logs if e.dagster_event and e.dagster_event.is_step_failure), None) or (logs[0] if logs else None)
        step = failure.step_key if failure is not None and failure.step_key else ""
        error = ""
        if failure is not None and failure.dagster_event is not None:
            data = failure.dagster_event.event_specific_data
            user = getattr(data, "user_failure_data", None)
            err = getattr(data, "error", None)
            error = (user.description if user is not None and user.description else None) or (err.message if err else "") or (failure.dagster_event.message or "")
        window = [d for d in pd.date_range(max(first, start), min(last, end)).strftime("%Y-%m-%d")]
        fixed = bool(step) and set(window) <= published.get(step, set())
        rows.append([run.run_id, run.job_name, f"{first}...{last}", dt.datetime.fromtimestamp(record.create_timestamp.timestamp(), dt.timezone.utc).isoformat(timespec="seconds"),
                     step, " ".join(str(error).split())[:400], fixed])
        if len(rows) >= MAX_FAILED_RUNS:
            break
    return pd.DataFrame(rows, columns=columns)
