"""Old code never overwrites new: the original team lost a bug fix because a backfill started before the fix
wrote after one started with it. Every asset's code version is a hash of its transform; the warehouse records it
with every published date and refuses to let an older version replace a newer one's dates."""

from __future__ import annotations

import threading

import dagster as dg
import pandas as pd

from nba_pipeline.analytics import checks as analytics_checks
from nba_pipeline.analytics.assets import team_defense_game_summary, team_offense_game_summary
from nba_pipeline.analytics.player_game_summary import build_player_game_summary
from nba_pipeline.config import Thresholds
from nba_pipeline.definitions import build_definitions, defs
from nba_pipeline.resources import resources_for
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.tables import Table, code_version_of, published_table
from nba_pipeline_tests.conftest import RAW_AND_ANALYTICS, read_table, run_range

START, END = "2021-10-19", "2021-10-24"


def _old_code(entered: threading.Event, release: threading.Event) -> dg.AssetsDefinition:
    def player_game_summary(
        player_boxscores: pd.DataFrame,
        team_offense_game_summary: pd.DataFrame,
        shot_zones: pd.DataFrame,
        schedule: pd.DataFrame,
        limits: Thresholds,
    ) -> Table:
        """Before the fix: usage_rate off by the factor five the original team shipped (every check passes it)."""
        entered.set()
        assert release.wait(300), "the fixed backfill never finished"
        frame = build_player_game_summary(
            player_boxscores, team_offense_game_summary, shot_zones, schedule, limits.player_boxscores.max_minutes_per_game
        )
        return Table(frame.assign(usage_rate=frame["usage_rate"] / 5), schedule=schedule)

    return published_table("analytics", analytics_checks.PLAYER_GAME_SUMMARY_RULES)(player_game_summary)


def test_two_overlapping_backfills_of_old_and_fixed_code_end_with_the_fixed_rows(tmp_path):
    warehouse, reference = str(tmp_path / "warehouse.duckdb"), str(tmp_path / "serial.duckdb")
    instance = dg.DagsterInstance.ephemeral()
    entered, release = threading.Event(), threading.Event()
    old_assets = [*raw_assets, team_offense_game_summary, team_defense_game_summary, _old_code(entered, release)]
    outcome = {}

    # The old backfill is launched first and reaches player_game_summary first, but is slow to write it ...
    old = threading.Thread(
        target=lambda: outcome.update(old=run_range(warehouse, START, END, instance=instance, assets=old_assets))
    )
    old.start()
    assert entered.wait(300)
    # ... meanwhile the backfill with the fix runs to the end: the order in which the fix used to be lost.
    fixed = run_range(warehouse, START, END, instance=instance)
    assert fixed.success
    release.set()
    old.join(300)

    result = outcome["old"]
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data.description
    old_version = old_assets[-1].code_versions_by_key[dg.AssetKey("player_game_summary")]
    new_version = defs.resolve_asset_graph().get(dg.AssetKey("player_game_summary")).code_version
    assert old_version != new_version
    assert f"refusing to publish player_game_summary with code version {old_version}" in failure
    assert f"published by the newer code version {new_version}" in failure

    assert run_range(reference, START, END).success  # the fixed code alone, serially
    got, want = read_table(warehouse, "analytics.player_game_summary"), read_table(reference, "analytics.player_game_summary")
    key = ["game_id", "player_id"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True))
    log = read_table(warehouse, "pipeline.publish_log where asset = 'player_game_summary' and outcome = 'published'")
    assert set(log["code_version"]) == {new_version}


def test_the_code_version_follows_the_transform_source():
    graph = defs.resolve_asset_graph()
    versions = {k.to_user_string(): graph.get(k).code_version for k in graph.get_all_asset_keys()}
    assert all(versions[a.key.to_user_string()] for a in RAW_AND_ANALYTICS)
    assert len({versions["team_offense_game_summary"], versions["player_game_summary"], versions["team_defense_game_summary"]}) == 3
    assert code_version_of(build_player_game_summary) != code_version_of(read_table)


def test_dates_published_by_an_older_code_version_are_rebuilt_by_automation(warehouse):
    instance = dg.DagsterInstance.ephemeral()
    go = threading.Event()
    go.set()
    old_assets = [*raw_assets, team_offense_game_summary, team_defense_game_summary, _old_code(go, go)]
    resources = resources_for("local", warehouse_path=warehouse)
    old_defs = dg.Definitions(assets=old_assets, resources=resources)
    assert run_range(warehouse, START, END, instance=instance, assets=old_assets).success
    baseline = dg.evaluate_automation_conditions(defs=old_defs, instance=instance)
    same_code = dg.evaluate_automation_conditions(defs=old_defs, instance=instance, cursor=baseline.cursor)
    assert not same_code.get_requested_partitions(dg.AssetKey("player_game_summary"))

    deployed = build_definitions("local", warehouse_path=warehouse)  # the fix is deployed
    # the UI's staleness (what the asset page shows per partition): "has a new code version"
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    resolver = CachingStaleStatusResolver(instance, deployed.resolve_asset_graph(), LoadingContextForTest(instance))
    assert resolver.get_status(dg.AssetKey("player_game_summary"), START) == StaleStatus.STALE
    assert [c.reason for c in resolver.get_stale_causes(dg.AssetKey("player_game_summary"), START)] == ["has a new code version"]
    assert resolver.get_status(dg.AssetKey("team_offense_game_summary"), START) == StaleStatus.FRESH
    tick = dg.evaluate_automation_conditions(defs=deployed, instance=instance, cursor=same_code.cursor)
    rebuilt = tick.get_requested_partitions(dg.AssetKey("player_game_summary"))
    assert set(pd.date_range(START, END).strftime("%Y-%m-%d")) <= rebuilt
