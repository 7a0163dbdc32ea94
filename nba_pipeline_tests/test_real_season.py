"""The real 2023-24 season (replay source) through every phase on a temp instance: the checks' verdicts on real
data, real values through to analytics, predictions and grading out of sample. The opening nights and four
covered weeks in one range run, as `nba-pipeline replay-season` runs the whole season (nba_pipeline/real_season.py):
the opening nights fail and the weeks carry on around them; then the final week, whose box scores are missing."""

import datetime as dt

import dagster as dg
import pytest

from nba_pipeline.checks import names
from nba_pipeline.real_season import Span, format_results, run_season, season_spans
from nba_pipeline.resources import resources_for
from nba_pipeline.sources import SeasonReplaySource
from nba_pipeline_tests.conftest import read_table, shipped_instance

OPENING = Span("no pre-game knowledge", dt.date(2023, 10, 24), dt.date(2023, 10, 25), "opening nights")
WEEKS = Span("covered", dt.date(2023, 10, 26), dt.date(2023, 11, 26), "four real weeks")
FINAL_WEEK = Span("missing final week", dt.date(2024, 4, 8), dt.date(2024, 4, 14), "no box scores in the files")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("NBA_PIPELINE_SOURCE", "season_2023_24")
    mp.delenv("NBA_PIPELINE_THRESHOLDS", raising=False)
    warehouse = str(tmp_path_factory.mktemp("real") / "warehouse.duckdb")
    resources = resources_for("local", warehouse_path=warehouse)
    mp.undo()
    with shipped_instance() as instance:
        season = run_season(resources, instance, OPENING.start, WEEKS.end)  # one range: opening nights and weeks
        final = run_season(resources, instance, FINAL_WEEK.start, FINAL_WEEK.end)
    return warehouse, {"season": season, FINAL_WEEK.label: final}, resources


def _failed(result) -> dict[tuple[str, str], str]:
    c = result.checks
    return {(r.asset, r.check): r.failed_dates for r in c[~c["passed"]].itertuples()}


def test_the_spans_are_read_off_the_files():
    spans = season_spans(SeasonReplaySource())
    assert [(s.start, s.end) for s in spans] == [
        (dt.date(2023, 10, 24), dt.date(2023, 10, 25)), (dt.date(2023, 10, 26), dt.date(2024, 4, 7)),
        (dt.date(2024, 4, 8), dt.date(2024, 4, 14)),
    ]


def test_the_replay_binds_its_source_and_thresholds_profile(real):
    _, _, resources = real
    assert isinstance(resources["source"], SeasonReplaySource)
    assert resources["thresholds"].load().team_offense_game_summary.team_minutes_tolerance == 4.0


def test_opening_nights_fail_visibly_no_player_is_known_before_a_teams_first_game(real):
    _, results, _ = real
    season = results["season"]
    failed = _failed(season)
    assert failed[("player_composite_factors", names.EVERY_PLAYER_HAS_ROW)] == "2023-10-24, 2023-10-25"
    assert failed[("player_game_summary", names.SHOT_ZONE_COVERAGE)]  # no shot zones in the files: the warning fails
    blocking = season.checks[~season.checks["passed"] & season.checks["blocking"]]
    assert set(blocking["asset"]) == {"player_composite_factors"}  # raw and analytics pass on the real opening nights
    # what reads the two opening slates is held back; nothing else is
    assert dict(season.held_back.values.tolist()) == {
        "player_daily_cache": 2, "ml_feature_store": 2, "points_prop_predictions": 2, "prediction_grading": 2}


