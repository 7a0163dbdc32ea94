"""Freshness: the daily assets carry Dagster freshness policies, and Dagster's own FreshnessDaemon, run with a
controlled clock on a real instance, says PASS after the morning's materialization and FAIL once a deadline passes
with nothing new — what the UI shows as late."""

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.test_utils import freeze_time
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.freshness import FreshnessDaemon

from nba_pipeline.definitions import defs
from nba_pipeline.ops.freshness import POST_GAME, PRE_GAME
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline_tests.conftest import run_range
from nba_pipeline_tests.postgres import instance_home

ROOT = Path(__file__).resolve().parents[2]
ET = ZoneInfo("America/New_York")


def test_every_daily_asset_has_a_policy_and_the_checks_are_unchanged():
    graph = defs.resolve_asset_graph()
    policies = {k.to_user_string(): graph.get(k).freshness_policy for k in graph.get_all_asset_keys()}
    assert policies.pop("points_model") is None
    assert policies["player_game_summary"] == POST_GAME and policies["prop_lines"] == PRE_GAME
    assert policies["points_prop_predictions"] == PRE_GAME and policies["prediction_grading"] == POST_GAME
    assert all(p is not None for p in policies.values())
    # no freshness asset checks: a backfill step evaluates exactly the checks it did before
    from nba_pipeline.definitions import ALL_ASSETS

    assert set(graph.asset_check_keys) == {k for a in ALL_ASSETS for k in a.check_keys}


def _states(instance: dg.DagsterInstance, at: dt.datetime) -> dict[str, str]:
    """One FreshnessDaemon iteration over the real code location at the time `at`; each asset's state."""
    target = ModuleTarget(module_name="nba_pipeline.definitions", attribute=None, working_directory=str(ROOT),
                          location_name="nba_pipeline")
    with freeze_time(at), WorkspaceProcessContext(instance, target) as process:
        asyncio.run(FreshnessDaemon()._evaluate_assets(workspace_process_context=process))  # noqa: SLF001
    keys = [dg.AssetKey(n) for n in ("schedule", "prop_lines", "player_game_summary")]
    return {k.to_user_string(): r.freshness_state.value for k, r in instance.get_freshness_state_records(keys).items()}


def test_the_freshness_daemon_says_late_once_the_deadline_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("NBA_PIPELINE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("NBA_PIPELINE_GAME_DAY", "off")
    instance = dg.DagsterInstance.local_temp(str(instance_home(tmp_path / "home", "local")))  # configured as shipped
    assert run_range(str(tmp_path / "warehouse.duckdb"), "2024-01-15", "2024-01-15", instance=instance,
                     assets=raw_assets).success
    materialized = dt.datetime.now(ET)
    # a minute later: the window of the last completed deadline holds this materialization
    assert _states(instance, materialized + dt.timedelta(minutes=1)) == {
        "schedule": "PASS", "prop_lines": "PASS", "player_game_summary": "UNKNOWN"}  # never materialized
    # two mornings later, nothing new: both deadlines passed with nothing in their windows
    later = (materialized + dt.timedelta(days=2)).replace(hour=11, minute=0)
    assert _states(instance, later) == {"schedule": "FAIL", "prop_lines": "FAIL", "player_game_summary": "UNKNOWN"}
