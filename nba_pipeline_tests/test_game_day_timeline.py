"""One whole simulated game day, played through the real schedules, sensors and automation with a controlled clock.

History (2023-10-24..12-14: every phase, and the walk-forward models) and the eve's slate (12-15, predicted on its
morning) exist. Then 2023-12-16 is played from 06:00 to 06:00 the next day: every tick builds the schedule /
sensor context (or evaluates the automation conditions) at that time, and every run it asks for is executed
in-process against the simulator as it stands at that time.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.clock import GameClock
from nba_pipeline.dates import EASTERN
from nba_pipeline.definitions import ALL_ASSETS, build_definitions
from nba_pipeline.game_day import (
    GAME_DAY_JOBS,
    PRE_GAME_FEEDS,
    PRE_GAME_PHASES,
    injury_report_discovery,
    line_refresh_schedules,
    morning_schedule,
    post_game_schedules,
    referee_discovery,
)
from nba_pipeline.raw.lines import current_lines
from nba_pipeline.resources import resources_for
from nba_pipeline.sources import SimulatedLeagueSource
from nba_pipeline_tests.conftest import read_table, shipped_instance

HISTORY = ("2023-10-24", "2023-12-14")
EVE, DAY = "2023-12-15", "2023-12-16"
TRAINING = [a.key.to_user_string() for a in ALL_ASSETS if a.key.to_user_string() not in ("points_prop_predictions", "prediction_grading")]
JOBS = {job.name: job for job in GAME_DAY_JOBS}


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=EASTERN)


class Day:
    """The instance, the warehouse and the clock of the day being played."""

    def __init__(self, warehouse: str, instance: dg.DagsterInstance):
        self.warehouse = warehouse
        self.instance = instance
        self.defs = build_definitions("local", warehouse_path=warehouse)
        self.cursor = None
        self.runs: list[tuple[str, str, dg.ExecuteInJobResult]] = []  # (time, what, result)

    def resources(self, at: str | None) -> dict:
        resources = resources_for("local", warehouse_path=self.warehouse)
        resources["source"] = SimulatedLeagueSource(as_of=at)
        resources["clock"] = GameClock(frozen_at=at)
        return resources

    def materialize(self, selection: dg.AssetSelection, partition: str | None, at: str | None, label: str, tags=None, end=None):
        kwargs = {"partition_key": partition} if end is None else {
            "tags": {"dagster/asset_partition_range_start": partition, "dagster/asset_partition_range_end": end}
        }
        if tags:
            kwargs["tags"] = {**kwargs.get("tags", {}), **tags}
        result = dg.materialize(
            ALL_ASSETS, selection=selection, resources=self.resources(at), instance=self.instance, raise_on_error=False, **kwargs
        )
        failures = [e.step_failure_data.user_failure_data for e in result.all_events if e.is_step_failure]
        assert result.success, (label, [f.description if f else None for f in failures])
        self.runs.append((at or "", label, result))
        return result

    def run_request(self, request: dg.RunRequest, job_name: str, at: str) -> dg.ExecuteInJobResult:
        return self.materialize(JOBS[job_name].selection, request.partition_key, at, f"{job_name}:{request.partition_key}")

    def schedule(self, schedule: dg.ScheduleDefinition, at: str) -> dg.ExecuteInJobResult:
        request = schedule(dg.build_schedule_context(instance=self.instance, scheduled_execution_time=_at(at)))
        return self.run_request(request, schedule.job_name, at)

    def sensor(self, sensor: dg.SensorDefinition, at: str) -> list[dg.ExecuteInJobResult]:
        context = dg.build_sensor_context(
            instance=self.instance,
            resources={"source": SimulatedLeagueSource(as_of=at), "clock": GameClock(frozen_at=at)},
            definitions=self.defs,
        )
        data = sensor.evaluate_tick(context)
        return [self.run_request(r, sensor.job_name, at) for r in data.run_requests or []]

    def automation(self, at: str) -> dict[str, set[str]]:
        """One tick of the automation sensor's conditions; every requested asset partition is materialized."""
        tick = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, evaluation_time=_at(at), cursor=self.cursor)
        self.cursor = tick.cursor
        requested: dict[str, set[str]] = {}
        for key in self.defs.resolve_all_asset_keys():
            partitions = tick.get_requested_partitions(key)
            if partitions:
                requested[key.to_user_string()] = set(partitions)
        by_date: dict[str, list[str]] = {}
        for asset, dates in requested.items():
            for date in dates:
                by_date.setdefault(date, []).append(asset)
        for date in sorted(by_date):
            self.materialize(dg.AssetSelection.assets(*by_date[date]), date, at, f"automation:{date}")
        return requested

    def table(self, name: str, date: str = DAY) -> pd.DataFrame:
        frame = read_table(self.warehouse, name)
        return frame[frame["game_date"] == pd.Timestamp(date)].reset_index(drop=True)


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> dict:
    with shipped_instance() as instance:
        return _play(Day(str(tmp_path_factory.mktemp("timeline") / "warehouse.duckdb"), instance))


