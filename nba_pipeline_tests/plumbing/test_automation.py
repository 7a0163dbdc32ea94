"""Yesterday's partition every morning, late games picked up, and the shipped instance's concurrency limits."""

import datetime as dt
from pathlib import Path

import dagster as dg
import yaml

from nba_pipeline.plumbing.automation import late_data_requests, late_data_sensor
from nba_pipeline.game_day import morning_schedule
from nba_pipeline.definitions import defs
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.warehouse import WAREHOUSE_POOL
from nba_pipeline_tests.conftest import run_range

EASTERN = dt.timezone(dt.timedelta(hours=-5))


def test_the_morning_schedule_requests_yesterday_in_eastern_time():
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2024, 1, 16, 6, 0, tzinfo=EASTERN))
    request = morning_schedule(context)
    assert request.partition_key == "2024-01-15"
    late_utc = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2024, 1, 16, 4, 30, tzinfo=dt.timezone.utc))
    assert morning_schedule(late_utc).partition_key == "2024-01-14"  # 23:30 ET on the 15th: yesterday is the 14th


def test_late_games_are_retried_until_they_arrive(warehouse):
    instance = dg.DagsterInstance.ephemeral()
    day = "2024-01-15"
    faults = SimulatorFaults(late_game_rate=0.5, late_hours=30, affected_dates=[day])
    morning = run_range(warehouse, day, faults=faults, as_of="2024-01-16T06:00:00", instance=instance)
    assert not morning.success
    now = dt.datetime(2024, 1, 16, 12, 0, tzinfo=EASTERN)
    requests = late_data_requests(instance, now)
    assert [r.partition_key for r in requests] == [day]
    assert late_data_requests(instance, now)[0].run_key == requests[0].run_key  # one retry per failed attempt
    later = run_range(warehouse, day, faults=faults, as_of="2024-01-18T06:00:00", instance=instance)
    assert later.success and late_data_requests(instance, now) == []
    sensor = defs.get_sensor_def("late_data_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    # today nothing recent failed on this instance: the sensor says so instead of launching anything
    assert isinstance(late_data_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)


def test_every_asset_writes_through_the_single_slot_warehouse_pool():
    graph = defs.resolve_asset_graph()
    for assets_def in graph.assets_defs:
        assert assets_def.op.pool == WAREHOUSE_POOL, assets_def.key
    shipped = yaml.safe_load((Path(__file__).resolve().parents[2] / "dagster_home" / "dagster.yaml").read_text())
    assert shipped["concurrency"]["pools"]["default_limit"] == 1
    assert shipped["run_coordinator"]["class"] == "QueuedRunCoordinator"
