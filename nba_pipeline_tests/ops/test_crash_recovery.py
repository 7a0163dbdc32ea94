"""A crash must not stall the warehouse pool (one slot, `dagster_home/dagster.yaml`) for every later run.

1. Under a real `dagster dev` with the shipped dagster.yaml — the local one (SQLite) and the production one
   (deploy/production/dagster.yaml, PostgreSQL): a backfill's run worker is killed with `kill -9` in the
   middle of a step. The code server marks the run FAILURE, run monitoring frees the slot it held, and a second,
   overlapping backfill completes with nothing done by hand.
2. A `dagster asset materialize` killed with `kill -9` (in-process: no code server, no daemon watches it) stays
   STARTED and keeps its slot; the `dead_run_sweeper` sensor (running under `make dev`), the README's one command
   `nba-pipeline recover`, or Dagster's own GraphQL mutation marks it finished and frees the slot.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from nba_pipeline.ops.recovery import dead_run_sweeper
from nba_pipeline.ops.run_host import boot_id, process_gone, run_process
from nba_pipeline.warehouse import WAREHOUSE_POOL
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline_tests.conftest import read_table, run_range
from nba_pipeline_tests.dagster_dev import DagsterDev, progress, start_dagster_dev, stop_dagster_dev
from nba_pipeline_tests.postgres import INSTANCE_YAMLS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RAW = ["schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines"]
ANALYTICS = ["team_offense_game_summary", "team_defense_game_summary", "player_game_summary"]
FIRST = ("2021-10-19", "2021-11-01")
SECOND = ("2021-10-26", "2021-11-08")  # overlaps the killed run's dates
# The GraphQL recovery of docs/operations.md: mark the dead run canceled, then free the slots it holds.
RECOVER = """mutation($runId: String!) {
  terminateRun(runId: $runId, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) {
    __typename
    ... on TerminateRunSuccess { run { status } }
    ... on TerminateRunFailure { message }
  }
  freeConcurrencySlotsForRun(runId: $runId)
}"""


def _dates(first: str, last: str) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(first, last)]


def _step_in_progress(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """A step of `run_id` that has started and not ended (the moment it holds the warehouse slot)."""
    started, ended = [], set()
    for record in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}):
        event = record.dagster_event
        (started.append if event.event_type == dg.DagsterEventType.STEP_START else ended.add)(event.step_key)
    return next((step for step in started if step not in ended), None)


def _poll(probe, timeout: float, what: str, interval: float = 0.3, on_timeout=lambda: ""):
    progress(f"waiting for {what} (up to {timeout:.0f} s)")
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        value = probe()
        if value:
            progress(f"  ... {what}: after {time.monotonic() - started:.1f} s")
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s\n{on_timeout()}")


def _slots(instance: dg.DagsterInstance):
    return instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)


@pytest.mark.parametrize("kind", INSTANCE_YAMLS)
def test_the_shipped_instance_frees_the_slots_of_dead_runs(kind):
    shipped = yaml.safe_load(INSTANCE_YAMLS[kind].read_text())
    monitoring = shipped["run_monitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["free_slots_after_run_end_seconds"] > 0  # 0 or absent: slots of dead runs are never freed
    assert monitoring["max_resume_run_attempts"] == 0  # DefaultRunLauncher cannot resume runs
    assert monitoring["max_runtime_seconds"] >= 3600  # a backstop, not a limit on real backfills
    assert shipped["concurrency"]["pools"]["default_limit"] == 1


@pytest.fixture(params=["local", "production"])
def dev(request, tmp_path):
    """`dagster dev` on the local (SQLite) instance, then on the production one (PostgreSQL, a fresh database)."""
    if request.param == "production":
        request.getfixturevalue("postgres_url")
    dev = start_dagster_dev(tmp_path, instance_kind=request.param)
    yield dev
    stop_dagster_dev(dev)


def _tail(dev: DagsterDev) -> str:
    return dev.log.read_text()[-3000:]


def test_a_killed_run_worker_fails_its_run_and_the_next_backfill_completes_unaided(dev, tmp_path):
    # a slow source: the first step holds the warehouse slot for a minute, so the kill lands inside a step (a step
    # of 14 simulated dates lasts well under a second: a kill aimed at one could land between two, slot released)
    dev.faults_file.write_text("fetch_delay_seconds: 60\n")
    first = dev.launch_backfill(RAW + ANALYTICS, _dates(*FIRST))

    def run_in_a_step():
        runs = dev.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": first}))
        return next(((r.run_id, step) for r in runs if (step := _step_in_progress(dev.instance, r.run_id))
                     and r.run_id in _slots(dev.instance).active_run_ids), None)

    killed, step = _poll(run_in_a_step, 180, f"backfill {first} to start a run and a step", on_timeout=lambda: _tail(dev))
    assert dev.instance.get_run_by_id(killed).status == dg.DagsterRunStatus.STARTED
    progress(f"run {killed[:8]} is in step {step}")
    # the run's worker recorded itself (the definitions' executor, in the code server's worker process)
    worker = run_process(dev.instance, dev.instance.get_run_by_id(killed))
    assert (worker.pid, worker.host, worker.boot_id) == (dev.run_worker_pid(killed), socket.gethostname(), boot_id())
    assert process_gone(worker) is None  # alive, and with the create time recorded
    dev.kill_run_worker(killed)
    dev.faults_file.write_text("{}\n")  # the source is fast again for the next backfill

    _poll(lambda: dev.instance.get_run_by_id(killed).is_finished, 30, f"the code server to mark run {killed[:8]} finished")
    instance = dev.instance
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
    messages = [r.message for r in instance.all_logs(killed, of_type=dg.DagsterEventType.ENGINE_EVENT)]
    assert any("was terminated by signal 9" in m for m in messages), messages
    assert killed in _slots(instance).active_run_ids  # what used to stall every later run for good

    second = dev.launch_backfill(RAW + ANALYTICS, _dates(*SECOND))
    _poll(lambda: killed not in _slots(dev.instance).active_run_ids, 60,
          "run monitoring to free the dead run's slot (free_slots_after_run_end_seconds + poll_interval_seconds)",
          interval=1, on_timeout=lambda: _tail(dev))
    # freed by the monitoring daemon's rule (its "Freed N slots" log line never prints in 1.13.27), not earlier
    monitoring = yaml.safe_load((dev.home / "dagster.yaml").read_text())["run_monitoring"]
    assert time.time() >= dev.instance.get_run_record_by_id(killed).end_time + monitoring["free_slots_after_run_end_seconds"]

    progress(f"waiting for backfill {second} ({SECOND[0]}..{SECOND[1]})")
    assert dev.wait_for_backfill(second, timeout=180) in ("COMPLETED", "COMPLETED_SUCCESS")
    progress("waiting until no run is queued or in progress (whatever automation launched has ended too)")
    dev.wait_until_quiet(lambda i: True, timeout=120)

    instance = dev.instance
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
    slots = _slots(instance)
    assert not slots.claimed_slots and not slots.pending_steps, slots
    blocked = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]))
    assert [r.run_id for r in blocked] == [killed]  # nothing else failed or was given up on

    stop_dagster_dev(dev)  # release the warehouse before reading it
    _assert_nothing_half_written(dev.warehouse, tmp_path / "clean.duckdb")


def _assert_nothing_half_written(warehouse: Path, reference: Path) -> None:
    """Each table's rows, date by date, are a clean run's rows for that date or none (the killed run never got to
    it): never part of a date. The second backfill's dates are all there."""
    assert run_range(str(reference), FIRST[0], SECOND[1]).success  # FIRST and SECOND, clean, in-process
    for table in [f"raw.{t}" for t in RAW] + [f"analytics.{t}" for t in ANALYTICS]:
        got, want = read_table(str(warehouse), table), read_table(str(reference), table)
        days = {f"{pd.Timestamp(d):%Y-%m-%d}" for d in got["game_date"]}
        assert days >= set(_dates(*SECOND)) & {f"{pd.Timestamp(d):%Y-%m-%d}" for d in want["game_date"]}, table
        for day, rows in got.groupby("game_date"):
            expected = want[want["game_date"] == day]
            order = list(expected.columns)
            pd.testing.assert_frame_equal(rows[order].sort_values(order).reset_index(drop=True),
                                          expected.sort_values(order).reset_index(drop=True), obj=f"{table} {day}")


