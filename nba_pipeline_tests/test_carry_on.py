"""The dates that pass carry on: one bad date in a range run holds back exactly itself and the dates that read it,
and every other date is built through predictions in the same run (Dagster's own in-run blocking would skip
every downstream step for every date of the range: dagster-io/dagster#26854)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.checks import names
from nba_pipeline_tests.conftest import read_table

ROOT = Path(__file__).resolve().parents[1]

START, BAD, END = "2021-10-19", "2022-03-01", "2022-11-10"
SEASON_ONE_END = "2022-04-10"
PRE_GAME = ["player_composite_factors", "player_daily_cache", "ml_feature_store", "points_prop_predictions"]


def _published(warehouse: str, asset: str) -> set[str]:
    log = read_table(warehouse, f"pipeline.publish_log where asset = '{asset}' and outcome = 'published'")
    return set(pd.to_datetime(log["game_date"]).dt.strftime("%Y-%m-%d"))


def _days(first: str, last: str) -> set[str]:
    return set(pd.date_range(first, last).strftime("%Y-%m-%d"))


@pytest.fixture(scope="module")
def two_seasons(tmp_path_factory):
    """`nba-pipeline materialize --select '*'` over one whole season and the start of the next, on a DAGSTER_HOME
    configured as shipped, with vendor game ids in one date's box scores (usage_rate fails there)."""
    root = tmp_path_factory.mktemp("carry_on")
    home, warehouse, faults = root / "home", str(root / "warehouse.duckdb"), root / "faults.yaml"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")  # the shipped instance, as `make run`
    faults.write_text(f"game_id_format: vendor\ngame_id_feed: player_boxscores\naffected_dates: ['{BAD}']\n")
    env = {"DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": warehouse, "NBA_PIPELINE_FAULTS_FILE": str(faults),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NBA_PIPELINE_GAME_DAY": "off"}
    cli = subprocess.run([str(Path(sys.executable).with_name("nba-pipeline")), "materialize", "--select", "*",
                          "--partition-range", f"{START}...{END}"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=1800)
    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs()
    assert len(runs) == 1, cli.stderr[-3000:]
    yield warehouse, instance, runs[0], cli
    instance.dispose()


def test_one_quarantined_date_holds_back_only_the_dates_that_read_it(two_seasons):
    warehouse, _, run, cli = two_seasons
    assert run.status == dg.DagsterRunStatus.SUCCESS  # every step ran; the bad date is stopped per date, not per step
    # ... and the CLI says the range it leaves is not all published
    assert cli.returncode == 1 and "the range is CRITICAL" in cli.stderr, cli.stderr[-3000:]
    assert BAD not in _published(warehouse, "player_game_summary")
    assert _published(warehouse, "player_game_summary") >= _days(START, END) - {BAD} - _days("2022-06-17", "2022-10-17")
    held = _days("2022-03-02", SEASON_ONE_END)  # season 1 after the bad date: their windows read it
    for asset in PRE_GAME:
        published = _published(warehouse, asset)
        assert BAD in published, asset  # its pre-game rows read only the days before it
        assert not (published & held), asset
        assert _days(START, "2022-02-28") <= published, asset  # the earlier dates
        assert _days("2022-10-18", END) <= published, asset  # the other season
    grading = _published(warehouse, "prediction_grading")
    assert BAD not in grading and not (grading & held) and _days("2022-10-18", END) <= grading
    predictions = read_table(warehouse, "predictions.points_prop_predictions where game_date >= '2022-10-18'")
    assert (predictions["recommendation"] != "NO_PREDICTION").mean() > 0.9  # the model trained on every readable date


def test_the_run_says_which_dates_were_held_back_and_why(two_seasons):
    _, instance, run, cli = two_seasons
    checks = [e.asset_check_evaluation for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    usage = next(e for e in checks if e.check_name == names.USAGE_RATE_POPULATED and "dates_checked" in e.metadata)
    assert not usage.passed and usage.severity == dg.AssetCheckSeverity.WARN  # visible, and not stopping every date
    assert "held back downstream" in usage.description
    per_date = {e.partition: e.passed for e in checks if e.check_name == names.USAGE_RATE_POPULATED and e.partition}
    assert per_date[BAD] is False and sum(per_date.values()) == len(per_date) - 1  # the bad date fails, by itself
    pcf = instance.fetch_materializations(dg.AssetKey("player_composite_factors"), limit=1).records[0]
    pcf = pcf.asset_materialization.metadata
    assert "player_composite_factors: holding back 40 of its" in cli.stderr  # the log says it as it happens
    assert pcf["dates_held_back"].value == len(_days("2022-03-02", SEASON_ONE_END))
    assert f"| 2022-03-02 | player_game_summary | {BAD} | player_game_summary failed " in pcf["held_back"].value


def test_held_back_dates_stay_unreadable_downstream(two_seasons):
    _, instance, _, _ = two_seasons
    from nba_pipeline.checks.gate import blocking_problems

    problems = blocking_problems(instance, dg.AssetKey("player_composite_factors"), ["2022-03-05", "2022-10-25"], None)
    assert set(problems["game_date"]) == {"2022-03-05"}


def test_the_partition_status_agrees_with_the_warehouse(two_seasons):
    """Each step's output covered its whole range, yet a date it did not publish (quarantined, or held back because
    it reads one) reads FAILED through Dagster's partition status, what the UI's partition bar shows."""
    warehouse, instance, _, _ = two_seasons
    failed, materialized = dg.AssetPartitionStatus.FAILED, dg.AssetPartitionStatus.MATERIALIZED
    partitions = instance.get_status_by_partition
    from nba_pipeline.partitions import game_date_partitions

    around = ["2022-02-28", BAD, "2022-03-02"]
    assert partitions(dg.AssetKey("player_game_summary"), around, game_date_partitions) == {
        "2022-02-28": materialized, BAD: failed, "2022-03-02": materialized}
    held = sorted(_days("2022-03-02", SEASON_ONE_END) & _published(warehouse, "player_game_summary"))
    for asset in PRE_GAME:
        status = partitions(dg.AssetKey(asset), ["2022-02-28", BAD, *held, "2022-10-18"], game_date_partitions)
        assert {d for d, s in status.items() if s == failed} == set(held), asset
        assert status["2022-02-28"] == status[BAD] == status["2022-10-18"] == materialized, asset
