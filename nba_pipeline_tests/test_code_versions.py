"""Old code never overwrites new: the original team lost a bug fix because a backfill started before the fix
wrote after one started with it. Every asset's code version is a hash of its transform; the warehouse publishes
only each table's promoted version (`nba_pipeline.promotion`), so a stale checkout is refused on every retry."""

from __future__ import annotations

import threading

import dagster as dg
import pandas as pd

from nba_pipeline.analytics import checks as analytics_checks
from nba_pipeline.analytics.assets import team_defense_game_summary, team_offense_game_summary
from nba_pipeline.analytics.player_game_summary import build_player_game_summary
from nba_pipeline.config import Thresholds
from nba_pipeline.definitions import build_definitions, defs
from nba_pipeline.promotion import promote
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline.resources import resources_for
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.tables import Table, code_version_of, published_table
from nba_pipeline_tests.conftest import RAW_AND_ANALYTICS, read_table, run_range
from nba_pipeline_tests.postgres import instance_home

START, END = "2021-10-19", "2021-10-24"


def _old_code(entered: threading.Event, release: threading.Event, branch: bool = False) -> dg.AssetsDefinition:
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

    # a branch: the same transform hashed with one more module, so another code version
    return published_table("analytics", analytics_checks.PLAYER_GAME_SUMMARY_RULES, code=[threading] if branch else ())(
        player_game_summary
    )


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
    # the fixed run published first on a fresh warehouse: its version was promoted by that first publish
    assert f"the promoted code version of player_game_summary is {new_version}" in failure

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


def _refusal(result: dg.ExecuteInJobResult) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    return " ".join(e.step_failure_data.user_failure_data.description or "" for e in failures if e.step_failure_data.user_failure_data)


def _pgs_versions(warehouse: str) -> set[str]:
    log = read_table(warehouse, "pipeline.publish_log where asset = 'player_game_summary' and outcome = 'published' "
                     "qualify row_number() over (partition by game_date order by recorded_at desc) = 1")
    return set(log["code_version"])


def test_old_new_and_the_old_retried_end_with_every_date_on_the_promoted_version(warehouse):
    """The issue's sequence: the old code publishes; the fix is refused until it is promoted; after that the old
    checkout retried twice, and a third version run for the first time after the fix published, are refused."""
    instance = dg.DagsterInstance.ephemeral()
    go = threading.Event()
    go.set()
    old_assets = [*raw_assets, team_offense_game_summary, team_defense_game_summary, _old_code(go, go)]
    old_version = old_assets[-1].code_versions_by_key[dg.AssetKey("player_game_summary")]
    new_version = defs.resolve_asset_graph().get(dg.AssetKey("player_game_summary")).code_version

    assert run_range(warehouse, START, END, instance=instance, assets=old_assets).success  # first publish: promoted
    refused = run_range(warehouse, START, END, instance=instance)  # the fix, not yet promoted
    assert not refused.success
    assert f"code version {new_version}: the promoted code version of player_game_summary is {old_version}" in _refusal(refused)
    assert _pgs_versions(warehouse) == {old_version}

    promoted = promote(DuckDBWarehouse(database=warehouse), defs, instance=instance, promoted_by="dev@test")
    row = promoted.set_index("asset").loc["player_game_summary"]
    assert (row["previous_version"], row["code_version"], row["stale_dates"]) == (old_version, new_version, 6)
    assert not promoted.set_index("asset").loc["team_offense_game_summary", "changed"]
    assert run_range(warehouse, START, END, instance=instance).success
    fixed = read_table(warehouse, "analytics.player_game_summary")

    for _ in range(2):  # a retry, a schedule tick of the stale deployment
        retried = run_range(warehouse, START, END, instance=instance, assets=old_assets)
        assert not retried.success
        assert f"code version {old_version}: the promoted code version of player_game_summary is {new_version}" in _refusal(retried)
    other = [*raw_assets, team_offense_game_summary, team_defense_game_summary, _old_code(go, go, branch=True)]
    late = run_range(warehouse, START, END, instance=instance, assets=other)  # never run before: still not newest
    assert not late.success and "the promoted code version of player_game_summary is" in _refusal(late)

    assert _pgs_versions(warehouse) == {new_version}
    key = ["game_id", "player_id"]
    pd.testing.assert_frame_equal(
        read_table(warehouse, "analytics.player_game_summary").sort_values(key).reset_index(drop=True),
        fixed.sort_values(key).reset_index(drop=True),
    )


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
    # deployed but not promoted: nothing is requested (the warehouse would refuse the fix's runs)
    tick = dg.evaluate_automation_conditions(defs=deployed, instance=instance, cursor=same_code.cursor)
    assert not tick.get_requested_partitions(dg.AssetKey("player_game_summary"))
    promote(DuckDBWarehouse(database=warehouse), deployed, instance=instance, promoted_by="dev@test")
    tick = dg.evaluate_automation_conditions(defs=deployed, instance=instance, cursor=tick.cursor)
    rebuilt = tick.get_requested_partitions(dg.AssetKey("player_game_summary"))
    assert set(pd.date_range(START, END).strftime("%Y-%m-%d")) <= rebuilt
    again = dg.evaluate_automation_conditions(defs=deployed, instance=instance, cursor=tick.cursor)
    assert not again.get_requested_partitions(dg.AssetKey("player_game_summary"))  # requested once, not every tick