def test_covered_weeks_pass_every_blocking_check_and_the_warnings_say_what_is_missing(real):
    _, results, _ = real
    weeks = results["season"]
    assert weeks.success, format_results(weeks)  # one range: the opening nights no longer stop the weeks
    failed = _failed(weeks)
    opening = {k for k in failed if k[0] == "player_composite_factors"}  # the opening nights, above: only they fail
    assert names.EVERY_PLAYER_HAS_ROW in {c for _, c in opening}
    assert {failed[k] for k in opening} == {"2023-10-24, 2023-10-25"}
    assert set(failed) - opening == {
        ("player_game_summary", names.SHOT_ZONE_COVERAGE),  # shot zones absent
        ("team_offense_game_summary", names.TEAM_TURNOVERS_KNOWN),  # team turnovers unknown
    }
    passed = weeks.checks.set_index(["asset", "check"])["passed"]
    assert passed[("player_game_summary", names.USAGE_RATE_POPULATED)]
    assert passed[("team_offense_game_summary", names.TEAM_MINUTES_VALID)]


def test_real_values_come_through_to_analytics(real):
    warehouse, _, _ = real
    pgs = read_table(warehouse, "analytics.player_game_summary")
    giannis = pgs[(pgs["player_name"] == "Giannis Antetokounmpo") & (pgs["game_date"] == "2023-11-09")].iloc[0]
    # the file's row: 36 minutes, 54 points, 25 FGA, 18 FTA, 8 turnovers (published under 'BLK')
    assert (giannis["pts"], giannis["minutes"], giannis["fga"], giannis["fta"], giannis["tov"]) == (54, 36.0, 25, 18, 8)
    assert giannis["game_id"] == "0022300171" and not giannis["is_home"]  # games.ndjson: MIL at IND, 124-126
    played = pgs[pgs["played"]]
    assert played["usage_rate"].notna().mean() > 0.99 and 25 < giannis["usage_rate"] < 60
    teams = read_table(warehouse, "analytics.team_offense_game_summary")
    assert teams["team_turnovers"].isna().all() and teams["quality_issues"].str.contains("team_turnovers_unknown").all()


def test_predictions_on_the_synthetic_book_graded_out_of_sample(real):
    warehouse, results, _ = real
    lines = read_table(warehouse, "raw.prop_lines")
    predictions = read_table(warehouse, "predictions.points_prop_predictions")
    assert lines["sportsbook"].str.startswith("synthetic").all()
    assert len(predictions) == len(lines[lines["game_date"].between("2023-10-26", "2023-11-26")]) > 2000
    grading = results["season"].grading
    assert grading["out_of_sample_predictions"] > 500
    assert 3 < grading["out_of_sample_mae"] < 8 and 3 < grading["baseline_mae"] < 8
    assert 0.3 < grading["out_of_sample_hit_rate"] < 0.7
    # every line labelled by its source; the synthetic book is not a market, so there is no hit rate against one
    assert (predictions["line_source"] == "synthetic").all() and grading["line_sources"] == "synthetic"
    assert grading["hit_rate_against_the_market"].startswith("n/a")
    # the model against each simple average on the same rows, and the verdict only when earned
    assert grading["compared_rows"] > 500 and 3 < grading["baseline_mae_ewma_10"] < 8
    assert grading["beats_best_simple_baseline"] == (grading["out_of_sample_mae_compared"] < grading["best_simple_baseline_mae"])
    assert 0 < grading["brier_synthetic"] < 0.3


def test_the_missing_final_week_fails_the_game_count_for_exactly_its_game_dates(real):
    _, results, _ = real
    final = results[FINAL_WEEK.label]
    failed = _failed(final)
    # the week alone: the pre-game steps read the season's unbuilt months before it and are refused
    assert not final.success
    assert failed[("team_offense_game_summary", names.SCHEDULED_GAMES_COMPLETE)] == (
        "2024-04-09, 2024-04-10, 2024-04-11, 2024-04-12, 2024-04-14"  # Apr 8 and 13 had no games
    )
    row = final.checks.set_index(["asset", "check"]).loc[("team_offense_game_summary", names.SCHEDULED_GAMES_COMPLETE)]
    assert row["blocking"] and row["dates_failed"] == 5 and "no rows for the scheduled games" in row["description"]
