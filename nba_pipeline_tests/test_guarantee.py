"""The guarantee on every path: nothing downstream, and no one reading the warehouse, sees a date that has not
passed its blocking checks — whatever state the runs on that date are in.

Each test reproduces one hole of the issue "The guarantee on every path" and shows it closed:
a queued, a not-started and a cancelled run on a failed date; a missing record; a kill between write and audit
and between publish and audit; a failing date inside a range run; a scan of the whole published warehouse after a
faulty backfill; a run from another instance; bad thresholds at run time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from nba_pipeline.checks import names
from nba_pipeline.checks.readiness import BLOCKING_CHECKS, State, check_states
from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.definitions import ALL_ASSETS, defs
from nba_pipeline.precompute.assets import player_composite_factors
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.tables import CRASH_POINT_ENV
from nba_pipeline_tests.conftest import RAW_AND_ANALYTICS, read_table, run_range
from nba_pipeline_tests.postgres import LOCAL_YAML, persistent_instance
from nba_pipeline_tests.templates import copied

ROOT = Path(__file__).resolve().parents[1]
START, BAD, END = "2021-10-19", "2021-10-22", "2021-10-25"
PGS = dg.AssetKey("player_game_summary")
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])


def _instance(home: Path) -> dg.DagsterInstance:
    """A persistent instance configured by the shipped dagster.yaml, as `make dev` gives one."""
    return persistent_instance(home, "local")


def _launch_factors(instance, warehouse, day=END) -> dg.ExecuteInJobResult:
    """A user insists: player_composite_factors for a date whose windows read BAD."""
    return dg.materialize(
        ALL_ASSETS,
        selection=[player_composite_factors],
        partition_key=day,
        resources=resources_for("local", warehouse_path=warehouse),
        instance=instance,
        raise_on_error=False,
    )


def _refusal(result: dg.ExecuteInJobResult) -> str:
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
    return failure.user_failure_data.description if failure.user_failure_data else failure.error.message


def _pgs_state(instance, day=BAD) -> set[str]:
    return set(check_states(instance, PGS, [day])["state"])


def _build_failed_night(folder: Path) -> None:
    instance = _instance(folder / "home")
    try:
        result = run_range(str(folder / "warehouse.duckdb"), START, END, faults=FAULT, instance=instance)
        assert result.success and _pgs_state(instance) == {State.FAILED.value, State.PASSED.value}  # the others carry on
    finally:
        instance.dispose()


@pytest.fixture
def failed_night(warehouse, tmp_path):
    """raw + analytics for START..END on a persistent instance, with usage_rate failing on BAD (built once, a copy
    per test: templates.py)."""
    copied("guarantee failed night", tmp_path, _build_failed_night)
    instance = _instance(tmp_path / "home")
    yield instance
    instance.dispose()


def _create_run(instance, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    """A run of player_game_summary for BAD that is created but never executes: NOT_STARTED as a launch creates
    it, or QUEUED through the shipped instance's real run queue (submitted against a real code server)."""
    if status == dg.DagsterRunStatus.NOT_STARTED:
        job = defs.resolve_implicit_global_asset_job_def()
        return instance.create_run_for_job(
            job_def=job, status=status, tags={"dagster/partition": BAD}, asset_selection=frozenset({PGS})
        )
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    target = ModuleTarget(module_name="nba_pipeline.definitions", attribute=None, working_directory=str(ROOT), location_name="nba_pipeline")
    with WorkspaceProcessContext(instance, target) as process:
        workspace = process.create_request_context()
        location = workspace.get_code_location("nba_pipeline")
        selector = JobSubsetSelector(
            location_name="nba_pipeline", repository_name="__repository__", job_name="__ASSET_JOB", op_selection=None,
            asset_selection=[PGS],
        )
        job = location.get_job(selector)
        plan = location.get_execution_plan(job, run_config={}, step_keys_to_execute=None, known_state=None, instance=instance)
        run = instance.create_run(
            job_name=job.name, run_id=None, run_config={}, resolved_op_selection=None, step_keys_to_execute=None,
            status=None, tags={"dagster/partition": BAD}, root_run_id=None, parent_run_id=None,
            job_snapshot=job.job_snapshot, execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=job.parent_job_snapshot, asset_selection=frozenset({PGS}), asset_check_selection=None,
            op_selection=None, remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
            asset_graph=workspace.asset_graph,
        )
        instance.submit_run(run.run_id, workspace)
    assert instance.get_run_by_id(run.run_id).status == status
    return run


