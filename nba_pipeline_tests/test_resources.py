"""NBA_PIPELINE_SOURCE resolved in one function: each name binds its source (and thresholds profile), an unknown
name is refused by name."""

import dagster as dg
import pytest

from nba_pipeline.resources import SOURCES, resources_for, source_for
from nba_pipeline.sources import NbaInjuryReportSource, NbaStatsApiSource, SeasonReplaySource, SimulatedLeagueSource
from nba_pipeline.sources.injury_report import BASE_URL


def test_each_source_name_binds_its_source(monkeypatch, tmp_path):
    monkeypatch.delenv("NBA_PIPELINE_THRESHOLDS", raising=False)
    kinds = {"simulator": SimulatedLeagueSource, "season_2023_24": SeasonReplaySource, "nba_stats": NbaStatsApiSource}
    kinds["nba_injury_report"] = NbaInjuryReportSource
    assert set(kinds) | {"game_logs", "odds_api", "nba_referees"} == set(SOURCES)  # those need their environment: below
    for name, kind in kinds.items():
        monkeypatch.setenv("NBA_PIPELINE_SOURCE", name)
        resources = resources_for("local", warehouse_path=str(tmp_path / "w.duckdb"))
        assert isinstance(resources["source"], kind), name
    monkeypatch.delenv("NBA_PIPELINE_SOURCE")
    assert isinstance(resources_for("local", warehouse_path=str(tmp_path / "w.duckdb"))["source"], SimulatedLeagueSource)


def test_the_replay_profile_gives_way_to_an_explicit_thresholds_file(monkeypatch, tmp_path):
    monkeypatch.setenv("NBA_PIPELINE_SOURCE", "season_2023_24")
    monkeypatch.delenv("NBA_PIPELINE_THRESHOLDS", raising=False)
    assert resources_for("local", warehouse_path="w.duckdb")["thresholds"].load().team_offense_game_summary.team_minutes_tolerance == 4.0
    own = tmp_path / "t.yaml"
    own.write_text("team_offense_game_summary:\n  team_minutes_tolerance: 2.0\n")
    monkeypatch.setenv("NBA_PIPELINE_THRESHOLDS", str(own))
    assert resources_for("local", warehouse_path="w.duckdb")["thresholds"].load().team_offense_game_summary.team_minutes_tolerance == 2.0


def test_an_unknown_source_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown source 'nba_api': NBA_PIPELINE_SOURCE must be one of \('simulator', 'season_2023_24', 'nba_stats', 'game_logs', 'odds_api', 'nba_referees', 'nba_injury_report'\)"):
        source_for("nba_api")


def test_production_binds_the_proxy_as_an_env_var(monkeypatch):
    monkeypatch.setenv("NBA_STATS_PROXY", "http://proxy.example:3128")
    source, profile = source_for("nba_stats")
    assert profile is None and isinstance(source, NbaStatsApiSource)
    assert source.proxy == dg.EnvVar("NBA_STATS_PROXY")


