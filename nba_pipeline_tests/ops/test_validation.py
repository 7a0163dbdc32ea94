"""Range validation judges a phase over a range from the published rows, with thresholds scaled by the schedule."""

import json
import math
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from nba_pipeline.config import ThresholdsError, load_thresholds
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.warehouse.base import WarehouseUnreachable
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline.ops.validation import FAIL, NOT_JUDGED, PASS, format_validation, validate_range
from nba_pipeline_tests.conftest import run_range

ROOT = Path(__file__).resolve().parents[2]
START, BAD, END = "2021-10-19", "2021-10-22", "2021-10-25"
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
OFF_SEASON = ("2022-07-01", "2022-07-03")


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """raw + analytics over a week with vendor game ids in one date's box scores (quarantined), and an off-season
    stretch with no games, in one warehouse."""
    root = tmp_path_factory.mktemp("validation")
    warehouse = root / "warehouse.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    assert run_range(str(warehouse), START, END, faults=FAULT, instance=instance).success  # BAD quarantined, the rest on
    assert run_range(str(warehouse), *OFF_SEASON, instance=instance).success
    return warehouse


def _published(warehouse: Path, table: str) -> pd.DataFrame:
    schema, name = table.split("/")
    return duckdb.sql(f"select * from read_parquet({DuckDBWarehouse(database=str(warehouse)).read_copy_source(schema, name)})").df()


def _rewrite(folder: Path, frame: pd.DataFrame) -> None:
    """Replace a table's read copy (its month files) by one file holding `frame`."""
    import shutil

    shutil.rmtree(folder)
    folder.mkdir()
    frame.to_parquet(folder / "edited.parquet")


def _measures(result) -> dict[tuple[str, str], dict]:
    return result.table.set_index(["table", "measure"]).to_dict(orient="index")


def test_analytics_over_the_week_fails_on_the_quarantined_date(week):
    result = validate_range(week, "analytics", START, END, load_thresholds())
    m = _measures(result)
    schedule = _published(week, "raw/schedule")
    games = schedule["game_id"].nunique()
    assert result.scheduled_games == games
    # the counts are the four-season floors scaled by the range's share of the schedule
    assert m[("team_offense_game_summary", "game_count")]["threshold"] == math.ceil(5600 * 2 * games / 9840)
    assert m[("player_game_summary", "records")]["threshold"] == math.ceil(35000 * 2 * games / 9840)
    offense = _published(week, "analytics/team_offense_game_summary")
    assert m[("team_offense_game_summary", "game_count")]["actual"] == len(offense) == 2 * games
    pgs = _published(week, "analytics/player_game_summary")
    assert m[("player_game_summary", "records")]["actual"] == len(pgs)
    played = pgs[pgs["played"].fillna(False)]
    assert m[("player_game_summary", "avg_quality_score")]["actual"] == round(played["quality_score"].mean(), 2)
    assert m[("team_offense_game_summary", "production_ready_pct")]["actual"] == round(100 * offense["production_ready"].mean(), 2)
    # the quarantined date: 6 of 7 game dates published, below 95 %; its rows are not among the published ones
    success = m[("player_game_summary", "success_pct")]
    assert (success["actual"], success["threshold"], success["verdict"]) == (round(600 / 7, 2), 95.0, FAIL)
    assert pd.Timestamp(BAD) not in set(pd.to_datetime(pgs["game_date"]))
    assert m[("player_game_summary", "usage_rate_populated_pct")]["verdict"] == PASS
    assert [k for k, v in m.items() if v["verdict"] == FAIL] == [("player_game_summary", "success_pct")]
    assert not result.passed and result.exit_code == 1


def test_a_range_without_the_bad_date_passes_with_smaller_thresholds(week):
    result = validate_range(week, "analytics", START, "2021-10-21", load_thresholds())
    assert result.passed, result.table
    games = _published(week, "raw/schedule").query("game_date <= '2021-10-21'")["game_id"].nunique()
    assert _measures(result)[("team_offense_game_summary", "game_count")]["threshold"] == math.ceil(5600 * 2 * games / 9840)


def test_an_off_season_range_is_judged_fairly(week):
    result = validate_range(week, "analytics", *OFF_SEASON, load_thresholds())
    m = _measures(result)
    assert result.scheduled_games == 0 and result.passed
    assert m[("team_offense_game_summary", "game_count")]["threshold"] == 0
    assert m[("player_game_summary", "success_pct")]["verdict"] == NOT_JUDGED  # no game dates to judge
    assert m[("schedule", "dates_known_pct")]["actual"] == 100.0


def test_dates_never_materialized_fail_instead_of_shrinking_the_expectation(week):
    """A range reaching past what was published: the schedule is unknown there, so the phase cannot pass."""
    result = validate_range(week, "raw", START, "2021-10-27", load_thresholds())
    m = _measures(result)
    known = m[("schedule", "dates_known_pct")]
    assert (known["actual"], known["verdict"]) == (round(700 / 9, 2), FAIL)
    assert not result.passed


