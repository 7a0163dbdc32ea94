"""Threshold model and loader. Errors name the file and the dotted key, e.g. `player_game_summary.usage_rate_populated_min_pct`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULTS_FILE = Path(__file__).with_name("thresholds.yaml")

Percent = Annotated[float, Field(ge=0, le=100)]
Score = Annotated[float, Field(ge=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlayerGameSummaryThresholds(_Strict):
    usage_rate_populated_min_pct: Percent
    minutes_populated_min_pct: Percent
    shot_zone_coverage_min_pct: Percent
    avg_quality_score_min: Score
    production_ready_min_pct: Percent


class TeamOffenseThresholds(_Strict):
    avg_quality_score_min: Score
    production_ready_min_pct: Percent
    team_minutes_tolerance: Annotated[float, Field(ge=0, le=25)]


class TeamBoxscoreThresholds(_Strict):
    max_team_turnover_excess: Annotated[int, Field(ge=0)]


class PlayerBoxscoreThresholds(_Strict):
    max_minutes_per_game: Annotated[float, Field(gt=0, le=100)]


class CompositeFactorThresholds(_Strict):
    usage_l7_populated_min_pct: Percent


class FeatureStoreThresholds(_Strict):
    feature_completeness_min_pct: Percent


class PredictionThresholds(_Strict):
    min_edge_points: Annotated[float, Field(ge=0)]


class GradingThresholds(_Strict):
    graded_min_pct: Percent


class TeamOffenseRangeThresholds(_Strict):
    game_count_reference: Annotated[int, Field(ge=0)]
    success_min_pct: Percent
    avg_quality_score_min: Score
    production_ready_min_pct: Percent


class PlayerGameSummaryRangeThresholds(_Strict):
    records_reference: Annotated[int, Field(ge=0)]
    success_min_pct: Percent
    minutes_populated_min_pct: Percent
    usage_rate_populated_min_pct: Percent
    shot_zone_coverage_min_pct: Percent
    avg_quality_score_min: Score
    production_ready_min_pct: Percent


class AnalyticsRangeThresholds(_Strict):
    team_offense_game_summary: TeamOffenseRangeThresholds
    player_game_summary: PlayerGameSummaryRangeThresholds


class RawRangeThresholds(_Strict):
    success_min_pct: Percent
    team_boxscores_min_pct_of_scheduled: Percent
    player_rows_per_team_game_min: Annotated[float, Field(ge=0, le=30)]


class PrecomputeRangeThresholds(_Strict):
    success_min_pct: Percent
    usage_l7_populated_min_pct: Percent


class MlRangeThresholds(_Strict):
    success_min_pct: Percent
    feature_completeness_min_pct: Percent


class PredictionsRangeThresholds(_Strict):
    success_min_pct: Percent


class RangeValidationThresholds(_Strict):
    reference_team_games: Annotated[int, Field(gt=0)]
    schedule_known_min_pct: Percent
    raw: RawRangeThresholds
    analytics: AnalyticsRangeThresholds
    precompute: PrecomputeRangeThresholds
    ml: MlRangeThresholds
    predictions: PredictionsRangeThresholds


class Thresholds(_Strict):
    player_game_summary: PlayerGameSummaryThresholds
    team_offense_game_summary: TeamOffenseThresholds
    team_boxscores: TeamBoxscoreThresholds
    player_boxscores: PlayerBoxscoreThresholds
    player_composite_factors: CompositeFactorThresholds
    ml_feature_store: FeatureStoreThresholds
    points_prop_predictions: PredictionThresholds
    prediction_grading: GradingThresholds
    range_validation: RangeValidationThresholds


class ThresholdsError(ValueError):
    """The thresholds file is unreadable or invalid; the message names the file and the key."""


# libyaml's safe loader where PyYAML was built with it: the same documents, ~10x less CPU (every step reads the file)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_SAFE_LOADER) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ThresholdsError(f"cannot read thresholds file {path}: {err}") from None
    if not isinstance(data, dict):
        raise ThresholdsError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        else:
            merged[key] = value
    return merged


def load_thresholds(override_file: str | Path | None = None) -> Thresholds:
    """Package defaults, overridden key by key by `override_file` if given."""
    data = _read(DEFAULTS_FILE)
    source = str(DEFAULTS_FILE)
    if override_file:
        data = _merge(data, _read(Path(override_file)))
        source = str(override_file)
    try:
        return Thresholds.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in err.errors()
        )
        raise ThresholdsError(f"invalid thresholds in {source}: {problems}") from None
