"""Partitioned materialization on a real DuckDB file: checks pass on clean data, fail on injected faults."""

import pytest

from nba_pipeline.checks import names
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline_tests.conftest import (
    EVERY_PHASE,
    RAW_AND_ANALYTICS,
    check_outcomes,
    read_table,
    run_range,
    run_results,
)

DAY = "2024-01-15"


def test_a_clean_day_materializes_every_phase_and_passes_every_check(warehouse):
    result = run_range(warehouse, DAY)
    assert result.success
    outcomes = check_outcomes(result)
    declared = {(spec.asset_key.to_user_string(), spec.name) for a in RAW_AND_ANALYTICS for spec in a.check_specs}
    assert len(declared) >= 40  # each raw feed's matches_schema, team_turnovers_known, vendor_names_matched, …
    assert set(outcomes) == declared and all(outcomes.values()), {k: v for k, v in outcomes.items() if not v}
    pgs = read_table(warehouse, "analytics.player_game_summary")
    played = pgs[pgs["played"]]
    assert played["usage_rate"].notna().all() and len(played) > 150


def test_rematerializing_is_idempotent(warehouse):
    run_range(warehouse, "2024-01-14", "2024-01-16")
    first = read_table(warehouse, "analytics.player_game_summary")
    run_range(warehouse, DAY)  # one date inside the range, again
    run_range(warehouse, "2024-01-14", "2024-01-16")
    second = read_table(warehouse, "analytics.player_game_summary")
    assert len(first) == len(second)
    assert not second.duplicated(["game_id", "player_id"]).any()
    key = ["game_id", "player_id"]
    assert first.sort_values(key).reset_index(drop=True).equals(second.sort_values(key).reset_index(drop=True))


def test_a_day_without_games_is_a_valid_zero_row_partition(warehouse):
    result = run_range(warehouse, "2024-02-18")  # All-Star Sunday
    assert result.success and all(check_outcomes(result).values())
    assert read_table(warehouse, "analytics.team_offense_game_summary").empty
    evaluation = next(
        e for e in run_results(result) if e.check_name == names.SCHEDULED_GAMES_COMPLETE
    )
    assert evaluation.metadata["status"].value == "no games scheduled"
    offense = next(m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "team_offense_game_summary")
    assert "avg_quality_score" not in offense.materialization.metadata  # an off day has no quality to report (was 100)
    assert offense.materialization.metadata["dates_published"].value == 1


def test_a_range_run_computes_all_dates_in_one_run(warehouse):
    result = run_range(warehouse, "2024-02-14", "2024-02-25")  # spans the All-Star break
    assert result.success
    mats = result.get_asset_materialization_events()
    assert len({m.partition for m in mats}) == 12
    offense = read_table(warehouse, "analytics.team_offense_game_summary")
    assert offense["game_date"].dt.strftime("%Y-%m-%d").nunique() == 6  # 14, 15, 22..25


@pytest.mark.parametrize(
    "faults, failing",
    [
        (
            SimulatorFaults(game_id_format="vendor", game_id_feed="team_boxscores"),
            {("team_offense_game_summary", names.SCHEDULED_GAMES_COMPLETE), ("team_boxscores", names.CANONICAL_GAME_IDS)},
        ),
        (SimulatorFaults(missing_team_row_rate=0.5), {("team_offense_game_summary", names.SCHEDULED_GAMES_COMPLETE)}),
        (SimulatorFaults(duplicate_row_rate=0.5), {("player_boxscores", names.NO_DUPLICATE_KEYS)}),
        (SimulatorFaults(impossible_stat_rate=0.5), {("player_boxscores", names.VALID_STATS)}),
        (SimulatorFaults(unknown_team_rate=0.3), {("player_boxscores", names.KNOWN_TEAMS)}),
    ],
    ids=["vendor_game_ids", "missing_team_rows", "duplicate_rows", "impossible_stats", "unknown_teams"],
)
def test_injected_faults_fail_the_checks_that_name_them(warehouse, faults, failing):
    faults = faults.model_copy(update={"affected_dates": [DAY]})
    result = run_range(warehouse, DAY, faults=faults)
    failed = {k for k, passed in check_outcomes(result).items() if not passed}
    assert failing <= failed
    assert not result.success  # a blocking failure stops the run's downstream steps


def test_vendor_ids_in_the_player_feed_fail_usage_rate_and_block_everything_downstream(warehouse):
    """The original team's failure: player rows that join no team totals leave usage_rate NULL."""
    faults = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[DAY])
    result = run_range(warehouse, DAY, faults=faults, assets=EVERY_PHASE)
    outcomes = check_outcomes(result)
    assert outcomes[("team_offense_game_summary", names.PLAYERS_RECONCILE)] is False  # a warning only
    assert outcomes[("team_offense_game_summary", names.AVG_QUALITY_SCORE)] is True
    usage = next(e for e in run_results(result) if e.check_name == names.USAGE_RATE_POPULATED)
    assert not usage.passed and usage.metadata["worst_value"].value < 10
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "player_game_summary" in materialized and "player_composite_factors" not in materialized


@pytest.mark.parametrize("fmt", ["int", "date_team"])
def test_repairable_id_forms_are_normalised_and_only_warned_about(warehouse, fmt):
    faults = SimulatorFaults(game_id_format=fmt, game_id_feed="team_boxscores", affected_dates=[DAY])
    result = run_range(warehouse, DAY, faults=faults)
    outcomes = check_outcomes(result)
    assert outcomes[("team_boxscores", names.CANONICAL_GAME_IDS)] is False  # warning: the feed changed
    assert outcomes[("player_game_summary", names.USAGE_RATE_POPULATED)] is True
    assert result.success  # the warning does not block


def test_low_shot_zone_coverage_is_a_warning_not_a_block(warehouse):
    result = run_range(warehouse, DAY, faults=SimulatorFaults(shot_zone_coverage=0.1))
    assert check_outcomes(result)[("player_game_summary", names.SHOT_ZONE_COVERAGE)] is False
    assert result.success


def test_late_games_fail_completeness_until_they_arrive(warehouse):
    faults = SimulatorFaults(late_game_rate=0.5, late_hours=30, affected_dates=[DAY])
    morning = run_range(warehouse, DAY, faults=faults, as_of="2024-01-16T06:00:00")
    complete = next(e for e in run_results(morning) if e.check_name == names.SCHEDULED_GAMES_COMPLETE)
    assert not complete.passed and "not final yet" in complete.metadata["failures"].value
    later = run_range(warehouse, DAY, faults=faults, as_of="2024-01-18T06:00:00")
    assert later.success and all(check_outcomes(later).values())