OLD_CODE_PATCH = '''

_fixed = build_player_game_summary


def build_player_game_summary(*args, **kwargs):  # the old checkout: usage_rate off by five (every check passes it)
    frame = _fixed(*args, **kwargs)
    return frame.assign(usage_rate=frame["usage_rate"] / 5)
'''


def test_two_checkouts_sharing_one_home_and_warehouse(tmp_path):
    """Two real checkouts, one DAGSTER_HOME and one warehouse, everything through the CLI: the stale checkout
    publishes first, the fix is refused until `nba-pipeline promote`, then the stale one is refused on each retry."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    old = tmp_path / "old_checkout"
    shutil.copytree(repo / "nba_pipeline", old / "nba_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    with open(old / "nba_pipeline" / "analytics" / "player_game_summary.py", "a") as f:
        f.write(OLD_CODE_PATCH)
    home, warehouse = tmp_path / "home", tmp_path / "warehouse.duckdb"
    instance_home(home, "local")
    cli = str(Path(sys.executable).with_name("nba-pipeline"))

    def run(checkout: Path, *args: str) -> subprocess.CompletedProcess:
        env = {"DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse), "PATH": "/usr/bin:/bin",
               "PYTHONPATH": str(checkout), "NBA_PIPELINE_GAME_DAY": "off"}
        return subprocess.run([cli, *args], cwd=checkout, env=env, capture_output=True, text=True, timeout=600)

    def materialize(checkout: Path) -> subprocess.CompletedProcess:
        return run(checkout, "materialize", "--select", "group:raw or group:analytics", "--partition-range",
                   "2021-10-19...2021-10-20", "--no-summary")

    assert materialize(old).returncode == 0, "the stale checkout's first run publishes (a table's first publish)"
    refused = materialize(repo)
    assert refused.returncode != 0 and "the promoted code version of player_game_summary is" in refused.stdout + refused.stderr
    promoted = run(repo, "promote", "--note", "usage fix")
    assert promoted.returncode == 0, promoted.stderr
    assert "player_game_summary:" in promoted.stdout and "2 date(s) published by another version are now stale" in promoted.stdout
    assert "team_offense_game_summary" not in promoted.stdout  # unchanged tables are not re-promoted
    assert materialize(repo).returncode == 0
    for _ in range(2):
        retried = materialize(old)
        assert retried.returncode != 0
        assert "refusing to publish player_game_summary" in retried.stdout + retried.stderr
    new_version = defs.resolve_asset_graph().get(dg.AssetKey("player_game_summary")).code_version
    assert _pgs_versions(str(warehouse)) == {new_version}
    history = read_table(str(warehouse), "pipeline.promotions where asset = 'player_game_summary' order by promoted_at")
    assert history["code_version"].tolist()[-1] == new_version and history["note"].tolist()[-1] == "usage fix"
    usage = read_table(str(warehouse), "analytics.player_game_summary")["usage_rate"].dropna()
    assert usage.mean() > 10  # the fixed rows (a percentage), not the stale checkout's fifth of it


def test_a_dry_run_says_what_would_be_promoted_and_records_nothing(warehouse):
    store = DuckDBWarehouse(database=warehouse)
    promote(store, defs, select=["schedule"], promoted_by="dev@test")
    dry = promote(store, defs, dry_run=True).set_index("asset")
    assert not dry.loc["schedule", "changed"] and dry["changed"].sum() == len(dry) - 1
    assert store.promotions()["asset"].tolist() == ["schedule"]  # the dry run recorded nothing
