"""`nba-pipeline status`: what is published, missing, failed, blocked or quarantined, and what is running — from
the Dagster instance and the warehouse's publish log, in one report.

Sources (all bulk reads; nothing loops over dates issuing queries):

- the warehouse's publish log, read from its lock-free Parquet read copy (`<db dir>/published/pipeline/
  publish_log.parquet`), so status never waits on the DuckDB writer: the latest record per asset and date
  (published or quarantined, by which run, which blocking checks failed and why);
- one check-partition read for every check of every asset (`dagster_private.check_partition_frame`), read by
  `checks.gate.many_blocking_problems` for every asset at once — whether a date may be read, the same predicate
  the gate and automation use — and by the check table; one event query per failing check for the evaluations
  that failed (their description says why);
- usage_rate populated % per season from the Parquet read copy of analytics.player_game_summary (players who
  played with a usage_rate / players who played, the population of the `usage_rate_populated` check), computed in
  DuckDB: the published rows themselves, so it is true of what readers read;
- runs in progress and their step timings (`get_run_step_stats`), backfills in progress, dead runs
  (`recovery.dead_runs`: a dead run, NOT_STARTED ones included, is not "in progress") and the pool slots runs hold.

State of a date of an asset (first that applies):
  quarantined  the warehouse's latest record for the date is a quarantine (a blocking check failed on its rows);
  failed       the latest evaluation of a blocking check failed on the instance;
  running      a run in progress will evaluate it (readiness "planned");
  published    the warehouse's latest record is a publish, and the instance saw that run pass every blocking check;
  unverified   published, but the instance did not see that publish pass (stale, not evaluated, no evaluation,
               or the warehouse disagrees about which run published it; a plan by a run that ended without
               publishing the date does not count: its last completed evaluation does, as in the gate);
  blocked      no published rows, and a date it reads of an upstream asset is quarantined, failed or itself
               blocked (named: the root upstream asset, date and check);
  missing      nothing at all yet.
Blocked dates follow the project's partition mappings (`season_history*`, read within the season, as the gate
trims them), so a failed box-score date blocks the precompute dates after it in its season, not the ones before.

Verdict (exit code 0 / 1 / 2):
  CRITICAL  a blocking check's latest evaluation failed on a date in range (quarantined or failed: not since
            fixed), or a run holds pool slots although it died or ended (every later step of that pool waits);
  WARNING   dates in range are missing, blocked or unverified; a non-blocking check's latest evaluation failed;
            a run or backfill is in progress past its ETA (its running step has taken more than twice the time
            its rate predicts and at least 10 minutes, or no step finished within 60 minutes of the run
            starting); a run died without holding slots (run `nba-pipeline recover`);
  HEALTHY   otherwise (runs in progress on schedule are fine).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import dagster as dg
import duckdb
import pandas as pd

from nba_pipeline.checks.gate import READS, SEASON_SO_FAR, first_bad_upstream, many_blocking_problems
from nba_pipeline.checks.readiness import State
from nba_pipeline.dagster_private import (
    backfills_in_progress,
    check_partition_frame,
    failed_check_evaluations,
    pool_slots_by_run,
)
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.partitions import FIRST_GAME_DATE, SEASON_LOOKBACK_DAYS
from nba_pipeline.recovery import DeadRun, dead_runs
from nba_pipeline.warehouse.base import META, PUBLISHED, QUARANTINED
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse

HEALTHY, WARNING, CRITICAL = "HEALTHY", "WARNING", "CRITICAL"
EXIT_CODES = {HEALTHY: 0, WARNING: 1, CRITICAL: 2}
STATES = ["published", "quarantined", "failed", "blocked", "running", "unverified", "missing"]
PROBLEM_STATES = {"quarantined", "failed", "blocked"}  # what blocks downstream dates
OVERDUE_FACTOR, OVERDUE_MIN_SECONDS, NO_PROGRESS_SECONDS = 2.0, 600.0, 3600.0
MAX_FAILED_RUNS, MAX_EVALUATIONS_FETCHED = 20, 500
LONG_RANGE_DATES = 120
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
RULES = __doc__.split("Verdict (exit code 0 / 1 / 2):\n", 1)[1].strip("\n")
_IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]
_ENDED = {dg.DagsterRunStatus.SUCCESS.value, dg.DagsterRunStatus.FAILURE.value, dg.DagsterRunStatus.CANCELED.value}
_READINESS_RANK = {  # worst first: the date's readiness is its worst blocking check
    State.FAILED.value: 0, State.PLANNED.value: 1, "warehouse disagrees": 2, State.NOT_EVALUATED.value: 3,
    State.STALE.value: 4, State.MISSING.value: 5,
}


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
    failures: pd.DataFrame  # asset, game_date, check, blocking, state, why, value, threshold
    failed_runs: pd.DataFrame  # run_id, job, partitions, created_at, step, error
    in_progress: pd.DataFrame  # kind, id, status, done, total, rate_per_min, eta, overdue, why
    dead_runs: pd.DataFrame  # run_id, status, why, slots
    verdict: str = HEALTHY
    reasons: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

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


def publish_log(warehouse: str, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """The latest publish-log record per asset and date, from the Parquet read copy (never the locked DuckDB file)."""
    path = DuckDBWarehouse(database=warehouse).read_copy_root / META / "publish_log.parquet"
    columns = ["asset", "game_date", "run_id", "code_version", "outcome", "rows", "failed_checks", "checks", "recorded_at"]
    if not path.exists():
        return pd.DataFrame(columns=columns)
    where = " and ".join(
        [f"game_date >= date '{start}'"] * (start is not None) + [f"game_date <= date '{end}'"] * (end is not None)
    ) or "true"
    with duckdb.connect() as conn:
        return conn.execute(
            f"""
            select asset, strftime(game_date, '%Y-%m-%d') as game_date, run_id, code_version, outcome, rows,
                   failed_checks, checks, recorded_at
            from read_parquet('{path}') where {where}
            qualify row_number() over (partition by asset, game_date order by recorded_at desc) = 1
            """
        ).fetchdf()


def usage_rate_by_season(warehouse: str, start: str, end: str) -> pd.DataFrame:
    """Per season: players who played, how many have a usage_rate, the share, and the worst date's share."""
    columns = ["season", "dates", "players_played", "usage_populated", "populated_pct", "min_date_pct"]
    path = DuckDBWarehouse(database=warehouse).read_copy_root / "analytics" / "player_game_summary.parquet"
    if not path.exists():
        return pd.DataFrame(columns=columns)
    with duckdb.connect() as conn:
        per_date = conn.execute(
            f"""
            select cast(game_date as date) as game_date, count(*) as played, count(usage_rate) as populated
            from read_parquet('{path}')
            where played and cast(game_date as date) between date '{start}' and date '{end}'
            group by 1
            """
        ).fetchdf()
    if per_date.empty:
        return pd.DataFrame(columns=columns)
    per_date["season"] = season_labels(pd.to_datetime(per_date["game_date"])).fillna("off-season")
    per_date["pct"] = 100.0 * per_date["populated"] / per_date["played"]
    out = per_date.groupby("season").agg(
        dates=("game_date", "size"), players_played=("played", "sum"), usage_populated=("populated", "sum"),
        min_date_pct=("pct", "min"),
    ).reset_index()
    out["populated_pct"] = (100.0 * out["usage_populated"] / out["players_played"]).round(2)
    out["min_date_pct"] = out["min_date_pct"].round(2)
    return out[columns]


