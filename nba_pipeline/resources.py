"""Environment resolution in one place: the same resource keys, bound locally or in production."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg

from nba_pipeline.ops.alerts import AlertWebhook
from nba_pipeline.clock import GameClock
from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.sources import NbaSource, NbaStatsApiSource, SeasonReplaySource, SimulatedLeagueSource
from nba_pipeline import schemas
from nba_pipeline.sources.game_logs import GameLogFilesSource
from nba_pipeline.sources.injury_report import NbaInjuryReportSource
from nba_pipeline.sources.odds_api import OddsApiSource
from nba_pipeline.sources.referees import NbaRefereeAssignmentsSource
from nba_pipeline.sources.replay import THRESHOLDS_PROFILE as REPLAY_THRESHOLDS
from nba_pipeline.sources.router import FeedRouter
from nba_pipeline.warehouse.base import Warehouse
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline.warehouse.io_manager import ModelStore, WarehouseIOManager

DEPLOYMENTS = ("local", "production")
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
SOURCES = ("simulator", "season_2023_24", "nba_stats", "game_logs", "odds_api", "nba_referees", "nba_injury_report")
# production's binding where a feed's source is not NBA_PIPELINE_SOURCE's; NBA_PIPELINE_FEED_<FEED> replaces any of them
PRODUCTION_FEEDS = {
    "prop_lines": "odds_api",
    "referee_assignments": "nba_referees",
    "injury_report": "nba_injury_report",
}
# sources that serve every feed as one coherent league (a simulated or recorded day): production's real-feed defaults
# do not apply over them, so NBA_PIPELINE_SOURCE=simulator in production means every feed is simulated
SELF_CONTAINED = ("simulator", "season_2023_24")


def source_for(name: str) -> tuple[NbaSource, str | None]:
    """The bound source for NBA_PIPELINE_SOURCE, and the thresholds profile it ships (None: the defaults)."""
    if name == "game_logs":
        return GameLogFilesSource.from_environment(), str(REPLAY_THRESHOLDS)
    if name == "odds_api":
        return OddsApiSource.from_environment(), None
    if name == "nba_referees":
        return NbaRefereeAssignmentsSource.from_environment(), None
    if name == "nba_injury_report":
        return NbaInjuryReportSource.from_environment(), None
    if name == "simulator":
        return SimulatedLeagueSource(faults_file=os.environ.get("NBA_PIPELINE_FAULTS_FILE")), None
    if name == "season_2023_24":
        return SeasonReplaySource(data_dir=os.environ.get("NBA_PIPELINE_REPLAY_DIR")), str(REPLAY_THRESHOLDS)
    if name == "nba_stats":
        return NbaStatsApiSource.from_environment(), None
    raise ValueError(f"unknown source {name!r}: NBA_PIPELINE_SOURCE must be one of {SOURCES}")


def feed_sources(deployment: str) -> tuple[NbaSource, str | None]:
    """Each feed kind bound to its source, in one place: NBA_PIPELINE_SOURCE's (default: the simulator locally, NBA.com
    in production), production's PRODUCTION_FEEDS over it unless that source is SELF_CONTAINED, and
    NBA_PIPELINE_FEED_<FEED> (e.g.
    NBA_PIPELINE_FEED_PROP_LINES=simulator) over both. One source for every feed is bound as itself; otherwise a
    `FeedRouter`. The thresholds profile is the main source's."""
    main = os.environ.get("NBA_PIPELINE_SOURCE", "simulator" if deployment == "local" else "nba_stats")
    defaults = PRODUCTION_FEEDS if deployment == "production" and main not in SELF_CONTAINED else {}
    names = {feed: os.environ.get(f"NBA_PIPELINE_FEED_{feed.upper()}") or defaults.get(feed, main) for feed in schemas.RAW_SCHEMAS}
    source, profile = source_for(main)
    built = {main: source, **{name: source_for(name)[0] for name in set(names.values()) - {main}}}
    if set(names.values()) == {main}:
        return source, profile
    return FeedRouter(**{feed: built[name] for feed, name in names.items()}), profile


def warehouse_for(deployment: str, *, warehouse_path: str | None = None) -> Warehouse:
    """The warehouse of `deployment`: locally the DuckDB file (`warehouse_path`, else NBA_PIPELINE_WAREHOUSE, else
    DEFAULT_WAREHOUSE), in production BigQuery as the environment names it."""
    if deployment == "local":
        return DuckDBWarehouse(database=warehouse_path or os.environ.get("NBA_PIPELINE_WAREHOUSE", DEFAULT_WAREHOUSE))
    if deployment == "production":
        from nba_pipeline.warehouse.bigquery_warehouse import bigquery_warehouse_from_environment

        return bigquery_warehouse_from_environment()
    raise ValueError(f"unknown deployment {deployment!r}: NBA_PIPELINE_ENV must be one of {DEPLOYMENTS}")


def resources_for(deployment: str, *, warehouse_path: str | None = None) -> dict[str, Any]:
    """warehouse (write–audit–publish), io_manager (gated reads), model_io (trained models), source, thresholds and clock
    (the time the day's sensors act on) for `deployment`
    (NBA_PIPELINE_ENV): 'local' (default) or 'production'. The source is NBA_PIPELINE_SOURCE's (default: the simulator
    locally, NBA.com in production); NBA_PIPELINE_THRESHOLDS, if set, replaces the source's thresholds profile."""
    source, profile = feed_sources(deployment)
    thresholds = ThresholdsResource(override_file=os.environ.get("NBA_PIPELINE_THRESHOLDS") or profile)
    if deployment == "local":
        warehouse = warehouse_for(deployment, warehouse_path=warehouse_path)
        database = warehouse.database
        return {
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "model_io": ModelStore(base_dir=str(Path(database).parent / "models")),
            "source": source,
            "thresholds": thresholds,
            "clock": GameClock(),
            "alerts": AlertWebhook(),
        }
    if deployment == "production":
        # the `production` extra (dagster-gcp, google-cloud-*): imported only here, so the local default needs none
        from nba_pipeline.warehouse.gcs_model_store import GCSModelStore

        warehouse = warehouse_for(deployment)
        return {
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            # one object per retrain and a LATEST pointer (Dagster's GCSPickleIOManager overwrote one pickle);
            # STORAGE_EMULATOR_HOST (google-cloud-storage's own variable), if set, points it at an emulator
            "model_io": GCSModelStore(project=dg.EnvVar("GCP_PROJECT"), bucket=dg.EnvVar("GCS_BUCKET"), prefix="models",
                                      api_endpoint=os.environ.get("STORAGE_EMULATOR_HOST") or None),
            "source": source,
            "thresholds": thresholds,
            "clock": GameClock(),
            "alerts": AlertWebhook(),
        }
    raise ValueError(f"unknown deployment {deployment!r}: NBA_PIPELINE_ENV must be one of {DEPLOYMENTS}")
