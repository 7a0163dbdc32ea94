"""NBA_PIPELINE_SOURCE resolved in one function: each name binds its source (and thresholds profile), an unknown
name is refused by name."""

import dagster as dg
import pytest

from nba_pipeline.resources import SOURCES, resources_for, source_for
from nba_pipeline.sources import NbaStatsApiSource, SeasonReplaySource, SimulatedLeagueSource


def test_each_source_name_binds_its_source(monkeypatch, tmp_path):
    monkeypatch.delenv("NBA_PIPELINE_THRESHOLDS", raising=False)
    kinds = {"simulator": SimulatedLeagueSource, "season_2023_24": SeasonReplaySource, "nba_stats": NbaStatsApiSource}
    assert set(kinds) == set(SOURCES)
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
    with pytest.raises(ValueError, match=r"unknown source 'nba_api': NBA_PIPELINE_SOURCE must be one of \('simulator', 'season_2023_24', 'nba_stats'\)"):
        source_for("nba_api")


def test_production_binds_the_proxy_as_an_env_var(monkeypatch):
    monkeypatch.setenv("NBA_STATS_PROXY", "http://proxy.example:3128")
    source, profile = source_for("nba_stats")
    assert profile is None and isinstance(source, NbaStatsApiSource)
    assert source.proxy == dg.EnvVar("NBA_STATS_PROXY")