def _cli_run(home: Path, warehouse: Path, select: str, partition_args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse)}
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "nba_pipeline.definitions", "--select", select, *partition_args]
    progress("$ dagster " + " ".join(repr(c) if " " in c else c for c in command[1:]))
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@pytest.mark.parametrize("recovery", ["sweeper", "nba-pipeline recover", "graphql"])
def test_a_killed_cli_run_is_recovered_by_the_documented_command(tmp_path, recovery):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")  # the shipped instance config
    warehouse, log = tmp_path / "warehouse.duckdb", tmp_path / "cli.log"
    cli = _cli_run(home, warehouse, "group:raw or group:analytics", ["--partition-range", f"{FIRST[0]}...{FIRST[1]}"], log)

    def run_in_a_step():
        assert cli.poll() is None, log.read_text()[-3000:]
        if not (home / "storage").exists():
            return None
        instance = dg.DagsterInstance.from_config(str(home))
        runs = instance.get_runs()
        return runs and (step := _step_in_progress(instance, runs[0].run_id)) and (runs[0].run_id, step)

    run_id, step = _poll(run_in_a_step, 120, "the CLI run to start a step")
    progress(f"kill -9 the CLI run {run_id[:8]} (pid {cli.pid}) in step {step}")
    cli.send_signal(signal.SIGKILL)
    cli.wait()

    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # nobody is left to report on it
    assert run_id in _slots(instance).active_run_ids

    if recovery == "sweeper":  # what `make dev` does by itself, every minute
        context = dg.build_sensor_context(instance=instance, resources={"warehouse": DuckDBWarehouse(database=str(warehouse))})
        reason = dead_run_sweeper(context)
        assert f"recovered 1 dead run(s): {run_id[:8]}" in reason.skip_message
        expected = dg.DagsterRunStatus.FAILURE
    elif recovery == "nba-pipeline recover":  # the README's one command
        readme = (ROOT / "README.md").read_text()
        assert "nba-pipeline recover" in readme
        env = {**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse)}
        out = subprocess.run([str(BIN / "nba-pipeline"), "recover"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        progress(f"$ nba-pipeline recover\n  -> {out.stdout.strip()}")
        assert out.returncode == 0 and f"run {run_id}" in out.stdout and "process" in out.stdout, out.stderr
        expected = dg.DagsterRunStatus.FAILURE
    else:  # Dagster's own GraphQL, no webserver: for a run this machine did not start
        operations = (ROOT / "docs" / "operations.md").read_text()
        assert " ".join(RECOVER.split()) in " ".join(operations.split())  # the command tested is the one documented
        recover = [str(BIN / "dagster-graphql"), "--empty-workspace", "-v", json.dumps({"runId": run_id}), "-t", RECOVER]
        progress(f"$ dagster-graphql --empty-workspace -v '{{\"runId\": \"{run_id}\"}}' -t '<mutation of docs/operations.md>'")
        out = subprocess.run(recover, cwd=ROOT, env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        progress(f"  -> {out.stdout.strip()}")
        reply = json.loads(out.stdout.strip().splitlines()[-1])["data"]
        assert reply["terminateRun"] == {"__typename": "TerminateRunSuccess", "run": {"status": "CANCELED"}}
        assert reply["freeConcurrencySlotsForRun"] is True
        expected = dg.DagsterRunStatus.CANCELED

    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_run_by_id(run_id).status == expected
    slots = _slots(instance)
    assert not slots.claimed_slots and not slots.pending_steps, slots

    # the next CLI run takes the slot at once (before the recovery it waited on "blocked by limit for pool" for good)
    after = _cli_run(home, warehouse, "schedule", ["--partition", FIRST[0]], tmp_path / "after.log")
    progress("waiting for the next CLI run to finish")
    assert after.wait(timeout=120) == 0, (tmp_path / "after.log").read_text()[-3000:]
    assert not _slots(dg.DagsterInstance.from_config(str(home))).claimed_slots
