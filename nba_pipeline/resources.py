"""Environment resolution in one place: the same resource keys, bound locally or in production."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_gcp import GCSPickleIOManager, GCSResource
from dagster_gcp_pandas import BigQueryPandasIOManager

from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.sources import NbaStatsApiSource, SimulatedLeagueSource
from nba_pipeline.warehouse.duckdb_io_manager import DuckDBWarehouseIOManager

DEPLOYMENTS = ("local", "production")
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"


def resources_for(deployment: str, *, warehouse_path: str | None = None) -> dict[str, Any]:
    """io_manager (tables), model_io (trained models), source and thresholds for `deployment`
    (NBA_PIPELINE_ENV): 'local' (default) or 'production'."""
    thresholds = ThresholdsResource(override_file=os.environ.get("NBA_PIPELINE_THRESHOLDS"))
    if deployment == "local":
        database = warehouse_path or os.environ.get("NBA_PIPELINE_WAREHOUSE", DEFAULT_WAREHOUSE)
        return {
            "io_manager": DuckDBWarehouseIOManager(database=database),
            "model_io": dg.FilesystemIOManager(base_dir=str(Path(database).parent / "models")),
            "source": SimulatedLeagueSource(faults_file=os.environ.get("NBA_PIPELINE_FAULTS_FILE")),
            "thresholds": thresholds,
        }
    if deployment == "production":
        return {
            "io_manager": BigQueryPandasIOManager(project=dg.EnvVar("GCP_PROJECT"), location="US"),
            "model_io": GCSPickleIOManager(
                gcs=GCSResource(project=dg.EnvVar("GCP_PROJECT")), gcs_bucket=dg.EnvVar("GCS_BUCKET"), gcs_prefix="models"
            ),
            "source": NbaStatsApiSource(),
            "thresholds": thresholds,
        }
    raise ValueError(f"unknown deployment {deployment!r}: NBA_PIPELINE_ENV must be one of {DEPLOYMENTS}")
