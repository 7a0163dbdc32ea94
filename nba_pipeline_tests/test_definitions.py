import dagster as dg

from nba_pipeline.definitions import build_definitions, defs
from nba_pipeline.partitions import game_date_partitions

EXPECTED_ASSETS = {
    "schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines",
    "team_offense_game_summary", "team_defense_game_summary", "player_game_summary",
}


def test_definitions_load_with_every_asset_partitioned_and_checked():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    for key in graph.get_all_asset_keys():
        assert graph.get(key).partitions_def == game_date_partitions
        assert any(c.asset_key == key for c in graph.asset_check_keys), f"{key} has no checks"
    assert defs.resolve_job_def("all_phases") is not None


def test_partitions_are_eastern_game_dates_from_opening_night_2021():
    assert game_date_partitions.timezone == "America/New_York"
    assert game_date_partitions.get_first_partition_key() == "2021-10-19"


def test_production_binds_the_same_resource_keys():
    local = build_definitions("local", warehouse_path="unused.duckdb")
    production = build_definitions("production")
    assert set(local.resources) == set(production.resources)
    assert type(production.resources["io_manager"]).__name__ == "BigQueryPandasIOManager"
    production.resolve_asset_graph()


def test_unknown_deployment_is_refused():
    import pytest

    with pytest.raises(ValueError, match="NBA_PIPELINE_ENV"):
        build_definitions("staging")


def test_workspace_loads_like_dagster_dev(tmp_path):
    """`dagster definitions validate` loads workspace.yaml the way `dagster dev` does."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(root / "workspace.yaml")],
        cwd=root, capture_output=True, text=True, env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
