"""The one Definitions object, as `dagster dev` loads it (see workspace.yaml / pyproject [tool.dagster])."""

from __future__ import annotations

import math
import os

import dagster as dg

from nba_pipeline.ops.alerts import AlertWebhook, alert_sensor
from nba_pipeline.analytics.assets import analytics_assets
from nba_pipeline.config.environment import seconds_from_environment
from nba_pipeline.plumbing.automation import automation_sensor, daily_job, late_data_sensor
from nba_pipeline.ops.freshness import with_freshness
from nba_pipeline.game_day import GAME_DAY_JOBS, GAME_DAY_SCHEDULES, GAME_DAY_SENSORS
from nba_pipeline.ml.assets import ml_assets
from nba_pipeline.precompute.assets import precompute_assets
from nba_pipeline.predictions.assets import prediction_assets
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.ops.recovery import dead_run_sweeper
from nba_pipeline.ops.run_host import recording_host
from nba_pipeline.resources import resources_for
from nba_pipeline.ops.validation_job import validate_range_job

ALL_ASSETS = [*raw_assets, *analytics_assets, *precompute_assets, *ml_assets, *prediction_assets]

all_phases_job = dg.define_asset_job(
    "all_phases",
    selection=dg.AssetSelection.all(),
    description="Every phase for the selected game dates; a range launch runs as one vectorised run.",
)


def build_definitions(
    deployment: str, *, warehouse_path: str | None = None, automation_interval_seconds: int = 30, game_day: bool = True
) -> dg.Definitions:
    """`game_day=False` leaves out the day's schedules and sensors (`game_day.py`), which act on the real clock:
    for a deployment that only backfills history, or a test that must launch every run itself."""
    resources = resources_for(deployment, warehouse_path=warehouse_path)
    resources["thresholds"].load()  # a bad thresholds file fails the code location with the key it names
    if not game_day:
        resources["alerts"] = AlertWebhook(late_data=False)  # nothing builds yesterday by 08:00 without the game day
    return dg.Definitions(
        assets=with_freshness(ALL_ASSETS),
        jobs=[all_phases_job, daily_job, *GAME_DAY_JOBS, validate_range_job],
        schedules=GAME_DAY_SCHEDULES if game_day else [],
        # the sweeper fails only the dead runs of its own host and pid namespace (`ops.run_host`) and leaves the
        # rest to their host (in production, run monitoring); the staging tables of runs not in flight it drops on
        # either warehouse
        sensors=[late_data_sensor, *(GAME_DAY_SENSORS if game_day else []), automation_sensor(automation_interval_seconds),
                 alert_sensor, dead_run_sweeper],
        resources=resources,
        # One DuckDB file admits one writer: steps run in one process locally; BigQuery can fan out. Each run records
        # the host and process executing it (run_host), which recovery judges by.
        executor=recording_host(dg.in_process_executor if deployment == "local" else dg.multiprocess_executor),
    )


defs = build_definitions(
    os.environ.get("NBA_PIPELINE_ENV", "local"),
    # tests that play a night through the daemon tick faster than the 30 s default
    automation_interval_seconds=math.ceil(seconds_from_environment("NBA_PIPELINE_AUTOMATION_INTERVAL_SECONDS", 30)),
    game_day=os.environ.get("NBA_PIPELINE_GAME_DAY", "on") != "off",
)
