import dagster as dg
import pandas as pd

from nba_pipeline.definitions import build_definitions, defs
from nba_pipeline.partitions import GAME_TIMEZONE, game_date_partitions

EXPECTED_ASSETS = {
    "schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines", "referee_assignments",
    "team_offense_game_summary", "team_defense_game_summary", "player_game_summary",
    "player_composite_factors", "player_daily_cache", "ml_feature_store", "points_prop_predictions", "prediction_grading",
}
UNPARTITIONED = {"points_model"}  # trained over a range of the feature store


def test_definitions_load_with_every_asset_partitioned_and_checked():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS | UNPARTITIONED
    for key in graph.get_all_asset_keys():
        if key.to_user_string() in UNPARTITIONED:
            assert graph.get(key).partitions_def is None
            continue
        assert graph.get(key).partitions_def == game_date_partitions
        assert any(c.asset_key == key for c in graph.asset_check_keys), f"{key} has no checks"
    assert defs.resolve_job_def("all_phases") is not None


def test_windows_read_their_season_history_through_a_visible_partition_mapping():
    """Re-materializing an upstream date must make later dates stale, so the lookback is in the graph."""
    graph = defs.resolve_asset_graph()
    factors = graph.get(dg.AssetKey("player_composite_factors"))
    mapping = factors.assets_def.get_partition_mapping_for_dep(dg.AssetKey("player_game_summary"))
    assert isinstance(mapping, dg.TimeWindowPartitionMapping) and mapping.start_offset <= -180
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        game_date_partitions.get_partition_subset_in_time_window(
            dg.TimeWindow(pd.Timestamp("2024-03-01", tz=GAME_TIMEZONE), pd.Timestamp("2024-03-02", tz=GAME_TIMEZONE))
        ),
        game_date_partitions, game_date_partitions,
    ).partitions_subset
    assert "2023-10-24" in upstream.get_partition_keys()  # opening night feeds a March window


def test_pre_game_rows_read_box_score_history_up_to_the_day_before():
    """A date's slate is known before tip-off: its history inputs end the day before, its schedule includes it;
    the gate's first target date (first upstream key + SEASON_LOOKBACK_DAYS) is still the date itself."""
    from nba_pipeline.partitions import SEASON_LOOKBACK_DAYS

    graph = defs.resolve_asset_graph()
    factors = graph.get(dg.AssetKey("player_composite_factors"))
    day = game_date_partitions.get_partition_subset_in_time_window(
        dg.TimeWindow(pd.Timestamp("2024-03-01", tz=GAME_TIMEZONE), pd.Timestamp("2024-03-02", tz=GAME_TIMEZONE))
    )

    def upstream_keys(dep: str) -> list[str]:
        mapping = factors.assets_def.get_partition_mapping_for_dep(dg.AssetKey(dep))
        result = mapping.get_upstream_mapped_partitions_result_for_partitions(day, game_date_partitions, game_date_partitions)
        return sorted(result.partitions_subset.get_partition_keys())

    for dep in ("player_game_summary", "team_defense_game_summary"):
        keys = upstream_keys(dep)
        assert keys[-1] == "2024-02-29"
        assert pd.Timestamp(keys[0]) + pd.Timedelta(days=SEASON_LOOKBACK_DAYS) == pd.Timestamp("2024-03-01")
    assert upstream_keys("schedule")[-1] == "2024-03-01"


def test_partitions_are_eastern_game_dates_from_opening_night_2021():
    assert game_date_partitions.timezone == "America/New_York"
    assert game_date_partitions.get_first_partition_key() == "2021-10-19"


def test_production_binds_the_same_resource_keys():
    local = build_definitions("local", warehouse_path="unused.duckdb")
    production = build_definitions("production")
    assert set(local.resources) == set(production.resources)
    assert type(production.resources["warehouse"]).__name__ == "BigQueryWarehouse"
    assert production.resources["io_manager"].warehouse is production.resources["warehouse"]
    production.resolve_asset_graph()
    # the same sensors and jobs in both: the sweeper too (it fails only its own host's dead runs)
    assert {s.name for s in production.sensors} == {s.name for s in local.sensors}
    assert {j.name for j in production.jobs} == {j.name for j in local.jobs}


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


def test_the_daily_job_covers_every_partitioned_phase_but_the_model():
    job = defs.resolve_job_def("daily_all_phases")
    assert job.partitions_def == game_date_partitions
    selected = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert selected == EXPECTED_ASSETS


def test_the_game_days_jobs_select_their_phases():
    def selected(name: str) -> set[str]:
        return {k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.executable_asset_keys}

    pre_game = selected("pre_game")
    assert {"prop_lines", "injury_report", "points_prop_predictions"} <= pre_game
    assert not pre_game & {"player_boxscores", "team_boxscores", "shot_zones", "player_game_summary"}  # nothing post-game
    assert selected("morning_finals_analytics_grading") == {
        "schedule", "player_boxscores", "team_boxscores", "shot_zones",
        "team_offense_game_summary", "team_defense_game_summary", "player_game_summary", "prediction_grading",
    }
    schedules = {s.name: s for s in defs.schedules}
    assert {"morning_schedule", "line_refresh_0930", "line_refresh_1800", "post_game_window_3"} <= set(schedules)
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())


def test_the_game_day_can_be_left_out_for_history_only_deployments():
    history_only = build_definitions("local", game_day=False)
    assert not list(history_only.schedules)
    assert {s.name for s in history_only.sensors} == {"late_data_sensor", "keep_downstream_in_step", "dead_run_sweeper", "alert_sensor"}


def test_every_daily_input_holds_back_dates_through_the_window_the_graph_declares():
    """A step holds back exactly its dates that read a failed upstream date (`checks.gate.held_back`), through the
    window each input registered when its asset was built: every partitioned input of every daily table has one,
    and it is the partition mapping Dagster sees."""
    from nba_pipeline.checks.gate import INPUT_WINDOWS
    from nba_pipeline.tables import PUBLISHED_TABLES

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        name = key.to_user_string()
        if name in UNPARTITIONED:
            continue
        assert name in PUBLISHED_TABLES, f"{name} is not built by published_table"
        asset = graph.get(key).assets_def
        for input_name, upstream in asset.keys_by_input_name.items():
            if graph.get(upstream).partitions_def is None:
                continue  # the model: read whole, not per date
            lo, hi, _ = INPUT_WINDOWS[(name, input_name)]
            mapping = asset.get_partition_mapping_for_dep(upstream)
            declared = (getattr(mapping, "start_offset", 0), getattr(mapping, "end_offset", 0))
            assert (lo, hi) == declared, (name, input_name)