def _play(played: Day) -> dict:
    played.materialize(dg.AssetSelection.assets(*TRAINING), HISTORY[0], None, "history", end=HISTORY[1])
    # the eve was predicted on its own morning
    played.materialize(dg.AssetSelection.assets(*PRE_GAME_FEEDS, *PRE_GAME_PHASES), EVE, "2023-12-15T10:00:00", "eve")
    seen: dict = {"requested": {}}

    played.schedule(morning_schedule, "2023-12-16T06:00:00")  # the eve's finals, analytics, grading
    seen["requested"]["07:00"] = played.automation("2023-12-16T07:00:00")
    for at in ("2023-12-16T06:00:00", "2023-12-16T06:15:00", "2023-12-16T08:00:00", "2023-12-16T08:15:00"):
        seen.setdefault("injury_runs", []).append(len(played.sensor(injury_report_discovery, at)))
    for at in ("2023-12-16T08:45:00", "2023-12-16T09:00:00", "2023-12-16T09:15:00"):
        seen.setdefault("referee_runs", []).append(len(played.sensor(referee_discovery, at)))

    refreshes = []
    for schedule, at in zip(line_refresh_schedules, ("09:30", "12:00", "15:00", "18:00")):
        result = played.schedule(schedule, f"{DAY}T{at}:00")
        refreshes.append(
            {"at": at, "run_id": result.run_id, "lines": played.table("raw.prop_lines"),
             "predictions": played.table("predictions.points_prop_predictions")}
        )
        if at == "09:30":
            seen["at_10"] = {
                t: played.table(t) for t in ("raw.player_boxscores", "raw.team_boxscores", "raw.shot_zones", "analytics.player_game_summary")
            }
    seen["refreshes"] = refreshes

    windows = []
    for schedule, at in zip(post_game_schedules, ("2023-12-16T23:00:00", "2023-12-17T01:30:00", "2023-12-17T04:00:00")):
        played.schedule(schedule, at)
        requested: dict[str, set[str]] = {}
        for minutes in (5, 10, 15, 20):  # automation ticks until it has nothing more to ask for
            tick = played.automation((_at(at) + dt.timedelta(minutes=minutes)).replace(tzinfo=None).isoformat())
            for asset, dates in tick.items():
                requested.setdefault(asset, set()).update(dates)
            if not tick:
                break
        windows.append({"at": at, "schedule": played.table("raw.schedule"), "requested": requested})
    seen["windows"] = windows
    played.schedule(morning_schedule, "2023-12-17T06:00:00")
    seen["played"] = played
    return seen


def test_every_line_is_predicted_by_ten_with_no_box_score_of_the_day(day):
    first = day["refreshes"][0]
    lines = current_lines(first["lines"])
    predictions = first["predictions"]
    assert len(lines) > 50
    assert sorted(predictions["player_id"]) == sorted(lines["player_id"])
    assert predictions["predicted_points"].notna().all()
    assert (predictions["model_trained_through"] < pd.Timestamp(DAY)).all()  # walk-forward: a model from before the day
    assert predictions["line_snapshot_at"].eq(pd.Timestamp(f"{DAY} 09:00")).all()
    for table, rows in day["at_10"].items():
        assert rows.empty, f"{table} had rows of {DAY} at 10:00"


def test_discovery_stores_each_new_injury_report_and_referee_crews_once(day):
    # 06:00 the evening report is new, 06:15 nothing new, 08:00 the final report, 08:15 nothing new
    assert day["injury_runs"] == [1, 0, 1, 0]
    # 08:45 nothing posted, 09:00 every crew, 09:15 nothing new
    assert day["referee_runs"] == [0, 1, 0]
    crews = day["played"].table("raw.referee_assignments")
    assert crews["game_id"].nunique() == day["played"].table("raw.schedule")["game_id"].nunique() > 0


def test_three_line_refreshes_re_predict_exactly_the_changed_lines(day):
    refreshes = day["refreshes"]
    for before, after in zip(refreshes, refreshes[1:]):
        old = current_lines(before["lines"]).set_index("player_id")["line"]
        new = current_lines(after["lines"]).set_index("player_id")["line"]
        moved = set(new.index[new.ne(old.reindex(new.index)).to_numpy()])
        predicted = after["predictions"]
        repredicted = set(predicted.loc[predicted["predicted_in_run"] == after["run_id"], "player_id"])
        assert moved, f"no line moved between {before['at']} and {after['at']}"
        assert repredicted == moved, after["at"]
        changed = predicted.set_index("player_id").loc[sorted(moved)]
        assert (changed["prop_line"] == new.loc[sorted(moved)]).all()
        assert (changed["line_snapshot_at"] > pd.Timestamp(f"{DAY} 09:00")).all()
        # the line movement is history: every snapshot so far is kept
        assert len(after["lines"]) == len(before["lines"]) + len(moved)


def test_analytics_waits_for_every_game_then_grading_covers_the_day(day):
    first, second, _ = day["windows"]
    assert (first["schedule"]["game_status"] != "Final").any()  # 23:00: the late west-coast games are still on
    assert DAY not in first["requested"].get("team_offense_game_summary", set())
    assert (second["schedule"]["game_status"] == "Final").all()
    assert DAY in second["requested"]["team_offense_game_summary"]
    assert DAY in second["requested"]["player_game_summary"]
    graded = day["played"].table("predictions.prediction_grading")
    predictions = day["played"].table("predictions.points_prop_predictions")
    assert len(graded) == len(predictions) > 50
    assert graded["graded"].mean() >= 0.95


def test_the_eve_was_graded_in_the_morning(day):
    graded = day["played"].table("predictions.prediction_grading", EVE)
    assert len(graded) > 50 and graded["graded"].mean() >= 0.95
    assert graded["out_of_sample"].all()
