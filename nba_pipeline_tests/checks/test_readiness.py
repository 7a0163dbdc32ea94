"""A run that plans dates and ends without evaluating them revokes no verdict (issue 20: a backfill killed before its
first step left every date it planned unreadable until re-materialized).

Raw + analytics are materialized over four dates on a persistent instance, usage_rate failing on BAD; then a run of
the same assets over the same dates is created and never executes a step. Once that run has ended (failed,
cancelled) the dates read as they did before it: the passed ones are readable downstream (a real materialize reads
them through the gate, warehouse comparison included), BAD is still *failed*. While it is queued or started every
date it plans still blocks, and BAD's refusal says which check failed.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from nba_pipeline.checks import names
from nba_pipeline.checks.gate import blocking_problems
from nba_pipeline.checks.readiness import State, check_states
from nba_pipeline.plumbing.dagster_private import (
    _completed_history,
    _completed_query,
    _verdict_that_counts,
    check_partition_frame,
    last_verdicts,
)
from nba_pipeline.definitions import ALL_ASSETS, defs
from nba_pipeline.precompute.assets import player_composite_factors
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.ops.report import build_report
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline_tests.conftest import RAW_AND_ANALYTICS, run_range
from nba_pipeline_tests.postgres import persistent_instance
from nba_pipeline_tests.templates import copy_of

ROOT = Path(__file__).resolve().parents[2]
START, BAD, END = "2021-10-19", "2021-10-21", "2021-10-22"
DATES = ["2021-10-19", "2021-10-20", BAD, END]
PASSED_DATES = [d for d in DATES if d != BAD]
PGS = dg.AssetKey("player_game_summary")
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
RANGE_TAGS = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}


def _build_night(kind: str, folder: Path) -> str:
    instance = persistent_instance(folder / "home", kind)
    try:
        result = run_range(str(folder / "warehouse.duckdb"), START, END, faults=FAULT, instance=instance)
        assert result.success  # BAD quarantined, the other dates published
        states = check_states(instance, PGS, DATES)
        assert set(states.loc[states["game_date"] != BAD, "state"]) == {State.PASSED.value}
        return result.run_id
    finally:
        instance.dispose()


@pytest.fixture(params=["local", "production"])
def night(request, warehouse, tmp_path):
    """raw + analytics for START..END on the shipped local instance (SQLite) or the production one (PostgreSQL),
    usage_rate failing on BAD: the run that published every date (built once, a copy per test: templates.py)."""
    kind = request.param
    with copy_of(f"readiness night {kind}", tmp_path, lambda folder: _build_night(kind, folder),
                 postgres=kind == "production") as published_by:
        instance = persistent_instance(tmp_path / "home", kind)
        yield instance, published_by
        instance.dispose()


def _plan_without_running(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    """A backfill run of raw + analytics over START..END that never gets to its first step: creating it plans every
    check of every date (Dagster's latest status becomes PLANNED). QUEUED: submitted through the shipped instance's
    real run queue, against a real code server (a queued run needs its code location)."""
    selection = frozenset(a.key for a in RAW_AND_ANALYTICS)
    if status != dg.DagsterRunStatus.QUEUED:
        job = defs.resolve_implicit_global_asset_job_def()
        return instance.create_run_for_job(job_def=job, status=status, tags=RANGE_TAGS, asset_selection=selection)
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    target = ModuleTarget(module_name="nba_pipeline.definitions", attribute=None, working_directory=str(ROOT),
                          location_name="nba_pipeline")
    with WorkspaceProcessContext(instance, target) as process:
        workspace = process.create_request_context()
        location = workspace.get_code_location("nba_pipeline")
        job = location.get_job(JobSubsetSelector(location_name="nba_pipeline", repository_name="__repository__",
                                                 job_name="__ASSET_JOB", op_selection=None, asset_selection=list(selection)))
        plan = location.get_execution_plan(job, run_config={}, step_keys_to_execute=None, known_state=None,
                                           instance=instance)
        run = instance.create_run(
            job_name=job.name, run_id=None, run_config={}, resolved_op_selection=None, step_keys_to_execute=None,
            status=None, tags=RANGE_TAGS, root_run_id=None, parent_run_id=None, job_snapshot=job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot, parent_job_snapshot=job.parent_job_snapshot,
            asset_selection=selection, asset_check_selection=None, op_selection=None,
            remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
            asset_graph=workspace.asset_graph,
        )
        instance.submit_run(run.run_id, workspace)
    assert instance.get_run_by_id(run.run_id).status == status
    return run


def _materialize_factors(instance, warehouse, day) -> dg.ExecuteInJobResult:
    """player_composite_factors for `day`: it reads the season so far of the analytics tables up to the day before."""
    return dg.materialize(ALL_ASSETS, selection=[player_composite_factors], partition_key=day,
                          resources=resources_for("local", warehouse_path=warehouse), instance=instance,
                          raise_on_error=False)


def _refusal(result: dg.ExecuteInJobResult) -> str:
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
    return failure.user_failure_data.description if failure.user_failure_data else failure.error.message


def _published(warehouse: str, asset: str = "player_game_summary"):
    log = DuckDBWarehouse(database=str(warehouse)).publish_log()
    return log[log["asset"] == asset]


@pytest.mark.parametrize("end", ["failure", "canceled"])
def test_a_run_that_ended_before_its_first_step_revokes_no_verdict(night, warehouse, end):
    instance, published_by = night
    dead = _plan_without_running(instance, dg.DagsterRunStatus.NOT_STARTED)
    assert set(check_states(instance, PGS, DATES)["state"]) == {State.PLANNED.value}  # in progress: everything blocks
    (instance.report_run_failed if end == "failure" else instance.report_run_canceled)(dead)

    states = check_states(instance, PGS, DATES)
    passed = states[states["game_date"] != BAD]
    assert set(passed["state"]) == {State.PASSED.value}
    assert set(passed["run_id"]) == {published_by}  # the run that passed them, which published them: not the dead one
    bad = states[states["game_date"] == BAD].set_index("check")
    assert bad.loc[names.USAGE_RATE_POPULATED, "state"] == State.FAILED.value
    assert bad.loc[names.USAGE_RATE_POPULATED, "detail"] == f"player_game_summary failed {names.USAGE_RATE_POPULATED} on {BAD}"
    # the gate, warehouse compared: the passing run is the one that last published every passed date
    assert blocking_problems(instance, PGS, PASSED_DATES, _published(warehouse)).empty

    # a real downstream step reads the passed dates through the gate (every raw and analytics date it reads was
    # planned by the dead run), and is still refused a window that reads BAD — as failed, not as "never evaluated"
    assert _materialize_factors(instance, warehouse, BAD).success
    message = _refusal(_materialize_factors(instance, warehouse, END))
    assert f"player_game_summary failed {names.USAGE_RATE_POPULATED} on {BAD}" in message
    assert "never evaluated" not in message and "planned" not in message

    # status: the passed dates are published and verified again, BAD is quarantined
    report = build_report(instance, warehouse, START, END, select=["player_game_summary"])
    shown = report.dates[report.dates["asset"] == "player_game_summary"].set_index("game_date")["state"].to_dict()
    assert shown == {BAD: "quarantined"}


def test_a_run_that_ended_after_materializing_a_date_leaves_it_not_evaluated(night, warehouse):
    """The fallback takes a verdict only on the materialization it judged: a dead run that recorded a newer
    materialization of a date without evaluating it leaves that date blocked."""
    instance, _ = night
    dead = _plan_without_running(instance, dg.DagsterRunStatus.STARTED)
    instance.report_runless_asset_event(dg.AssetMaterialization(PGS, partition=START))  # as if the dead run had
    instance.report_run_failed(dead)
    states = check_states(instance, PGS, DATES).set_index(["game_date", "check"])
    assert set(states.loc[START, "state"]) == {State.NOT_EVALUATED.value}
    assert set(states.loc["2021-10-20", "state"]) == {State.PASSED.value}


def test_the_gate_still_compares_a_fallback_verdict_with_the_warehouse(night, warehouse):
    """After the dead run, another instance republishes a date: the fallback's passing run is not the run the
    warehouse names, and the gate says so."""
    instance, _ = night
    instance.report_run_failed(_plan_without_running(instance, dg.DagsterRunStatus.NOT_STARTED))
    assert run_range(warehouse, "2021-10-20", "2021-10-20").success  # an ephemeral instance, the same warehouse
    problems = blocking_problems(instance, PGS, PASSED_DATES, _published(warehouse))
    assert list(problems["game_date"]) == ["2021-10-20"] and list(problems["state"]) == ["warehouse disagrees"]


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTED])
def test_a_run_still_in_progress_blocks_and_names_the_failed_check(night, warehouse, status):
    instance, _ = night
    run = _plan_without_running(instance, status)
    states = check_states(instance, PGS, DATES)
    assert set(states["state"]) == {State.PLANNED.value}  # being published right now: nothing may be read

    label = f"{run.run_id[:8]} ({status.value.lower()})"
    refusal = _refusal(_materialize_factors(instance, warehouse, BAD))  # a real step is refused, naming the run
    assert f"is planned by run {label} and not evaluated yet (it passed its last evaluation)" in refusal

    problems = blocking_problems(instance, PGS, DATES, _published(warehouse)).set_index(["game_date", "check"])
    assert len(problems) == len(states) and set(problems["state"]) == {State.PLANNED.value}
    assert problems.loc[(BAD, names.USAGE_RATE_POPULATED), "detail"] == (
        f"player_game_summary failed {names.USAGE_RATE_POPULATED} on {BAD} (its last evaluation); run {label} "
        "will evaluate it again")
    assert problems.loc[(BAD, names.MINUTES_POPULATED), "detail"] == (
        f"player_game_summary {names.MINUTES_POPULATED} on {BAD} is planned by run {label} and not evaluated yet "
        "(it passed its last evaluation)")


@pytest.mark.parametrize("night", ["local"], indirect=True)
def test_one_read_and_the_history_pages_give_the_same_last_verdicts(night, warehouse):
    """`last_verdicts` on SQLite reads every row in one query; other storages page each check's history. On one
    instance where two dates were evaluated twice (the second time after a newer materialization), the verdict
    that counts is the same either way."""
    instance, _ = night
    assert run_range(warehouse, BAD, END, instance=instance).success  # BAD fixed, END evaluated again
    instance.report_runless_asset_event(dg.AssetMaterialization(PGS, partition=START))  # not judged by anything
    _plan_without_running(instance, dg.DagsterRunStatus.STARTED)
    keys = [dg.AssetCheckKey(PGS, n) for n in (names.USAGE_RATE_POPULATED, names.MINUTES_POPULATED)]
    wanted = check_partition_frame(instance, keys, DATES)
    assert (wanted["status"] == "PLANNED").all()

    one = _verdict_that_counts(_completed_query(instance.event_log_storage, keys, (START, END)), wanted)
    paged = _verdict_that_counts(_completed_history(instance.event_log_storage, keys, wanted), wanted)
    order = ["asset", "check", "partition"]
    assert one.sort_values(order).reset_index(drop=True).equals(paged.sort_values(order).reset_index(drop=True))
    assert len(one) == len(wanted) == 2 * len(DATES)

    verdicts = last_verdicts(instance, wanted).assign(partition=wanted["partition"], check=wanted["check"])
    assert set(verdicts["verdict"]) == {"SUCCEEDED"}  # BAD's latest verdict is the fix's
    judged = verdicts["verdict_target_storage_id"].eq(wanted["latest_materialization_storage_id"])
    assert set(verdicts.loc[~judged, "partition"]) == {START}  # only START's latest materialization went unjudged
    fixed = verdicts[verdicts["partition"].isin([BAD, END])]["verdict_run_id"]
    assert fixed.nunique() == 1 and fixed.iloc[0] != verdicts.loc[verdicts["partition"] == START, "verdict_run_id"].iloc[0]