# -- dates: published / quarantined / failed / blocked / ... ---------------------------------------------------------
def _readiness(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str], log: pd.DataFrame,
    infos: pd.DataFrame | None,
) -> pd.DataFrame:
    """Per asset and date that is not readable: its worst state and why (the gate's predicate, warehouse included:
    for the assets the publish log has records of)."""
    columns = ["asset", "game_date", "readiness", "failed_checks", "detail"]
    problems = many_blocking_problems(instance, [a.key for a in assets], dates, log if not log.empty else None, infos,
                                      compared=set(log["asset"]))
    if problems.empty:
        return pd.DataFrame(columns=columns)
    problems = problems.assign(rank=problems["state"].map(_READINESS_RANK).fillna(9))
    failed = problems[problems["state"] == State.FAILED.value].groupby(["asset", "game_date"])["check"].agg(", ".join)
    worst = problems.sort_values(["asset", "game_date", "rank", "check"]).drop_duplicates(["asset", "game_date"])
    worst = worst.set_index(["asset", "game_date"])
    return pd.DataFrame(
        {"readiness": worst["state"], "failed_checks": failed.reindex(worst.index), "detail": worst["detail"]}
    ).reset_index()[columns]


def _edges(asset: dg.AssetsDefinition, known: set[dg.AssetKey]) -> list[tuple[str, int, int, bool]]:
    """(upstream, start offset, end offset, read within the season) of each daily upstream input."""
    out = []
    for name, key in asset.keys_by_input_name.items():
        if key not in known:
            continue
        mapping = asset.get_partition_mapping(key)
        lo = getattr(mapping, "start_offset", 0) if isinstance(mapping, dg.TimeWindowPartitionMapping) else 0
        hi = getattr(mapping, "end_offset", 0) if isinstance(mapping, dg.TimeWindowPartitionMapping) else 0
        in_season = asset.node_def.input_def_named(name).metadata.get(READS) == SEASON_SO_FAR
        out.append((key.to_user_string(), int(lo), int(hi), in_season))
    return out


