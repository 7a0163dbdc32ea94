import pytest

from nba_pipeline.config import ThresholdsError, load_thresholds


def test_defaults_are_the_documented_thresholds():
    t = load_thresholds()
    assert t.player_game_summary.usage_rate_populated_min_pct == 95
    assert t.player_game_summary.minutes_populated_min_pct == 99
    assert t.team_offense_game_summary.production_ready_min_pct == 80


def test_a_user_file_overrides_only_its_keys(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("player_game_summary:\n  usage_rate_populated_min_pct: 90\n")
    t = load_thresholds(f)
    assert t.player_game_summary.usage_rate_populated_min_pct == 90
    assert t.player_game_summary.minutes_populated_min_pct == 99


@pytest.mark.parametrize(
    "text, key",
    [
        ("player_game_summary:\n  usage_rate_populated_min_pct: 150\n", "player_game_summary.usage_rate_populated_min_pct"),
        ("player_game_summary:\n  usage_rate_min: 90\n", "player_game_summary.usage_rate_min"),
        ("team_offense_game_summary:\n  production_ready_min_pct: lots\n", "team_offense_game_summary.production_ready_min_pct"),
    ],
)
def test_validation_errors_name_the_bad_key(tmp_path, text, key):
    f = tmp_path / "t.yaml"
    f.write_text(text)
    with pytest.raises(ThresholdsError, match=key.replace(".", r"\.")):
        load_thresholds(f)


def test_a_bad_file_fails_loading_the_definitions(tmp_path, monkeypatch):
    from nba_pipeline.definitions import build_definitions

    f = tmp_path / "t.yaml"
    f.write_text("player_game_summary:\n  minutes_populated_min_pct: -1\n")
    monkeypatch.setenv("NBA_PIPELINE_THRESHOLDS", str(f))
    with pytest.raises(ThresholdsError, match="minutes_populated_min_pct"):
        build_definitions("local", warehouse_path=str(tmp_path / "w.duckdb"))
