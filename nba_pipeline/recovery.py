"""Nothing stalls after a crash: runs whose process died are marked failed and give back their pool slots.

A run the daemon launched is watched by its code server (marked FAILURE when its worker dies) and by run
monitoring (`dagster_home/dagster.yaml` frees the slots of finished runs). A run launched in-process — the CLI,
`make run` — has nobody watching it: killed with `kill -9`, it stays STARTED and keeps the `warehouse` slot, and
every later step waits for good. `dead_runs` finds such runs on this machine by the pid their RUN_START event
recorded (and that pid's start time, so a reused pid does not pass for the dead process); `recover_dead_runs`
marks them failed and frees their slots. The `dead_run_sweeper` sensor does it every minute under `make dev`;
`nba-pipeline recover` does it once, by hand.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from nba_pipeline.dagster_private import free_slots_of_run, run_start_pid

SWEEP_INTERVAL_SECONDS = 60


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int
    why: str


def _process_started_at(pid: int) -> float | None:
    """Epoch seconds the process `pid` started, or None if there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """STARTED runs whose process, on this machine, is gone (or its pid now belongs to a newer process)."""
    found = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        started = run_start_pid(instance, run.run_id)
        if started is None:
            continue
        pid, started_at, host = started
        if host is not None and host != socket.gethostname():
            continue  # another machine's run: its own monitoring owns it
        process_started = _process_started_at(pid)
        if process_started is None:
            found.append(DeadRun(run.run_id, run.job_name, pid, f"process {pid} no longer exists"))
        elif process_started > started_at + 1:
            found.append(DeadRun(run.run_id, run.job_name, pid, f"pid {pid} now belongs to a process started after the run"))
    return found


def recover_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Mark every dead run FAILURE (saying why) and free the pool slots it still holds."""
    dead = dead_runs(instance)
    for run in dead:
        record = instance.get_run_by_id(run.run_id)
        if record is None or record.status != dg.DagsterRunStatus.STARTED:
            continue
        instance.report_run_failed(record, message=f"marked failed by nba_pipeline: its {run.why} (killed?)")
        free_slots_of_run(instance, run.run_id)
    return dead


@dg.sensor(minimum_interval_seconds=SWEEP_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
def dead_run_sweeper(context: dg.SensorEvaluationContext):
    """Marks runs whose process died (e.g. a `kill -9` of a CLI run) failed and frees their warehouse slots."""
    recovered = recover_dead_runs(context.instance)
    for run in recovered:
        context.log.warning(f"run {run.run_id} ({run.job_name}) marked failed: {run.why}; its pool slots are freed")
    if recovered:
        return dg.SkipReason(f"recovered {len(recovered)} dead run(s): " + ", ".join(r.run_id[:8] for r in recovered))
    return dg.SkipReason("no run whose process died")