def check_infos(instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str]) -> pd.DataFrame:
    """Every check's latest evaluation per date of `dates`, in one read (`dagster_private.check_partition_frame`):
    what the dates' states and the check table both read."""
    keys = [dg.AssetCheckKey(a.key, s.name) for a in assets for s in a.check_specs]
    # read as a range of dates (first to last); a short one also as a list of them, which Dagster's own method
    # (storages other than SQLite) needs not to read every record, and an IN list of every date of a long one
    # costs more than the rows it spares
    listed = dates if len(set(dates)) <= LONG_RANGE_DATES else None
    frame = check_partition_frame(instance, keys, listed, between=(min(dates), max(dates)))
    return frame[frame["partition"].isin(dates)].reset_index(drop=True)


def date_states(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str], log: pd.DataFrame,
    infos: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """asset, game_date, state, cause_asset, cause_date, cause_check, detail for every asset and date of `dates`
    (asset by asset, in the order of `assets`). `infos`: `check_infos` of these assets and dates, if already fetched."""
    columns = ["asset", "game_date", "state", "cause_asset", "cause_date", "cause_check", "detail"]
    if not assets:
        return pd.DataFrame(columns=columns)
    day = pd.to_datetime(pd.Series(dates))
    season = season_labels(day)
    group = season.astype(object).where(season.notna(), "off-season " + pd.Series(dates))
    calendar = pd.DataFrame({"game_date": dates, "day": day, "group": group})
    names = [a.key.to_user_string() for a in assets]
    # every asset x date at once, asset-major
    f = pd.DataFrame({"asset": names}).merge(calendar, how="cross")
    f = f.merge(log[["asset", "game_date", "outcome", "failed_checks", "checks"]], on=["asset", "game_date"], how="left")
    ready = _readiness(instance, assets, dates, log, infos)
    f = f.merge(ready.rename(columns={"failed_checks": "instance_failed"}), on=["asset", "game_date"], how="left")
    state = pd.Series("missing", index=f.index, dtype=object)
    published = f["outcome"].eq(PUBLISHED)
    state[published & f["readiness"].isna()] = "published"
    state[published & f["readiness"].notna()] = "unverified"
    state[f["outcome"].isna() & f["readiness"].eq("warehouse disagrees")] = "unverified"
    state[f["readiness"].eq(State.PLANNED.value)] = "running"
    state[f["readiness"].eq(State.FAILED.value)] = "failed"
    state[f["outcome"].eq(QUARANTINED)] = "quarantined"
    f["state"] = state
    f["cause_asset"] = f["asset"]
    f["cause_date"] = f["game_date"]
    f["cause_check"] = f["failed_checks"].where(f["outcome"].eq(QUARANTINED), f["instance_failed"])
    why_quarantined = "quarantined: " + f["checks"].fillna("")
    f["detail"] = why_quarantined.where(f["outcome"].eq(QUARANTINED), f["detail"])
    if f["state"].isin(PROBLEM_STATES).any():  # else nothing is blocked
        f = _blocked(f, assets, len(dates))
    f.loc[f["state"] == "missing", "detail"] = f["detail"].fillna("no publish record and no check evaluation")
    f.loc[~f["state"].isin(PROBLEM_STATES), ["cause_asset", "cause_date", "cause_check"]] = None
    return f[columns]


