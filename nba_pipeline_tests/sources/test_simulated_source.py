"""The simulator source's fault file: a file that is set but missing or misspelled fails the run before any step,
by name — never silently ignored, which would let a tester believe checks passed on faulty data."""

import dagster as dg
import pytest

from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.resources import resources_for
from nba_pipeline.sources import SimulatedLeagueSource
from nba_pipeline.sources.simulated import FaultsFileError


def _run(warehouse, faults_file):
    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = SimulatedLeagueSource(faults_file=str(faults_file))
    return dg.materialize(raw_assets, resources=resources, partition_key="2024-01-15", raise_on_error=False)


def test_a_missing_faults_file_fails_the_run_before_any_step(warehouse, tmp_path):
    result = _run(warehouse, tmp_path / "nope.yaml")
    assert not result.success
    assert not [e for e in result.all_events if e.is_step_start]  # resource initialisation failed first
    failure = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    assert "nope.yaml" in str(failure.event_specific_data.error.message) and "cannot be read" in str(failure.event_specific_data.error.message)


def test_a_misspelled_fault_is_named_with_the_field_it_probably_meant(tmp_path):
    path = tmp_path / "faults.yaml"
    path.write_text("duplicate_row_rte: 0.5\n")
    with pytest.raises(FaultsFileError, match=r"unknown key\(s\) 'duplicate_row_rte' \(did you mean 'duplicate_row_rate'\?\)"):
        SimulatedLeagueSource(faults_file=str(path)).current_faults()
    path.write_text("duplicate_row_rate: 1.5\n")
    with pytest.raises(FaultsFileError, match="duplicate_row_rate"):
        SimulatedLeagueSource(faults_file=str(path)).current_faults()
    path.write_text("")  # an empty file: no faults
    assert SimulatedLeagueSource(faults_file=str(path)).current_faults().duplicate_row_rate == 0
