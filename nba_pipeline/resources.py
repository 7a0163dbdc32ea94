"""Environment resolution in one place: the same resource keys, bound locally or in production."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg

from nba_pipeline.alerts import AlertWebhook
from nba_pipeline.clock import GameClock
from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.sources import NbaStatsApiSource, SimulatedLeagueSource
from nba_pipeline.warehouse.bigquery_warehouse import BigQueryWarehouse
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline.warehouse.io_manager import ModelStore, WarehouseIOManager

DEPLOYMENTS = ("local", "production")
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"


def resources_for(deployment: str, *, warehouse_path: str | None = None) -> dict[str, Any]:
    """warehouse (write–audit–publish), io_manager (gated reads), model_io (trained models), source, thresholds and clock
    (the time the day's sensors act on) for `deployment`
    (NBA_PIPELINE_ENV): 'local' (default) or 'production'."""
    thresholds = ThresholdsResource(override_file=os.environ.get("NBA_PIPELINE_THRESHOLDS"))
    if deployment == "local":
        database = warehouse_path or os.environ.get("NBA_PIPELINE_WAREHOUSE", DEFAULT_WAREHOUSE)
        warehouse = DuckDBWarehouse(database=database)
        return {
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "model_io": ModelStore(base_dir=str(Path(database).parent / "models")),
            "source": SimulatedLeagueSource(faults_file=os.environ.get("NBA_PIPELINE_FAULTS_FILE")),
            "thresholds": thresholds,
            "clock": GameClock(),
            "alerts": AlertWebhook(),
        }
    if deployment == "production":
        # Imported here, not at the top: dagster-gcp (and the Google clients it pulls in) costs ~0.5-1 s at every
        # process start, and only production binds it.
        from dagster_gcp import GCSPickleIOManager, GCSResource

        warehouse = BigQueryWarehouse(project=dg.EnvVar("GCP_PROJECT"), location="US")
        return {
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "model_io": GCSPickleIOManager(
                gcs=GCSResource(project=dg.EnvVar("GCP_PROJECT")), gcs_bucket=dg.EnvVar("GCS_BUCKET"), gcs_prefix="models"
            ),
            "source": NbaStatsApiSource(),
            "thresholds": thresholds,
            "clock": GameClock(),
            "alerts": AlertWebhook(),
        }
    raise ValueError(f"unknown deployment {deployment!r}: NBA_PIPELINE_ENV must be one of {DEPLOYMENTS}")