def _blocked(f: pd.DataFrame, assets: Sequence[dg.AssetsDefinition], n_dates: int) -> pd.DataFrame:
    """Marks blocked every missing date of `f` (every asset's dates, asset-major, upstream assets first) that reads
    an upstream date that is quarantined, failed or itself blocked, keeping the root cause; asset by asset, as
    an asset's blocked dates block its downstream assets."""
    known = {a.key for a in assets}
    finals: dict[str, pd.DataFrame] = {}
    for i, asset in enumerate(assets):
        name = asset.key.to_user_string()
        f_a = f.iloc[i * n_dates:(i + 1) * n_dates].copy()
        open_ = f_a["state"].isin(["missing"])
        for upstream, lo, hi, in_season in _edges(asset, known):
            if not open_.any():
                break
            up = finals[upstream]
            bad = up[up["state"].isin(PROBLEM_STATES)][["game_date", "day", "group", "cause_asset", "cause_date", "cause_check", "state"]]
            if bad.empty:
                continue
            hit = first_bad_upstream(f_a.loc[open_, ["game_date", "day", "group"]], bad, lo, hi, in_season)
            if hit.empty:
                continue
            idx = f_a.index[f_a["game_date"].isin(hit["game_date"]) & open_]
            hit = hit.set_index("game_date").reindex(f_a.loc[idx, "game_date"])
            f_a.loc[idx, "state"] = "blocked"
            f_a.loc[idx, ["cause_asset", "cause_date", "cause_check"]] = hit[["cause_asset", "cause_date", "cause_check"]].to_numpy()
            f_a.loc[idx, "detail"] = (
                "reads " + upstream + " on " + hit["cause_from"].to_numpy() + ", blocked by " + hit["cause_asset"].to_numpy()
                + " " + hit["cause_check"].fillna("?").to_numpy() + " on " + hit["cause_date"].to_numpy()
            )
            open_ = f_a["state"].isin(["missing"])
        finals[name] = f_a
    return pd.concat(finals.values())


