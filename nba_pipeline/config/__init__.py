"""Quality thresholds: pydantic-validated YAML, package defaults overridden by a user file."""

from nba_pipeline.config.thresholds import Thresholds, ThresholdsError, load_thresholds

__all__ = ["Thresholds", "ThresholdsError", "load_thresholds"]