def test_each_feed_is_bound_in_one_place_and_a_feed_without_credentials_fails_alone(monkeypatch, tmp_path):
    from nba_pipeline.raw.assets import raw_assets
    from nba_pipeline.sources import OddsApiSource
    from nba_pipeline.sources.router import FeedRouter
    from nba_pipeline_tests.conftest import read_table

    monkeypatch.delenv("NBA_PIPELINE_THRESHOLDS", raising=False)
    monkeypatch.delenv("ODDS_API_KEY", raising=False)
    monkeypatch.setenv("NBA_PIPELINE_SOURCE", "simulator")
    monkeypatch.setenv("NBA_PIPELINE_FEED_PROP_LINES", "odds_api")
    warehouse = str(tmp_path / "w.duckdb")
    resources = resources_for("local", warehouse_path=warehouse)
    router = resources["source"]
    assert isinstance(router, FeedRouter) and isinstance(router.prop_lines, OddsApiSource)
    assert isinstance(router.schedule, SimulatedLeagueSource) and router.prop_lines.api_key is None
    result = dg.materialize(raw_assets, resources=resources, partition_key="2023-12-16", raise_on_error=False)
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failed] == ["prop_lines"]
    error = failed[0].event_specific_data.error
    assert error.cause.cls_name == "MissingCredentials" and "set ODDS_API_KEY" in error.cause.message
    done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert done == {"schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "referee_assignments"}
    assert len(read_table(warehouse, "raw.schedule")) > 0
    monkeypatch.delenv("NBA_PIPELINE_FEED_PROP_LINES")
    assert isinstance(resources_for("local", warehouse_path=warehouse)["source"], SimulatedLeagueSource)


def test_production_takes_lines_from_the_vendor_unless_the_source_is_a_whole_simulated_league(monkeypatch):
    from nba_pipeline.resources import feed_sources
    from nba_pipeline.sources import NbaStatsApiSource, OddsApiSource
    from nba_pipeline.sources.router import FeedRouter

    for name in ("NBA_PIPELINE_FEED_PROP_LINES", "NBA_PIPELINE_FEED_INJURY_REPORT", "NBA_PIPELINE_SOURCE", "NBA_INJURY_REPORT_URL"):
        monkeypatch.delenv(name, raising=False)
    router, _ = feed_sources("production")  # NBA.com, lines from The Odds API, injuries from the league's PDFs
    assert isinstance(router, FeedRouter) and isinstance(router.prop_lines, OddsApiSource)
    assert isinstance(router.player_boxscores, NbaStatsApiSource)
    assert isinstance(router.injury_report, NbaInjuryReportSource) and router.injury_report.base_url == BASE_URL
    assert isinstance(feed_sources("local")[0], SimulatedLeagueSource)  # locally nothing is bound to a real feed
    monkeypatch.setenv("NBA_PIPELINE_SOURCE", "simulator")  # a simulated league in production: every feed simulated
    assert isinstance(feed_sources("production")[0], SimulatedLeagueSource)
    monkeypatch.setenv("NBA_PIPELINE_FEED_PROP_LINES", "odds_api")  # unless a feed is bound on its own
    assert isinstance(feed_sources("production")[0].prop_lines, OddsApiSource)
    monkeypatch.setenv("NBA_PIPELINE_FEED_INJURY_REPORT", "nba_injury_report")
    monkeypatch.setenv("NBA_INJURY_REPORT_URL", "http://mirror.example/injury")  # the PDFs' address, from the environment
    router = feed_sources("production")[0]
    assert isinstance(router.injury_report, NbaInjuryReportSource) and router.injury_report.base_url == "http://mirror.example/injury"
    assert isinstance(router.schedule, SimulatedLeagueSource)


def test_production_takes_referee_crews_from_the_assignments_page(monkeypatch):
    from nba_pipeline.resources import feed_sources
    from nba_pipeline.sources.referees import PAGE_URL, NbaRefereeAssignmentsSource

    for name in ("NBA_PIPELINE_FEED_REFEREE_ASSIGNMENTS", "NBA_PIPELINE_SOURCE", "NBA_REFEREES_URL"):
        monkeypatch.delenv(name, raising=False)
    router, _ = feed_sources("production")
    assert isinstance(router.referee_assignments, NbaRefereeAssignmentsSource) and router.referee_assignments.base_url == PAGE_URL
    assert isinstance(router.schedule, NbaStatsApiSource)
    monkeypatch.setenv("NBA_REFEREES_URL", "http://mirror.example/referee-assignments/")
    assert source_for("nba_referees")[0].base_url == "http://mirror.example/referee-assignments/"
    monkeypatch.setenv("NBA_PIPELINE_FEED_REFEREE_ASSIGNMENTS", "nba_stats")  # one feed bound on its own
    assert isinstance(feed_sources("production")[0].referee_assignments, NbaStatsApiSource)
    monkeypatch.delenv("NBA_PIPELINE_FEED_REFEREE_ASSIGNMENTS")
    monkeypatch.setenv("NBA_PIPELINE_SOURCE", "season_2023_24")  # a recorded league serves its own (empty) crews
    assert isinstance(feed_sources("production")[0], SeasonReplaySource)


def test_game_logs_needs_its_folders(monkeypatch, tmp_path):
    from nba_pipeline.sources import GameLogFilesSource
    from nba_pipeline.sources.replay import DATA_DIR

    monkeypatch.delenv("NBA_PIPELINE_GAME_LOG_DIRS", raising=False)
    with pytest.raises(ValueError, match="needs NBA_PIPELINE_GAME_LOG_DIRS"):
        source_for("game_logs")
    monkeypatch.setenv("NBA_PIPELINE_GAME_LOG_DIRS", f"{tmp_path}:{DATA_DIR}")
    source, _ = source_for("game_logs")
    assert isinstance(source, GameLogFilesSource) and source.directories == [str(tmp_path), str(DATA_DIR)]


def test_production_readers_retry_an_unreachable_bigquery_as_long_as_the_environment_says(monkeypatch):
    from nba_pipeline.warehouse.bigquery_warehouse import bigquery_warehouse_from_environment

    monkeypatch.setenv("GCP_PROJECT", "nba")
    monkeypatch.delenv("NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS", raising=False)
    assert bigquery_warehouse_from_environment().read_retry_seconds == 15
    monkeypatch.setenv("NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS", "2.5")
    assert bigquery_warehouse_from_environment().read_retry_seconds == 2.5
    for bad in ("0", "-3", "soon"):
        monkeypatch.setenv("NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS", bad)
        with pytest.raises(ValueError, match=rf"NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS='{bad}': expected a number of seconds above 0"):
            bigquery_warehouse_from_environment()