# -- checks -------------------------------------------------------------------------------------------------------
def check_table(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str], infos: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pass rates per check and season, failing evaluations with why) — one check-partition read for every check
    in range (or `infos`, `check_infos` already fetched), one event query per failing check for the evaluations'
    descriptions."""
    specs = [(a.key, s.name, s.blocking) for a in assets for s in a.check_specs]
    if infos is None:
        infos = check_partition_frame(instance, [dg.AssetCheckKey(k, n) for k, n, _ in specs], dates)
    infos = infos[infos["partition"].isin(dates)]
    frame = infos[["asset", "check", "partition", "status", "check_event_storage_id"]].rename(
        columns={"partition": "game_date", "check_event_storage_id": "storage_id"})
    blocking = pd.DataFrame([(k.to_user_string(), n, b) for k, n, b in specs], columns=["asset", "check", "blocking"])
    frame = frame.merge(blocking, on=["asset", "check"])
    seasons = season_labels(pd.to_datetime(pd.Series(dates))).fillna("off-season")  # per date, looked up per record
    frame["season"] = seasons.iloc[pd.Index(dates).get_indexer(frame["game_date"])].set_axis(frame.index)
    frame["passed"] = frame["status"].eq("SUCCEEDED")
    frame["failed"] = frame["status"].eq("FAILED")
    grid = blocking.merge(pd.DataFrame({"season": sorted(set(seasons))}), how="cross")
    rates = frame.groupby(["asset", "check", "season"]).agg(
        evaluated=("game_date", "size"), passed=("passed", "sum"), failed=("failed", "sum")
    ).reset_index()
    rates = grid.merge(rates, on=["asset", "check", "season"], how="left").fillna({"evaluated": 0, "passed": 0, "failed": 0})
    season_dates = seasons.value_counts()
    rates["dates"] = rates["season"].map(season_dates).astype(int)
    rates[["evaluated", "passed", "failed"]] = rates[["evaluated", "passed", "failed"]].astype(int)
    rates["other"] = rates["dates"] - rates["passed"] - rates["failed"]  # planned, never evaluated, no record
    judged = rates["passed"] + rates["failed"]
    rates["pass_pct"] = (100.0 * rates["passed"] / judged.where(judged > 0)).round(2)
    rates = rates[["asset", "check", "blocking", "season", "dates", "passed", "failed", "other", "pass_pct"]]

    failing = frame[frame["failed"]].sort_values("storage_id", ascending=False)
    fetched = failing.head(MAX_EVALUATIONS_FETCHED)
    wanted = fetched.groupby(["asset", "check"])["game_date"].agg(list)
    evaluations = failed_check_evaluations(
        instance, {dg.AssetCheckKey(dg.AssetKey(asset), check): v for (asset, check), v in wanted.items()}
    )
    events = pd.DataFrame(
        [(key.asset_key.to_user_string(), key.name, day, desc, meta.get("value"), meta.get("threshold"), meta.get("detail"))
         for key, day, desc, meta in evaluations],
        columns=["asset", "check", "game_date", "description", "value", "threshold", "meta_detail"],
    )
    failing = failing.merge(events, on=["asset", "check", "game_date"], how="left")
    failing["value"] = pd.to_numeric(failing["value"], errors="coerce")
    failing["threshold"] = pd.to_numeric(failing["threshold"], errors="coerce")
    detail = failing["meta_detail"].where(~failing["meta_detail"].isin(["passed", ""]))
    measured = ("value " + failing["value"].round(2).astype(str)
                + (" (threshold " + failing["threshold"].astype(str) + ")").where(failing["threshold"].notna(), ""))
    failing["why"] = (failing["description"].where(failing["description"].fillna("") != "")
                      .fillna(detail).fillna(measured.where(failing["value"].notna())).fillna(""))
    failures = failing[["asset", "game_date", "check", "blocking", "value", "threshold", "why"]]
    return rates, failures.sort_values(["game_date", "asset", "check"]).reset_index(drop=True)


# -- runs ---------------------------------------------------------------------------------------------------------
def _partition_count(tags: dict) -> int:
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1
    return 1


def _progress(instance: dg.DagsterInstance, runs: Sequence[dg.DagsterRun], now: float) -> dict:
    """done / total asset-partitions of `runs` from their step timings, rate, ETA, and whether it is overdue."""
    done = total = 0
    step_seconds = 0.0
    running_elapsed, running_parts, started, finished_steps = 0.0, 0, None, 0
    for run in runs:  # a run, or the runs of one backfill — never dates
        parts = _partition_count(run.tags)
        steps = instance.get_run_step_stats(run.run_id)
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
        p = _progress(instance, mine, now)
        done = b["done"] if b["done"] is not None else p["done"]
        total = b["total"] if b["total"] is not None else p["total"]
        rate = p["rate_per_min"]
        eta = (dt.datetime.fromtimestamp(now + 60 * (total - done) / rate, dt.timezone.utc).isoformat(timespec="seconds")
               if rate else None)
        rows.append(["backfill", b["backfill_id"], b["status"], done, total, rate, eta, p["overdue"], p["why"]])
    for run in in_backfill.get("", []):
        p = _progress(instance, [run], now)
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
    from nba_pipeline.dagster_private import DagsterEventType

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
        logs = instance.all_logs(run.run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE})
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


# -- the report ---------------------------------------------------------------------------------------------------
def default_range(log: pd.DataFrame) -> tuple[str, str]:
    """The dates the warehouse has records of; yesterday alone when it has none."""
    if log.empty:
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        return yesterday, yesterday
    return str(log["game_date"].min()), str(log["game_date"].max())


def build_report(
    instance: dg.DagsterInstance,
    warehouse: str,
    start: str | None = None,
    end: str | None = None,
    now: float | None = None,
    select: Sequence[str] | None = None,
) -> StatusReport:
    """The report over [start, end] (default: the dates the warehouse has records of). `select`: asset names or
    group names to report on (default: every daily asset); blocked dates are still traced through every asset."""
    timings, clock = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()

    now = time.time() if now is None else now
    whole = None
    if start is None or end is None:
        whole = publish_log(warehouse)
        first, last = default_range(whole)
        start, end = start or first, end or last
    if end < start:
        raise ValueError(f"--end {end} precedes --start {start}")
    # dates before the range that the range's dates read (a season at most) decide what is blocked
    lookback = max(dt.date.fromisoformat(FIRST_GAME_DATE), dt.date.fromisoformat(start) - dt.timedelta(days=SEASON_LOOKBACK_DAYS))
    extended = list(pd.date_range(lookback, end).strftime("%Y-%m-%d"))
    dates = [d for d in extended if d >= start]
    if whole is None:
        log = publish_log(warehouse, extended[0], end)
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
    failures = failures[["asset", "game_date", "check", "blocking", "state", "value", "threshold", "why"]]
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
        warehouse=str(warehouse), generated_at=dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
        assets=counts.rename_axis("asset").reset_index().rename_axis(None, axis=1),
        dates=states[states["state"] != "published"].reset_index(drop=True),
        checks=checks, usage_rate=usage, failures=failures, failed_runs=failed, in_progress=progress, dead_runs=dead,
        timings=timings,
    )
    report.verdict, report.reasons = verdict(report)
    return report


def verdict(report: StatusReport) -> tuple[str, list[str]]:
    """The verdict and every reason for it (the rules in the module docstring)."""
    critical, warning = [], []
    totals = report.assets[STATES].sum()
    bad = report.dates[report.dates["state"].isin(["quarantined", "failed"])]
    if not bad.empty:
        named = (bad["asset"] + " " + bad["cause_check"].fillna("?") + " on " + bad["game_date"]).head(5)
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        critical.append(f"{len(bad)} asset-date(s) failed a blocking check, not since fixed: " + "; ".join(named) + more)
    holding = report.dead_runs[report.dead_runs["slots"] != ""]
    for row in holding.itertuples(index=False):
        critical.append(f"run {row.run_id[:8]} holds pool slots ({row.slots}): {row.why} — run `nba-pipeline recover`")
    for row in report.dead_runs[report.dead_runs["slots"] == ""].itertuples(index=False):
        warning.append(f"run {row.run_id[:8]} died ({row.why}) — run `nba-pipeline recover`")
    for state in ("blocked", "missing", "unverified"):
        if totals.get(state, 0):
            warning.append(f"{int(totals[state])} asset-date(s) {state}")
    soft = report.failures[~report.failures["blocking"].astype(bool)]
    if not soft.empty:
        warning.append(f"{len(soft)} non-blocking check failure(s): "
                       + "; ".join((soft["asset"] + " " + soft["check"] + " on " + soft["game_date"]).head(5)))
    for row in report.in_progress[report.in_progress["overdue"].astype(bool)].itertuples(index=False):
        warning.append(f"{row.kind} {row.id[:8]} is past its ETA: {row.why}")
    if critical:
        return CRITICAL, critical + warning
    return (WARNING, warning) if warning else (HEALTHY, [])


# -- formatting ---------------------------------------------------------------------------------------------------
def _ranges(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows grouped by `by` into first date, last date and count."""
    return frame.groupby(by, dropna=False)["game_date"].agg(first="min", last="max", n="size").reset_index()