def test_raw_and_precompute_phases(week):
    raw = validate_range(week, "raw", START, END, load_thresholds())
    assert raw.passed, raw.table
    assert _measures(raw)[("player_boxscores", "records")]["actual"] == len(_published(week, "raw/player_boxscores"))
    precompute = validate_range(week, "precompute", START, END, load_thresholds())
    m = _measures(precompute)
    assert m[("player_composite_factors", "success_pct")]["actual"] == 0.0  # never built: the run stopped upstream
    assert not precompute.passed


def test_thresholds_come_from_the_config_and_are_strict(week, tmp_path):
    override = tmp_path / "lenient.yaml"
    override.write_text("range_validation:\n  analytics:\n    player_game_summary:\n      success_min_pct: 80\n")
    assert validate_range(week, "analytics", START, END, load_thresholds(override)).passed
    typo = tmp_path / "typo.yaml"
    typo.write_text("range_validation:\n  analytics:\n    player_game_summary:\n      succes_min_pct: 80\n")
    with pytest.raises(ThresholdsError, match="range_validation.analytics.player_game_summary.succes_min_pct"):
        load_thresholds(typo)


def test_bad_arguments_are_refused_before_any_read(tmp_path):
    with pytest.raises(ValueError, match="precedes"):
        validate_range(tmp_path, "analytics", END, START, load_thresholds())
    with pytest.raises(ValueError, match="unknown phase"):
        validate_range(tmp_path, "model", START, END, load_thresholds())
    with pytest.raises(WarehouseUnreachable, match="no DuckDB warehouse at .*nowhere"):
        validate_range(tmp_path / "nowhere" / "warehouse.duckdb", "analytics", START, END, load_thresholds())


def _cli(warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"NBA_PIPELINE_WAREHOUSE": str(warehouse), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nba_pipeline.cli", "validate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)


def test_the_cli_exit_codes_and_json(week):
    failing = _cli(week, "--phase", "analytics", "--start", START, "--end", END)
    assert failing.returncode == 1, failing.stderr[-2000:]
    assert "VERDICT: FAIL — player_game_summary success_pct" in failing.stdout
    with duckdb.connect(str(week)):  # a writer holding the DuckDB file does not block validation
        passing = _cli(week, "--phase", "analytics", "--start", START, "--end", "2021-10-21", "--json")
    assert passing.returncode == 0, passing.stderr[-2000:]
    data = json.loads(passing.stdout)
    assert data["passed"] and {m["verdict"] for m in data["measures"]} == {PASS}
    reversed_range = _cli(week, "--phase", "analytics", "--start", END, "--end", START)
    assert reversed_range.returncode == 2 and "precedes" in reversed_range.stderr
    assert _cli(week, "--phase", "analytics", "--start", "YESTERDAY", "--end", END).returncode == 2


def test_games_not_final_yet_are_not_expected(week, tmp_path):
    """A range reaching today: the published schedule says the last date's games are not final (fetched before tip-off),
    and nothing downstream exists for it yet. Those games are left out of every expectation and reported, instead of
    failing the range for box scores that cannot exist."""
    import shutil

    copy = tmp_path / "published"
    shutil.copytree(week.parent / "published", copy)
    day = pd.Timestamp(END)
    schedule = pd.read_parquet(copy / "raw" / "schedule")
    pending = schedule["game_date"].astype("datetime64[ns]") == day
    schedule.loc[pending, "game_status"] = "Scheduled"
    _rewrite(copy / "raw" / "schedule", schedule)
    analytics = ["team_offense_game_summary", "team_defense_game_summary", "player_game_summary"]
    for table in analytics:
        frame = pd.read_parquet(copy / "analytics" / table)
        _rewrite(copy / "analytics" / table, frame[frame["game_date"].astype("datetime64[ns]") != day])
    log = pd.read_parquet(copy / "pipeline" / "publish_log")
    _rewrite(copy / "pipeline" / "publish_log",
             log[~(log["asset"].isin(analytics) & (log["game_date"].astype("datetime64[ns]") == day))])

    elsewhere = DuckDBWarehouse(database=str(tmp_path / "absent.duckdb"), read_copy_dir=str(copy))
    result = validate_range(elsewhere, "analytics", "2021-10-23", END, load_thresholds())
    assert result.passed, result.table
    final = schedule[~pending & schedule["game_date"].astype("datetime64[ns]").between("2021-10-23", END)]["game_id"].nunique()
    assert (result.scheduled_games, result.not_final_games) == (final, schedule.loc[pending, "game_id"].nunique())
    assert result.game_dates == 2 and result.not_final_games > 0
    assert f"{result.not_final_games} more not final yet" in format_validation(result)
