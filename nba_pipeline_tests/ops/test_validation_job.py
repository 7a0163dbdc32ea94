"""The range validation as a Dagster job: its step's metadata is the table; a failing phase fails the run."""

import dagster as dg
import pytest

from nba_pipeline.definitions import defs
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.ops.validation_job import validate_range_job
from nba_pipeline_tests.conftest import run_range

START, BAD, END = "2021-10-19", "2021-10-22", "2021-10-25"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("validation_job") / "warehouse.duckdb")
    faults = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
    assert run_range(path, START, END, faults=faults, instance=dg.DagsterInstance.ephemeral()).success  # quarantined, rest on
    return path


def _run(warehouse: str, start: str, end: str) -> dg.ExecuteInProcessResult:
    resources = resources_for("local", warehouse_path=warehouse)
    return validate_range_job.execute_in_process(
        run_config={"ops": {"validate_phase_range": {"config": {"phase": "analytics", "start": start, "end": end}}}},
        resources={"warehouse": resources["warehouse"], "thresholds": resources["thresholds"]},
        raise_on_error=False,
    )


def test_a_failing_phase_fails_the_run_with_the_table(warehouse):
    result = _run(warehouse, START, END)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data
    assert "player_game_summary.success_pct" in failure.description
    table = failure.metadata["validation"].value
    assert "| player_game_summary | success_pct | 95 | 85.71 | **FAIL** |" in table
    assert failure.metadata["player_game_summary.success_pct"].value == 85.71
    assert failure.metadata["team_offense_game_summary.game_count.threshold"].value == 68.0


def test_a_passing_phase_records_the_table_as_output_metadata(warehouse):
    result = _run(warehouse, START, "2021-10-21")
    assert result.success
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    metadata = output.event_specific_data.metadata
    assert metadata["passed"].value is True and "**PASS**" in metadata["validation"].value
    assert metadata["player_game_summary.usage_rate_populated_pct"].value == 100.0


def test_bad_config_fails_the_step_by_name(warehouse):
    result = _run(warehouse, END, START)
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data
    assert failure.description == f"bad range validation config: range end {START} precedes range start {END}"


def test_the_job_is_in_the_definitions():
    assert defs.resolve_job_def("validate_range").name == "validate_range"