def _short(values: pd.Series, width: int = 90) -> pd.Series:
    text = values.fillna("").astype(str)
    return text.where(text.str.len() <= width, text.str[: width - 1] + "…")


def _table(frame: pd.DataFrame, indent: str = "  ") -> str:
    if frame.empty:
        return indent + "(none)"
    text = frame.astype(object).where(frame.notna(), "").to_string(index=False)
    return "\n".join(indent + line for line in text.splitlines())


def format_report(report: StatusReport, explain: bool = True) -> str:
    lines = [
        f"nba-pipeline status {report.start} … {report.end} ({int(report.assets['dates'].max()) if len(report.assets) else 0} dates)"
        f"   instance: {report.instance}   warehouse: {report.warehouse}",
        "",
        f"VERDICT: {report.verdict}" + ("" if report.reasons else " — nothing to report"),
        *(f"  - {r}" for r in report.reasons),
        "",
        "Dates per asset",
        _table(report.assets),
    ]
    blocked = report.dates[report.dates["state"] == "blocked"]
    lines += ["", "Blocked (waiting on an upstream date that failed a blocking check)"]
    if not blocked.empty:
        grouped = _ranges(blocked, ["asset", "cause_asset", "cause_check", "cause_date"])
        grouped["dates"] = grouped["first"] + " … " + grouped["last"] + " (" + grouped["n"].astype(str) + ")"
        grouped["blocked by"] = grouped["cause_asset"] + " " + grouped["cause_check"].fillna("?") + " on " + grouped["cause_date"]
        lines.append(_table(grouped[["asset", "dates", "blocked by"]]))
    else:
        lines.append("  (none)")
    bad = report.dates[report.dates["state"].isin(["quarantined", "failed"])]
    lines += ["", "Failed blocking checks (quarantined / failed, not since fixed)",
              _table(bad[["asset", "game_date", "state", "cause_check"]].assign(why=_short(bad["detail"])).rename(columns={"cause_check": "checks"}).head(30))]
    soft = report.failures[~report.failures["blocking"].astype(bool)]
    lines += ["", "Failed non-blocking checks", _table(soft[["asset", "game_date", "check", "value", "threshold"]].assign(why=_short(soft["why"])).head(30))]
    other = report.dates[report.dates["state"].isin(["missing", "unverified", "running"])]
    if not other.empty:
        grouped = _ranges(other, ["asset", "state"])
        lines += ["", "Missing / unverified / running", _table(grouped.rename(columns={"n": "dates"}))]
    lines += ["", "Checks by season with a failure (pass % of the dates judged; every check and season in --json)"]
    failing = report.checks[report.checks["failed"] > 0]
    lines.append(_table(failing) if not failing.empty else f"  none: {len(report.checks)} check-seasons, no failure")
    unjudged = report.checks[report.checks["other"] > 0]
    if not unjudged.empty:
        grouped = unjudged.groupby(["asset", "season"]).agg(
            checks=("check", "size"), most_dates_unjudged=("other", "max")).reset_index()
        lines += ["", "Checks with dates not judged (no evaluation yet, planned, or never evaluated)", _table(grouped)]
    lines += ["", "usage_rate populated % by season (players who played, published rows)", _table(report.usage_rate)]
    lines += ["", "Runs and backfills in progress", _table(report.in_progress)]
    lines += ["", "Dead runs and runs holding pool slots", _table(report.dead_runs)]
    lines += ["", "Failed runs touching the range (latest first)", _table(report.failed_runs[["run_id", "partitions", "step", "since_fixed", "error"]].assign(run_id=report.failed_runs["run_id"].str[:8], error=_short(report.failed_runs["error"])))]
    if explain:
        lines += ["", "Verdict rules (exit code HEALTHY 0, WARNING 1, CRITICAL 2):", *("  " + r for r in RULES.splitlines())]
    return "\n".join(lines)


def report_json(report: StatusReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)


def warehouse_path(explicit: str | None = None) -> str:
    """The DuckDB warehouse the local deployment writes: --warehouse, else NBA_PIPELINE_WAREHOUSE, else the default
    (`resources.DEFAULT_WAREHOUSE`, repeated here so status does not import the cloud clients; a test checks it)."""
    return explicit or os.environ.get("NBA_PIPELINE_WAREHOUSE", DEFAULT_WAREHOUSE)
