"""Numbers per date and season on each partition's materialization — what the UI's Plots tab draws."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from nba_pipeline.metadata import Measure, by_date_and_season
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline_tests.conftest import run_range

START, THIN, END = "2021-10-19", "2021-10-20", "2021-10-21"


def test_shares_and_means_per_date_and_season():
    f = pd.DataFrame({
        "game_date": pd.to_datetime(["2022-04-10", "2022-04-10", "2022-04-10", "2022-10-18", "2022-10-19"]),
        "x": [1.0, None, 4.0, 3.0, 5.0],
        "counted": [True, True, False, True, False],
    })
    out = by_date_and_season(f["game_date"], {"x_pct": Measure(f["x"].notna(), f["counted"]),
                                              "x_mean": Measure(f["x"], f["counted"], scale=1.0)})
    assert out.loc["2022-04-10", "date_x_pct"] == 50.0 and out.loc["2022-04-10", "date_x_mean"] == 1.0
    assert pd.isna(out.loc["2022-10-19", "date_x_pct"])  # nobody counted that date: no number
    # 2022-04-10 closes 2021-22; 2022-10-18/19 open 2022-23: each date carries its own season's figure
    assert out.loc["2022-04-10", "season_x_pct"] == 50.0
    assert out.loc["2022-10-18", "season_x_pct"] == out.loc["2022-10-19", "season_x_pct"] == 100.0
    assert "season_x_pct" not in by_date_and_season(f["game_date"].iloc[:3], {"x_pct": Measure(f["x"].notna(), f["counted"])})


@pytest.fixture(scope="module")
def thin_shot_zones(tmp_path_factory):
    """Raw + analytics over three dates in one range run; the play-by-play of the middle date covers few games."""
    warehouse = str(tmp_path_factory.mktemp("plots") / "warehouse.duckdb")
    faults = SimulatorFaults(shot_zone_coverage=0.3, affected_dates=[THIN])
    instance = dg.DagsterInstance.ephemeral()
    result = run_range(warehouse, START, END, faults=faults, instance=instance)
    assert result.success
    return warehouse, result


def _by_partition(result, asset: str) -> dict[str, dict]:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {e.partition: e.materialization.metadata for e in events}


def _sql(warehouse: str, query: str) -> pd.DataFrame:
    with duckdb.connect(warehouse, read_only=True) as conn:
        return conn.execute(query).fetchdf()


def test_player_game_summary_partitions_carry_their_own_numbers(thin_shot_zones):
    warehouse, result = thin_shot_zones
    meta = _by_partition(result, "player_game_summary")
    assert sorted(meta) == [START, THIN, END]
    expected = _sql(warehouse, """
        select strftime(game_date, '%Y-%m-%d') as d, 100.0 * count(usage_rate) / count(*) as usage,
               100.0 * count(*) filter (where production_ready) / count(*) as ready
        from analytics.player_game_summary where played group by 1""").set_index("d")
    zones = _sql(warehouse, """
        select strftime(game_date, '%Y-%m-%d') as d, 100.0 * count(*) filter (where has_shot_zones) / count(*) as zones
        from analytics.player_game_summary where played and fga > 0 group by 1""").set_index("d")["zones"]
    for day, values in meta.items():
        assert isinstance(values["date_shot_zone_coverage_pct"], dg.FloatMetadataValue)
        assert values["date_shot_zone_coverage_pct"].value == pytest.approx(zones[day])
        assert values["date_usage_rate_populated_pct"].value == pytest.approx(expected.loc[day, "usage"])
        assert values["date_production_ready_pct"].value == pytest.approx(expected.loc[day, "ready"])
    assert meta[THIN]["date_shot_zone_coverage_pct"].value < 50 < meta[START]["date_shot_zone_coverage_pct"].value
    season = _sql(warehouse, """
        select 100.0 * count(*) filter (where has_shot_zones) / count(*) as zones
        from analytics.player_game_summary where played and fga > 0""")["zones"].iloc[0]
    # one season, one figure on every partition of the run: the step's dates of 2021-22 together
    assert {round(m["season_shot_zone_coverage_pct"].value, 9) for m in meta.values()} == {round(season, 9)}
    assert meta[START]["rows"].value > 0  # the step's own metadata is still on every partition


def test_team_offense_partitions_carry_quality_and_reconciliation(thin_shot_zones):
    warehouse, result = thin_shot_zones
    meta = _by_partition(result, "team_offense_game_summary")
    expected = _sql(warehouse, """
        select strftime(game_date, '%Y-%m-%d') as d, avg(quality_score) as q,
               100.0 * count(*) filter (where production_ready) / count(*) as ready,
               100.0 * count(*) filter (where pts = player_pts_sum) / count(*) as reconcile
        from analytics.team_offense_game_summary group by 1""").set_index("d")
    for day, values in meta.items():
        assert values["date_avg_quality_score"].value == pytest.approx(expected.loc[day, "q"])
        assert values["date_production_ready_pct"].value == pytest.approx(expected.loc[day, "ready"])
        assert values["date_players_reconcile_pct"].value == pytest.approx(expected.loc[day, "reconcile"]) == 100.0