@pytest.mark.parametrize("state", ["queued", "not_started", "canceled"])
def test_a_run_created_on_a_failed_date_does_not_reopen_it(failed_night, warehouse, state):
    instance = failed_night
    run = _create_run(instance, dg.DagsterRunStatus.QUEUED if state == "queued" else dg.DagsterRunStatus.NOT_STARTED)
    if state == "canceled":
        instance.report_run_canceled(run)
    # Dagster's latest status for BAD is now PLANNED; while the run may still run, BAD is planned (and blocks);
    # once it ended without evaluating, the last completed evaluation counts again: failed
    expected = State.FAILED if state == "canceled" else State.PLANNED
    assert expected.value in _pgs_state(instance)

    message = _refusal(_launch_factors(instance, warehouse))
    assert f"player_game_summary failed {names.USAGE_RATE_POPULATED} on {BAD}" in message
    if state != "canceled":
        assert f"(its last evaluation); run {run.run_id[:8]} ({state}) will evaluate it again" in message
    assert not instance.get_materialized_partitions(dg.AssetKey("player_composite_factors"))


def test_a_date_without_any_check_record_is_blocked(failed_night, warehouse, tmp_path):
    """A wiped or other DAGSTER_HOME: the warehouse has published rows, this instance has no evaluation of them."""
    fresh = _instance(tmp_path / "wiped_home")
    message = _refusal(_launch_factors(fresh, warehouse, day="2021-10-20"))
    assert "2021-10-20 has no evaluation on this instance" in message
    assert set(check_states(fresh, PGS, ["2021-10-19"])["state"]) == {State.MISSING.value}


def test_the_gate_refuses_a_date_the_warehouse_holds_from_a_run_this_instance_never_saw(failed_night, warehouse, tmp_path):
    """One warehouse, one truth: another instance (here an ephemeral one: the CLI without DAGSTER_HOME) republishes
    a date; the real instance still believes its own passing run, and the gate sees they disagree."""
    instance = failed_night
    assert run_range(warehouse, "2021-10-20", "2021-10-20").success  # an ephemeral instance, the same warehouse
    message = _refusal(_launch_factors(instance, warehouse, day="2021-10-21"))
    assert "2021-10-20: the warehouse holds rows published by run" in message
    assert "which this instance did not see pass" in message


def test_a_failing_date_in_a_range_run_leaves_its_published_rows_byte_identical(warehouse, tmp_path):
    instance = _instance(tmp_path / "home")
    assert run_range(warehouse, START, END, instance=instance).success
    before = read_table(warehouse, f"analytics.player_game_summary where game_date = '{BAD}'")

    result = run_range(warehouse, START, END, faults=FAULT, instance=instance)  # the feed breaks on BAD
    assert result.success  # the run goes on for the other dates; BAD is quarantined
    after = read_table(warehouse, f"analytics.player_game_summary where game_date = '{BAD}'")
    pd.testing.assert_frame_equal(after, before)  # the bad rows never replaced the good ones

    quarantined = read_table(warehouse, "quarantine.analytics__player_game_summary")
    assert set(quarantined["game_date"].dt.strftime("%Y-%m-%d")) == {BAD}
    assert set(quarantined["_run_id"]) == {result.run_id}
    log = read_table(warehouse, f"pipeline.publish_log where asset = 'player_game_summary' and run_id = '{result.run_id}'")
    outcome = dict(zip(log["game_date"].astype(str), log["outcome"]))
    assert outcome.pop(BAD) == "quarantined" and set(outcome.values()) == {"published"}
    assert names.USAGE_RATE_POPULATED in log.loc[log["outcome"] == "quarantined", "failed_checks"].iloc[0]
    materialization = next(
        m for m in result.get_asset_materialization_events() if m.asset_key == PGS
    ).materialization.metadata
    assert materialization["quarantined_dates"].value == BAD and materialization["dates_quarantined"].value == 1
    # and the gate still refuses BAD: its latest evaluation failed, whatever rows are published
    assert BAD in _refusal(_launch_factors(instance, warehouse))


def test_after_a_faulty_backfill_no_published_row_belongs_to_a_date_that_did_not_pass(warehouse, tmp_path):
    """Several faults over three weeks, every phase up to the feature store; then a scan of the whole warehouse."""
    instance = _instance(tmp_path / "home")
    faults = [
        SimulatorFaults(duplicate_row_rate=0.5, affected_dates=["2021-10-21"]),
        SimulatorFaults(impossible_stat_rate=0.5, affected_dates=["2021-10-26"]),
        SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=["2021-11-02"]),
        SimulatorFaults(game_id_format="vendor", game_id_feed="team_boxscores", affected_dates=["2021-11-05"]),
    ]
    for fault in faults:  # each fault on its date, as a feed breaks and gets fixed
        day = fault.affected_dates[0]
        run_range(warehouse, day, day, faults=fault, instance=instance, assets=ALL_ASSETS[:-3])
    run_range(warehouse, "2021-10-19", "2021-11-08", instance=instance, assets=ALL_ASSETS[:-3])

    with duckdb.connect(warehouse, read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'analytics', 'precompute', 'ml', 'predictions')"
        ).fetchall()
        assert len(tables) >= 12
        scanned = 0
        for schema, table in tables:
            dates = [r[0] for r in conn.execute(f"select distinct strftime(game_date, '%Y-%m-%d') from {schema}.{table}").fetchall()]
            states = check_states(instance, dg.AssetKey(table), dates)
            not_passed = states[states["state"] != State.PASSED.value]
            assert not_passed.empty, f"{schema}.{table} publishes rows of dates that did not pass:\n{not_passed}"
            scanned += len(dates)
    assert scanned > 100
    quarantine = read_table(warehouse, "pipeline.publish_log where outcome = 'quarantined'")
    assert {"2021-10-21", "2021-10-26", "2021-11-02", "2021-11-05"} <= set(quarantine["game_date"].astype(str))


