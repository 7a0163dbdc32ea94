"""Thresholds as a resource, so every check reads the same validated configuration."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from nba_pipeline.config.thresholds import Thresholds, load_thresholds


class ThresholdsResource(dg.ConfigurableResource):
    override_file: str | None = Field(None, description="YAML file overriding the package defaults, key by key.")

    def load(self) -> Thresholds:
        return load_thresholds(self.override_file)
