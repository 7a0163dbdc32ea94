"""Dead runs leave no litter: `recover` (the CLI and the `dead_run_sweeper` sensor) drops the staging tables of runs
that will never publish them and fails runs that were created but never started — and keeps what a live run owns.

A run killed right after staging (the fault injection `NBA_PIPELINE_CRASH_POINT=<asset>:staged`, a real `kill -9` of
a real `dagster asset materialize`) on a persistent instance configured by the shipped dagster.yaml (SQLite, and
PostgreSQL for the runs of several hosts), a run created and never started (`create_run_for_job`, as the CLI leaves
one killed before its RUN_START), real runs alive in this process, a real DuckDB file.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from nba_pipeline.ops import recovery as recovery_module
from nba_pipeline.checks.readiness import State, check_states
from nba_pipeline.plumbing.dagster_private import run_start_pid
from nba_pipeline.definitions import defs
from nba_pipeline.ops.recovery import NEVER_STARTED_SECONDS, dead_run_sweeper, dead_runs, recover_dead_runs
from nba_pipeline.ops.runs import in_progress
from nba_pipeline.ops.run_host import BOOT_TAG, HOST_TAG, PID_CREATED_TAG, RUN_TAG, boot_id, run_process
from nba_pipeline.tables import CRASH_POINT_ENV
from nba_pipeline.warehouse.base import TableRef
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline_tests.postgres import instance_home

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START, END, PLANNED_DAY = "2021-10-19", "2021-10-20", "2021-10-21"
PGS = dg.AssetKey("player_game_summary")


def _instance(home: Path) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def _never_started(instance: dg.DagsterInstance) -> dg.DagsterRun:
    """A run as `dagster asset materialize` creates one before its RUN_START: NOT_STARTED, its checks PLANNED."""
    return instance.create_run_for_job(
        job_def=defs.resolve_implicit_global_asset_job_def(), status=dg.DagsterRunStatus.NOT_STARTED,
        tags={"dagster/partition": PLANNED_DAY}, asset_selection=frozenset({PGS}),
    )


def _staging(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        names = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'staging'").fetchall()]
        return {f"staging.{n}": conn.execute(f"select count(*) from staging.{n}").fetchone()[0] for n in names}


def _killed_after_staging(home: Path, warehouse: Path, tmp_path: Path) -> str:
    """A real CLI run of player_boxscores killed (SIGKILL) between staging its rows and auditing them: its run id."""
    _instance(home)
    log = tmp_path / "killed.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse),
           CRASH_POINT_ENV: "player_boxscores:staged"}
    killed = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "nba_pipeline.definitions", "--select", "player_boxscores",
         "--partition-range", f"{START}...{END}"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, timeout=600,
    )
    assert killed.returncode == -9, log.read_text()[-3000:]
    instance = _instance(home)
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert len(runs) == 1
    # the run's executor recorded the process that executed it: this host, this boot, the RUN_START pid
    process = run_process(instance, runs[0])
    assert (process.pid, process.host, process.boot_id) == (_pid(instance, runs[0].run_id), socket.gethostname(), boot_id())
    return runs[0].run_id


def _pid(instance: dg.DagsterInstance, run_id: str) -> int:
    return run_start_pid(instance, run_id)[0]


def _age(said: str) -> str:
    return said.split("created ", 1)[1].split(" s ago", 1)[0]


@pytest.mark.parametrize("recovery", ["nba-pipeline recover", "sweeper"])
def test_recover_drops_a_killed_runs_staging_table_and_fails_a_run_that_never_started(tmp_path, recovery, monkeypatch):
    home, warehouse = tmp_path / "home", tmp_path / "warehouse.duckdb"
    instance = _instance(home)
    planned = _never_started(instance)
    assert set(check_states(instance, PGS, [PLANNED_DAY])["state"]) == {State.PLANNED.value}
    killed = _killed_after_staging(home, warehouse, tmp_path)
    left = f"staging.raw__player_boxscores__{killed.replace('-', '')[:12]}"
    rows = _staging(warehouse)
    assert list(rows) == [left] and rows[left] > 0  # the never-audited rows the kill left behind
    instance = _instance(home)
    assert set(in_progress(instance, time.time())["id"]) >= {planned.run_id}  # "in progress", though nothing runs it

    if recovery == "nba-pipeline recover":  # the README's one command; 0 s: the run above counts as never started
        out = subprocess.run([str(BIN / "nba-pipeline"), "recover", "--never-started-after", "0"], cwd=ROOT,
                             env={**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse)},
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [
            f"run {killed} (__ASSET_JOB): marked failed, pool slots freed — its process {_pid(instance, killed)} no longer exists",
            f"run {planned.run_id} (__ASSET_JOB): marked failed — created {_age(out.stdout)} s ago and never started (its "
            "process was killed before it began?)",
            f"dropped {left} ({rows[left]:,} rows, never published): its run {killed} died (marked failed now)",
        ]
    else:  # what `make dev` does every minute (its ten minutes' wait for a never-started run made 0 s here)
        monkeypatch.setattr(recovery_module, "NEVER_STARTED_SECONDS", 0.0)
        context = dg.build_sensor_context(instance=instance, resources={"warehouse": DuckDBWarehouse(database=str(warehouse))})
        said = dead_run_sweeper(context).skip_message
        assert said == (f"recovered 2 dead run(s): {killed[:8]}, {planned.run_id[:8]}; "
                        f"dropped 1 staging table(s) ({rows[left]} rows): {left}")

    instance = _instance(home)
    assert _staging(warehouse) == {}
    assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.NOT_STARTED]))
    assert instance.get_run_by_id(planned.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
    assert in_progress(instance, time.time()).empty
    assert set(check_states(instance, PGS, [PLANNED_DAY])["state"]) == {State.NOT_EVALUATED.value}  # PLANNED ended

    again = recover_dead_runs(instance, DuckDBWarehouse(database=str(warehouse)))
    assert again.lines() == ["no run whose process died; nothing to recover", "no staging table left behind"]


def test_a_warehouse_locked_by_another_process_is_reported_busy_and_swept_next_time(tmp_path):
    home, warehouse = tmp_path / "home", tmp_path / "warehouse.duckdb"
    killed = _killed_after_staging(home, warehouse, tmp_path)
    env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse)}
    # another process holds the file read-write, as a running step does
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', "
                               "flush=True); sys.stdin.read()", str(warehouse)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = subprocess.run([str(BIN / "nba-pipeline"), "recover"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        assert f"run {killed}" in out.stdout  # the runs are recovered all the same
        assert f"warehouse busy, staging tables not checked (the warehouse {warehouse} is locked by PID {holder.pid}" in out.stdout
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert len(_staging(warehouse)) == 1
    out = subprocess.run([str(BIN / "nba-pipeline"), "recover"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "no run whose process died" in out.stdout, out.stderr
    assert f"its run {killed} ended failure" in out.stdout
    assert _staging(warehouse) == {}


def test_the_staging_table_of_a_live_started_run_is_kept(tmp_path):
    """Inside a real run (STARTED, its process alive: this one), the sweep keeps that run's staging table and drops
    one of a run this instance never had."""
    home, warehouse = tmp_path / "home", tmp_path / "warehouse.duckdb"
    store = DuckDBWarehouse(database=str(warehouse))
    frame = pd.DataFrame({"game_date": pd.to_datetime([START] * 3), "player_id": pd.array([1, 2, 3], dtype="Int64")})
    stranger = store.stage(TableRef("raw", "player_boxscores"), frame, str(uuid.uuid4()))
    seen = {}

    @dg.asset
    def live_step(context):
        seen["mine"] = store.stage(TableRef("raw", "probe"), frame, context.run.run_id)
        seen["recovery"] = recover_dead_runs(context.instance, store, never_started_seconds=0)
        seen["status"] = context.instance.get_run_by_id(context.run.run_id).status

    assert dg.materialize([live_step], instance=_instance(home)).success
    recovery = seen["recovery"]
    assert seen["status"] == dg.DagsterRunStatus.STARTED and not recovery.dead
    assert recovery.kept == [seen["mine"]]
    assert [(d.table, d.rows) for d in recovery.dropped] == [(stranger, 3)]
    assert "no run of this instance has an id starting" in recovery.dropped[0].why
    assert list(_staging(warehouse)) == [seen["mine"]]


def test_a_not_started_run_is_dead_only_when_old_and_untouched(tmp_path):
    instance = _instance(tmp_path / "home")
    run = _never_started(instance)
    created = instance.get_run_record_by_id(run.run_id).create_timestamp.timestamp()
    assert dead_runs(instance, now=created + NEVER_STARTED_SECONDS - 1) == []
    [dead] = dead_runs(instance, now=created + NEVER_STARTED_SECONDS + 1)
    assert dead.run_id == run.run_id and dead.pid is None and dead.status == "NOT_STARTED"
    assert "never started" in dead.why
    instance.report_engine_event("picked up by a launcher", run)  # something took it: not dead, however old
    assert dead_runs(instance, now=created + 100 * NEVER_STARTED_SECONDS) == []
    assert recover_dead_runs(instance, None, now=created + 100 * NEVER_STARTED_SECONDS).dead == []
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.NOT_STARTED


def test_recover_refuses_a_negative_wait_before_doing_anything(tmp_path):
    home = tmp_path / "home"
    run = _never_started(_instance(home))
    out = subprocess.run([str(BIN / "nba-pipeline"), "recover", "--never-started-after", "-5"], cwd=ROOT,
                         env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and out.stderr.strip() == (
        "error: --never-started-after must be 0 or more seconds, got -5; nothing was recovered")
    assert _instance(home).get_run_by_id(run.run_id).status == dg.DagsterRunStatus.NOT_STARTED


def test_a_run_killed_before_it_published_revokes_no_verdict(tmp_path):
    """The issue's night: an analytics range run is killed before it publishes anything (here: in its first step,
    right after staging), after an earlier run had published and passed every date. Once `recover` has marked it
    failed, every one of those dates is readable downstream again: what is published is what passed."""
    from nba_pipeline.checks.gate import blocking_problems
    from nba_pipeline.resources import resources_for
    from nba_pipeline_tests.conftest import RAW_AND_ANALYTICS

    home, warehouse = tmp_path / "home", tmp_path / "warehouse.duckdb"
    instance = _instance(home)
    resources = resources_for("local", warehouse_path=str(warehouse))
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": PLANNED_DAY}
    assert dg.materialize(RAW_AND_ANALYTICS, resources=resources, instance=instance, tags=tags).success
    dates = [START, END, PLANNED_DAY]
    env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse),
           CRASH_POINT_ENV: "team_offense_game_summary:staged"}
    killed = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "nba_pipeline.definitions", "--select", "group:analytics",
         "--partition-range", f"{START}...{PLANNED_DAY}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    instance = _instance(home)
    offense = dg.AssetKey("team_offense_game_summary")
    published = DuckDBWarehouse(database=str(warehouse)).publish_records("team_offense_game_summary", dates)
    blocked = blocking_problems(instance, offense, dates, published)
    assert set(blocked["state"]) == {State.PLANNED.value}  # its run still looks alive: a publish may be under way

    recovered = subprocess.run([str(BIN / "nba-pipeline"), "recover"], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=300)
    assert recovered.returncode == 0 and "marked failed" in recovered.stdout, recovered.stderr[-2000:]
    instance = _instance(home)
    for asset in ("team_offense_game_summary", "team_defense_game_summary", "player_game_summary"):
        records = DuckDBWarehouse(database=str(warehouse)).publish_records(asset, dates)
        assert blocking_problems(instance, dg.AssetKey(asset), dates, records).empty, asset
    assert not _staging(warehouse)  # and its never-audited rows are gone


def _live_runs(home: Path, count: int) -> list[tuple[str, subprocess.Popen]]:
    """`count` real runs, each executing in its own process (`waiting_run`), STARTED, tagged by its executor and
    waiting for its stdin to close."""
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    processes = [subprocess.Popen([sys.executable, "-m", "nba_pipeline_tests.waiting_run"], cwd=ROOT, env=env,
                                  stdin=subprocess.PIPE) for _ in range(count)]
    instance, deadline = _instance(home), time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            runs = instance.get_runs(filters=dg.RunsFilter(job_name="waiting_job", statuses=[dg.DagsterRunStatus.STARTED]))
            if len(runs) == count and all(RUN_TAG in r.tags for r in runs):
                by_pid = {run_process(instance, r).pid: r.run_id for r in runs}
                return [(by_pid[p.pid], p) for p in processes]
            assert all(p.poll() is None for p in processes), "a waiting run ended early"
            time.sleep(0.2)
        raise TimeoutError(f"{count} waiting runs did not start")
    except BaseException:
        for process in processes:
            process.kill()
            process.wait()
        raise


@pytest.mark.parametrize("kind", ["local", "production"])
def test_only_this_hosts_dead_runs_are_failed_and_another_hosts_are_listed(tmp_path, kind, request):
    """On a shared instance: a run of another host stays STARTED through `nba-pipeline recover` and the sweeper,
    though its pid means nothing here (its process is in fact dead); of this host's runs, the one whose pid now
    names another process and the one from before a reboot are failed, the live one is kept."""
    if kind == "production":
        request.getfixturevalue("postgres_url")  # DAGSTER_PG_URL: a fresh database the yaml points at
    home, warehouse = instance_home(tmp_path / "home", kind), tmp_path / "warehouse.duckdb"
    other = _killed_after_staging(home, warehouse, tmp_path)
    [staged] = _staging(warehouse)
    instance = _instance(home)
    other_pid = _pid(instance, other)
    instance.add_run_tags(other, {HOST_TAG: "other-machine.example"})  # as another host's executor would have written
    waiting = _live_runs(home, 3)
    (live, _), (reused, reused_process), (rebooted, rebooted_process) = waiting
    try:
        recorded = run_process(instance, instance.get_run_by_id(reused))
        assert recorded.pid == reused_process.pid and recorded.host == socket.gethostname()
        # a live pid recorded with another create time: as if the run's own process died and its pid was reused
        instance.add_run_tags(reused, {PID_CREATED_TAG: repr(recorded.created_at - 3600)})
        instance.add_run_tags(rebooted, {BOOT_TAG: "00000000-0000-0000-0000-000000000000"})  # same host name, other boot

        env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse)}
        out = subprocess.run([str(BIN / "nba-pipeline"), "recover"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert sorted(lines) == sorted([
            f"run {reused} (waiting_job): marked failed, pool slots freed — its pid {recorded.pid} now belongs to another "
            f"process (started {_at(recorded.created_at)}; the run's process started {_at(recorded.created_at - 3600)})",
            f"run {rebooted} (waiting_job): marked failed, pool slots freed — its process {rebooted_process.pid}'s "
            "machine has rebooted since the run started (boot id 00000000…)",
            f"left alone: run {other} (__ASSET_JOB) started on host other-machine.example (pid {other_pid}); only there "
            "can it be told whether it is alive",
            f"kept {staged}: its run is in flight",  # the other host's run may still publish it
        ]), out.stdout
        instance = _instance(home)
        status = {r: instance.get_run_by_id(r).status for r in (other, live, reused, rebooted)}
        assert status == {other: dg.DagsterRunStatus.STARTED, live: dg.DagsterRunStatus.STARTED,
                          reused: dg.DagsterRunStatus.FAILURE, rebooted: dg.DagsterRunStatus.FAILURE}

        context = dg.build_sensor_context(instance=instance, resources={"warehouse": DuckDBWarehouse(database=str(warehouse))})
        assert dead_run_sweeper(context).skip_message == (
            f"left alone 1 run(s) of other hosts: {other[:8]} on host other-machine.example")
        assert {r: instance.get_run_by_id(r).status for r in (other, live)} == {
            other: dg.DagsterRunStatus.STARTED, live: dg.DagsterRunStatus.STARTED}
        assert list(_staging(warehouse)) == [staged]

        # its tags written for another run (as a re-execution copies its parent's): no host is believed, and the
        # RUN_START pid, judged here, is dead
        instance.add_run_tags(other, {RUN_TAG: "its-parent-run"})
        [dead] = dead_runs(instance)
        assert (dead.run_id, dead.why) == (other, f"process {other_pid} no longer exists (no host recorded: judged by "
                                                  "its RUN_START pid as this machine's)")
    finally:
        for _, process in waiting:
            process.stdin.close()
            process.wait(timeout=300)
        instance.dispose()


def _at(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).isoformat(sep=" ", timespec="seconds")