def test_every_asset_that_reads_another_is_gated_by_construction():
    """Enumerates the Definitions: every input of every non-root asset loads through a gated loader, and every
    daily table registers its blocking checks for the gate and automation."""
    from nba_pipeline.checks.gate import GatedLoader

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is not None:
            assert key in BLOCKING_CHECKS, f"{key.to_user_string()} registered no blocking checks"
        for parent in node.parent_keys:
            manager_key = graph.get(parent).assets_def.get_io_manager_key_for_asset_key(parent)
            manager = defs.resources[manager_key]
            assert isinstance(manager, GatedLoader), f"{key.to_user_string()} reads {parent.to_user_string()} ungated"


def _unpooled_home(home: Path) -> None:
    """The shipped local instance (its event-log storage) without its pool of one warehouse slot: that slot stays
    held by a killed run until recovery frees it, and the launches below would wait for it instead of being judged."""
    config = yaml.safe_load(LOCAL_YAML.read_text())
    del config["concurrency"]
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def _cli_materialize(home: Path, warehouse: str, select: str, start: str, end: str, env: dict | None = None):
    _unpooled_home(home)
    dagster = str(Path(sys.executable).with_name("dagster"))
    return subprocess.run(
        [dagster, "asset", "materialize", "-m", "nba_pipeline.definitions", "--select", select,
         "--partition-range", f"{start}...{end}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": warehouse, **(env or {})},
    )


def _clean_cli_run(folder: Path) -> None:
    done = _cli_materialize(folder / "home", str(folder / "warehouse.duckdb"), "group:raw or group:analytics", START, END)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("point", ["staged", "published"])
def test_a_kill_between_write_and_audit_publishes_nothing_unaudited(warehouse, tmp_path, point):
    """`kill -9` of a CLI run inside player_game_summary's step: after staging (before the audit) or after the
    publish commit (before Dagster stored the checks). Either way the next reader is refused, by name."""
    home = tmp_path / "home"
    copied("guarantee clean CLI run", tmp_path, _clean_cli_run)  # the same first run for both kill points
    before = read_table(warehouse, "analytics.player_game_summary")

    crashed = _cli_materialize(home, warehouse, "group:raw or group:analytics", START, END, {CRASH_POINT_ENV: f"player_game_summary:{point}"})
    assert crashed.returncode == -9
    after = read_table(warehouse, "analytics.player_game_summary")
    if point == "staged":  # nothing was published: the table is exactly what it was
        pd.testing.assert_frame_equal(after, before)
    instance = dg.DagsterInstance.from_config(str(home))
    assert _pgs_state(instance, END) == {State.PLANNED.value}  # the killed run still shows as started
    message = _refusal(_launch_factors(instance, warehouse))
    assert f"player_game_summary {names.USAGE_RATE_POPULATED} on {START} is planned by run" in message

    # once the killed run is marked failed (as `nba-pipeline recover` does), its plans revoke nothing: a date it did
    # not publish reads as before it; a date it published without recording a materialization is refused, since
    # the warehouse names a run this instance never saw pass
    [killed] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    instance.report_run_failed(killed)
    if point == "staged":
        assert _launch_factors(instance, warehouse).success
    else:
        message = _refusal(_launch_factors(instance, warehouse))
        assert f"player_game_summary on {START}: the warehouse holds rows published by run {killed.run_id[:8]}" in message

    assert _cli_materialize(home, warehouse, "group:raw or group:analytics", START, END).returncode == 0
    assert _pgs_state(dg.DagsterInstance.from_config(str(home)), END) == {State.PASSED.value}


def test_bad_thresholds_at_run_time_fail_before_anything_is_written(warehouse, tmp_path, monkeypatch):
    bad = tmp_path / "thresholds.yaml"
    bad.write_text("player_game_summary:\n  usage_rate_populated_min_pct: 140\n")
    resources = resources_for("local", warehouse_path=warehouse)
    resources["thresholds"] = ThresholdsResource(override_file=str(bad))
    result = dg.materialize(RAW_AND_ANALYTICS, partition_key=BAD, resources=resources, raise_on_error=False)
    assert not result.success
    message = _refusal(result)
    assert "nothing was written" in message and "player_game_summary.usage_rate_populated_min_pct" in message
    assert not Path(warehouse).exists() or read_table(warehouse, "pipeline.publish_log").empty
