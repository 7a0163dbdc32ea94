"""Nothing stalls or lingers after a crash: runs whose process died are marked failed and give back their pool
slots, and the staging tables of runs that will never publish them are dropped.

A run the daemon launched is watched by its code server (marked FAILURE when its worker dies) and by run
monitoring (`dagster_home/dagster.yaml` frees the slots of finished runs). A run launched in-process — the CLI,
`make run` — has nobody watching it: killed with `kill -9`, it stays STARTED and keeps the `warehouse` slot, and
every later step waits for good. `dead_runs` finds such runs among those of this machine: every run records the
host, boot id, pid and process create time it executes in (`nba_pipeline.ops.run_host`), and psutil says whether that
process still lives (a reused pid has another create time; another boot id means the machine rebooted since). A
run of another host is never failed here — on a shared PostgreSQL instance its own machine judges it — and
`recover` lists it ("left alone"). A run without those tags (from before them, or `dg.materialize`) is judged by
the pid of its RUN_START event, as this machine's.

A CLI killed between creating its run and starting it leaves the run NOT_STARTED, its checks PLANNED, for good.
Such a run has no pid to look at, so it counts as dead only when nothing could still start it: NOT_STARTED for
NEVER_STARTED_SECONDS (ten minutes; Dagster's own run monitoring, under the daemon, fails it after its
`start_timeout_seconds`, 180 s here) and no event since the ones `create_run` writes (planned materializations and
checks) — a coordinator that took it (enqueued, launching) or an executor that began it (RUN_START) leaves one.
An in-process run starts within seconds of its creation; a daemon tick that was interrupted re-submits its
NOT_STARTED runs on the next tick, a minute later.

`recover_dead_runs` marks the dead runs failed and frees their slots, then drops every staging table
(`Warehouse.staging_tables`) whose run is not in flight (queued, not started, starting, started or canceling —
the dead ones are failed by then): a finished run's, a dead run's, or one of a run this instance does not know.
The tables are listed before the runs are read, so a run that stages after the listing is not in it. The
`dead_run_sweeper` sensor does it every minute under `make dev`; `nba-pipeline recover` does it once, by hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dagster as dg

from nba_pipeline.plumbing.dagster_private import free_slots_of_run
from nba_pipeline.ops.run_host import process_gone, run_process
from nba_pipeline.warehouse.base import Log, Warehouse, WarehouseBusy, WarehouseError, run_prefix

SWEEP_INTERVAL_SECONDS = 60
NEVER_STARTED_SECONDS = 600.0
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# what `create_run` itself logs: anything else means a coordinator, launcher or executor has taken the run
_CREATION_EVENTS = {dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int | None  # None: it never started
    why: str
    status: str = dg.DagsterRunStatus.STARTED.value  # the status it was found dead in


@dataclass(frozen=True)
class ElsewhereRun:
    """A STARTED run another machine executes: left alone here."""

    run_id: str
    job_name: str
    where: str  # "host NAME", or with the pid namespace when the host is this one
    pid: int


@dataclass(frozen=True)
class DroppedStaging:
    table: str
    rows: int
    why: str


@dataclass
class Recovery:
    """What `recover_dead_runs` did: the runs it marked failed, the runs of other hosts it left alone, the staging
    tables it dropped, those it kept (of runs in flight), and why the staging tables were not looked at, if they
    were not."""

    dead: list[DeadRun] = field(default_factory=list)
    elsewhere: list[ElsewhereRun] = field(default_factory=list)
    dropped: list[DroppedStaging] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    staging_not_checked: str | None = None

    def lines(self) -> list[str]:
        """One line per thing done (or not done), as `nba-pipeline recover` prints them."""
        out = [
            f"run {r.run_id} ({r.job_name}): marked failed" + (", pool slots freed — its " if r.pid is not None else " — ")
            + r.why for r in self.dead
        ] or ["no run whose process died; nothing to recover"]
        out += [f"left alone: run {r.run_id} ({r.job_name}) started on {r.where} (pid {r.pid}); only there can it be "
                "told whether it is alive" for r in self.elsewhere]
        out += [f"dropped {d.table} ({d.rows:,} rows, never published): {d.why}" for d in self.dropped]
        out += [f"kept {table}: its run is in flight" for table in self.kept]
        if self.staging_not_checked:
            out.append(self.staging_not_checked)
        elif not self.dropped and not self.kept:
            out.append("no staging table left behind")
        return out


def dead_runs(
    instance: dg.DagsterInstance, never_started_seconds: float = NEVER_STARTED_SECONDS, now: float | None = None
) -> list[DeadRun]:
    """STARTED runs of this machine whose process is gone (or its pid now belongs to another process, or the
    machine rebooted since), and NOT_STARTED runs nothing has touched for `never_started_seconds` since their
    creation (module docstring)."""
    return _judge(instance, never_started_seconds, now)[0]


def _judge(
    instance: dg.DagsterInstance, never_started_seconds: float, now: float | None
) -> tuple[list[DeadRun], list[ElsewhereRun]]:
    """The dead runs (`dead_runs`), and the STARTED runs of other hosts, which this machine cannot judge."""
    found, elsewhere = [], []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        process = run_process(instance, run)
        if process is None:
            continue
        where = process.elsewhere
        if where is not None:
            elsewhere.append(ElsewhereRun(run.run_id, run.job_name, where, process.pid))
            continue
        why = process_gone(process)
        if why is not None:
            if process.host is None:
                why += " (no host recorded: judged by its RUN_START pid as this machine's)"
            found.append(DeadRun(run.run_id, run.job_name, process.pid, why))
    now = time.time() if now is None else now
    later_events = set(dg.DagsterEventType) - _CREATION_EVENTS
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.NOT_STARTED])):
        age = now - max(record.create_timestamp.timestamp(), record.update_timestamp.timestamp())
        if age < never_started_seconds or instance.all_logs(record.dagster_run.run_id, of_type=later_events):
            continue
        run = record.dagster_run
        found.append(DeadRun(
            run.run_id, run.job_name, None,
            f"created {age:.0f} s ago and never started (its process was killed before it began?)",
            dg.DagsterRunStatus.NOT_STARTED.value,
        ))
    return found, elsewhere


def recover_dead_runs(
    instance: dg.DagsterInstance, warehouse: Warehouse | None, *, never_started_seconds: float = NEVER_STARTED_SECONDS,
    now: float | None = None, log: Log = None,
) -> Recovery:
    """Mark every dead run FAILURE (saying why), free the pool slots it still holds, then drop the staging tables
    of every run not in flight. A warehouse held by a running step (DuckDB) is not waited for: its staging tables
    are left to the next sweep."""
    recovery = Recovery()
    dead, recovery.elsewhere = _judge(instance, never_started_seconds, now)
    for run in dead:
        record = instance.get_run_by_id(run.run_id)
        if record is None or record.status.value != run.status:
            continue  # it moved on since it was found
        said = f"its {run.why} (killed?)" if run.pid is not None else run.why
        instance.report_run_failed(record, message=f"marked failed by nba_pipeline: {said}")
        free_slots_of_run(instance, run.run_id)
        recovery.dead.append(run)
    if warehouse is None:
        recovery.staging_not_checked = "no warehouse given, staging tables not checked"
        return recovery
    try:
        housekeeping = warehouse.for_housekeeping()
        if housekeeping is not None:
            _drop_left_staging(instance, housekeeping, recovery, log)
    except WarehouseBusy as err:
        recovery.staging_not_checked = f"warehouse busy, staging tables not checked ({err})"
    except WarehouseError as err:
        recovery.staging_not_checked = f"staging tables not checked: {err}"
    return recovery


def _drop_left_staging(instance: dg.DagsterInstance, warehouse: Warehouse, recovery: Recovery, log: Log) -> None:
    with warehouse.session(log):  # DuckDB: one connection, so no step stages between the listing and the drops
        tables = warehouse.staging_tables(log)
        if tables.empty:
            return
        in_flight = {run_prefix(r.run_id) for r in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT))}
        keep = tables["run_prefix"].isin(in_flight)
        recovery.kept += tables.loc[keep, "table"].tolist()
        gone = tables[~keep]
        if gone.empty:
            return
        dead = {run_prefix(r.run_id): r.run_id for r in recovery.dead}
        ended = {run_prefix(rid): (rid, status.value) for status in _FINISHED
                 for rid in instance.get_run_ids(filters=dg.RunsFilter(statuses=[status]))}
        for table, prefix, rows in gone[["table", "run_prefix", "rows"]].itertuples(index=False, name=None):
            if prefix in dead:
                why = f"its run {dead[prefix]} died (marked failed now)"
            elif prefix in ended:
                why = f"its run {ended[prefix][0]} ended {ended[prefix][1].lower()}"
            else:
                why = f"no run of this instance has an id starting {prefix[:8]}-{prefix[8:]}"
            warehouse.drop_staging(table, log)
            recovery.dropped.append(DroppedStaging(table, int(rows), why))


@dg.sensor(minimum_interval_seconds=SWEEP_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
def dead_run_sweeper(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    """Marks runs of this machine whose process died (e.g. a `kill -9` of a CLI run) or that never started failed,
    frees their warehouse slots, and drops staging tables no run in flight will publish. Runs of other hosts are
    left alone."""
    recovered = recover_dead_runs(context.instance, warehouse, never_started_seconds=NEVER_STARTED_SECONDS, log=context.log)
    for run in recovered.dead:
        context.log.warning(f"run {run.run_id} ({run.job_name}) marked failed: {run.why}; its pool slots are freed")
    for dropped in recovered.dropped:
        context.log.warning(f"dropped staging table {dropped.table} ({dropped.rows} rows, never published): {dropped.why}")
    if recovered.staging_not_checked:
        context.log.info(recovered.staging_not_checked)
    said = []
    if recovered.dead:
        said.append(f"recovered {len(recovered.dead)} dead run(s): " + ", ".join(r.run_id[:8] for r in recovered.dead))
    if recovered.elsewhere:
        said.append(f"left alone {len(recovered.elsewhere)} run(s) of other hosts: "
                    + ", ".join(f"{r.run_id[:8]} on {r.where}" for r in recovered.elsewhere))
    if recovered.dropped:
        said.append(f"dropped {len(recovered.dropped)} staging table(s) ("
                    f"{sum(d.rows for d in recovered.dropped)} rows): " + ", ".join(d.table for d in recovered.dropped))
    if recovered.staging_not_checked:
        said.append(recovered.staging_not_checked)
    return dg.SkipReason("; ".join(said) or "no run whose process died, no staging table left behind")
