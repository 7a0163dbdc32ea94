"""A real game day in production: `NBA_PIPELINE_ENV=production`, every feed bound by `feed_sources("production")`
to its real source, each source's base URL pointed at one local server answering like the vendors with recorded
and constructed bodies (nba_pipeline_tests/recorded_league.py), played through the same schedules and sensors as
the simulator's test_game_day_timeline.py: lines four times, the injury report's versions, the referee crews, the
finals, the grading. Production's resources as `resources_for("production")` builds them: the
BigQuery warehouse on the real local emulator (BIGQUERY_EMULATOR_HOST) and the model store on a local GCS server
(STORAGE_EMULATOR_HOST). Measured on 2 shared cores: the history 160–280 s, the day 90–200 s (6.5 min in all).

History (every phase for the 2023-24 season so far, 2023-10-24..2024-02-20, in one range run through the same
sources) and the eve's slate (02-21, All-Star break: none) exist; then 2024-02-22 — the date of the recorded Odds API bodies — is played from 06:00 to 06:00 the next
day on the story clock: every tick sets the server's clock and builds the schedule / sensor context (or evaluates
the automation conditions) at that time, and every run it asks for is executed in-process at that time.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
import uuid

import dagster as dg
import pandas as pd
import pytest
from gcp_storage_emulator.server import create_server

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
from nba_pipeline.ml.features import FEATURES
from nba_pipeline.raw.lines import current_lines
from nba_pipeline.resources import feed_sources, resources_for
from nba_pipeline.sources.replay import THRESHOLDS_PROFILE
from nba_pipeline.warehouse.base import TableRef
from nba_pipeline.warehouse.bigquery_warehouse import BigQueryWarehouse
from nba_pipeline_tests.bigquery_emulator import PROJECT
from nba_pipeline_tests.conftest import shipped_instance
from nba_pipeline_tests.recorded_league import LINE_SNAPSHOTS, MOVES, RecordedLeague

HISTORY = ("2023-10-24", "2024-02-20")
EVE, DAY, NEXT = "2024-02-21", "2024-02-22", "2024-02-23"
TRAINING = [a.key.to_user_string() for a in ALL_ASSETS if a.key.to_user_string() not in ("points_prop_predictions", "prediction_grading")]
JOBS = {job.name: job for job in GAME_DAY_JOBS}


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=EASTERN)


class ProductionDay:
    """The instance, the warehouse, the recorded league and the story clock of the day being played."""

    def __init__(self, league: RecordedLeague, warehouse: BigQueryWarehouse, instance: dg.DagsterInstance):
        self.league, self.warehouse = league, warehouse  # the warehouse to read what the runs published
        self.instance = instance
        self.defs = build_definitions("production")
        self.cursor = None
        self.runs: list[tuple[str, str, dg.ExecuteInJobResult]] = []

    def tick(self, at: str | None) -> None:
        self.league.now = pd.Timestamp(at or f"{HISTORY[1]}T23:59:00")

    def resources(self, at: str | None) -> dict:
        """Production's resources, built afresh for every run as a code server does; the clock is the story's."""
        resources = resources_for("production")
        resources["clock"] = GameClock(frozen_at=at)
        return resources

    def materialize(self, selection, partition: str | None, at: str | None, label: str, end: str | None = None):
        self.tick(at)
        kwargs = {"partition_key": partition} if end is None else {
            "tags": {"dagster/asset_partition_range_start": partition, "dagster/asset_partition_range_end": end}
        }
        result = dg.materialize(ALL_ASSETS, selection=selection, resources=self.resources(at), instance=self.instance,
                                raise_on_error=False, **kwargs)
        failures = [e.step_failure_data.user_failure_data for e in result.all_events if e.is_step_failure]
        assert result.success, (label, [f.description if f else None for f in failures])
        self.runs.append((at or "", label, result))
        return result

    def run_request(self, request: dg.RunRequest, job_name: str, at: str) -> dg.ExecuteInJobResult:
        return self.materialize(JOBS[job_name].selection, request.partition_key, at, f"{job_name}:{request.partition_key}")

    def schedule(self, schedule: dg.ScheduleDefinition, at: str) -> dg.ExecuteInJobResult:
        self.tick(at)
        request = schedule(dg.build_schedule_context(instance=self.instance, scheduled_execution_time=_at(at)))
        return self.run_request(request, schedule.job_name, at)

    def sensor(self, sensor: dg.SensorDefinition, at: str) -> list[dg.ExecuteInJobResult]:
        self.tick(at)
        # production's source is a FeedRouter of nested resources: the context must be entered to set them up
        with dg.build_sensor_context(
            instance=self.instance, resources={"source": feed_sources("production")[0], "clock": GameClock(frozen_at=at)},
            definitions=self.defs,
        ) as context:
            data = sensor.evaluate_tick(context)
        return [self.run_request(r, sensor.job_name, at) for r in data.run_requests or []]

    def automation(self, at: str) -> dict[str, set[str]]:
        """One tick of the automation sensor's conditions; every requested asset partition is materialized."""
        self.tick(at)
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
        schema, table = name.split(".")
        frame = self.warehouse.read(TableRef(schema, table), [date])
        return frame[frame["game_date"] == pd.Timestamp(date)].reset_index(drop=True)


@pytest.fixture(scope="module")
def storage_emulator():
    """A real local GCS server (gcp-storage-emulator, in process) for production's model store."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="nba-models")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def day(bigquery_emulator, storage_emulator) -> dict:
    prefix = f"day{uuid.uuid4().hex[:8]}_"
    with RecordedLeague() as league, pytest.MonkeyPatch.context() as env:
        for key, value in {
            "GCP_PROJECT": PROJECT,
            "BIGQUERY_EMULATOR_HOST": bigquery_emulator,
            "BIGQUERY_STORAGE_EMULATOR_HOST": bigquery_emulator.storage,  # table reads as on Google: Storage Read API
            "NBA_PIPELINE_BIGQUERY_DATASET_PREFIX": prefix,
            "GCS_BUCKET": "nba-models",
            "STORAGE_EMULATOR_HOST": storage_emulator,
            "NBA_PIPELINE_ENV": "production",
            "NBA_STATS_BASE_URL": f"{league.url}/stats",
            "NBA_STATS_MIN_INTERVAL_SECONDS": "0",  # a local server: no rate limit to respect
            "ODDS_API_BASE_URL": league.url,
            "NBA_INJURY_REPORT_URL": f"{league.url}/injury",
            "NBA_REFEREES_URL": f"{league.url}/referee-assignments/",
            "ODDS_API_KEY": "recorded-story-key",
            # the recorded league has no shot charts (the package's season has none): shot zones from the replay,
            # which serves none (the shot-zone warning fails, as on the replay)
            "NBA_PIPELINE_FEED_SHOT_ZONES": "season_2023_24",
            # the constructed box scores carry the replay's whole minutes: its profile (one key: team minutes ±4)
            "NBA_PIPELINE_THRESHOLDS": str(THRESHOLDS_PROFILE),
        }.items():
            env.setenv(key, value)
        for key in ("NBA_PIPELINE_SOURCE", "NBA_PIPELINE_FEED_PROP_LINES", "NBA_PIPELINE_FEED_INJURY_REPORT",
                    "NBA_PIPELINE_FEED_REFEREE_ASSIGNMENTS", "NBA_STATS_PROXY"):
            env.delenv(key, raising=False)
        with shipped_instance() as instance:
            return _play(ProductionDay(league, BigQueryWarehouse(project=PROJECT, api_endpoint=bigquery_emulator, dataset_prefix=prefix,
                                                                         storage_endpoint=bigquery_emulator.storage),
                                       instance))


def _play(played: ProductionDay) -> dict:
    seen: dict = {"seconds": {}}
    started = time.perf_counter()
    played.materialize(dg.AssetSelection.assets(*TRAINING), HISTORY[0], None, "history", end=HISTORY[1])
    # the eve (All-Star break: no games) was predicted on its own morning, as every date is
    played.materialize(dg.AssetSelection.assets(*PRE_GAME_FEEDS, *PRE_GAME_PHASES), EVE, f"{EVE}T10:00:00", "eve")
    seen["seconds"]["history"] = time.perf_counter() - started

    started = time.perf_counter()
    played.schedule(morning_schedule, f"{DAY}T06:00:00")  # the eve (All-Star break: no games) finals and grading
    seen["07:00"] = played.automation(f"{DAY}T07:00:00")
    seen["injury_runs"], seen["referee_runs"], refreshes = [], [], []
    timeline = [
        (f"{DAY}T06:00:00", "injury"), (f"{DAY}T08:45:00", "referees"), (f"{DAY}T09:00:00", "referees"),
        (f"{DAY}T09:15:00", "referees"), (f"{DAY}T09:30:00", "lines"), (f"{DAY}T12:00:00", "lines"),
        (f"{DAY}T13:15:00", "injury"), (f"{DAY}T13:30:00", "injury"), (f"{DAY}T13:45:00", "injury"),
        (f"{DAY}T15:00:00", "lines"), (f"{DAY}T17:30:00", "injury"), (f"{DAY}T17:45:00", "injury"),
        (f"{DAY}T18:00:00", "lines"),
    ]
    schedules = iter(line_refresh_schedules)
    for at, what in timeline:
        if what == "injury":
            seen["injury_runs"].append(len(played.sensor(injury_report_discovery, at)))
        elif what == "referees":
            seen["referee_runs"].append(len(played.sensor(referee_discovery, at)))
        else:
            result = played.schedule(next(schedules), at)
            refreshes.append({"at": at[-8:-3], "run_id": result.run_id, "lines": played.table("raw.prop_lines"),
                              "predictions": played.table("predictions.points_prop_predictions"),
                              "features": played.table("ml.ml_feature_store")})
            if at.endswith("09:30:00"):
                seen["at_10"] = {t: played.table(t) for t in
                                 ("raw.player_boxscores", "raw.team_boxscores", "analytics.player_game_summary")}
    seen["refreshes"] = refreshes

    windows = []
    for schedule, at in zip(post_game_schedules, (f"{DAY}T23:00:00", f"{NEXT}T01:30:00", f"{NEXT}T04:00:00")):
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
    played.schedule(morning_schedule, f"{NEXT}T06:00:00")
    seen["seconds"]["day"] = time.perf_counter() - started
    print(f"\nproduction game day: history {seen['seconds']['history']:.0f} s, the day {seen['seconds']['day']:.0f} s")
    seen["played"] = played
    return seen


def test_every_line_is_predicted_by_ten_with_no_box_score_of_the_day(day):
    first = day["refreshes"][0]
    lines = current_lines(first["lines"])
    predictions = first["predictions"]
    assert len(lines) > 30  # two recorded games, every matched player of ten books
    assert sorted(predictions["player_id"]) == sorted(lines["player_id"])
    assert (predictions["player_id"] < 1 << 31).all()  # NBA.com person ids, matched from the vendor's names
    assert predictions["predicted_points"].notna().all()
    assert (predictions["model_trained_through"] < pd.Timestamp(DAY)).all()  # walk-forward: a model from before the day
    assert predictions["line_snapshot_at"].eq(pd.Timestamp(f"{DAY} {LINE_SNAPSHOTS[0]}")).all()
    for table, rows in day["at_10"].items():
        assert rows.empty, f"{table} had rows of {DAY} at 10:00"


def test_discovery_stores_each_new_injury_report_and_the_crews_once(day):
    # 06:00 and 13:15 nothing posted, 13:30 the 01PM report, 13:45 nothing new, 17:30 the 05PM report, 17:45 nothing
    assert day["injury_runs"] == [0, 0, 1, 0, 1, 0]
    # 08:45 no crews on the page yet, 09:00 every crew, 09:15 nothing new
    assert day["referee_runs"] == [0, 1, 0]
    played = day["played"]
    crews = played.table("raw.referee_assignments")
    assert crews["game_id"].nunique() == played.table("raw.schedule")["game_id"].nunique() == 12
    assert crews.groupby("game_id")["role"].apply(lambda roles: sorted(roles) == ["Crew Chief", "Referee", "Umpire"]).all()
    reports = played.table("raw.injury_report")
    # every version is kept, with the time its header gives
    assert set(reports["report_at"]) == {pd.Timestamp(f"{DAY} 13:30"), pd.Timestamp(f"{DAY} 17:30")}
    assert reports["player_id"].notna().all() and (reports["player_id"] < 1 << 31).all()  # NBA.com ids


def test_lines_keep_each_book_and_are_labelled_as_the_vendors(day):
    lines = day["refreshes"][-1]["lines"]
    recorded = {book["key"] for body in day["played"].league.recorded.values() for book in body["bookmakers"]}
    assert set(lines["sportsbook"]) == recorded and len(recorded) == 10
    predictions = day["refreshes"][-1]["predictions"]
    assert (predictions["line_source"] == "vendor").all()
    assert set(lines["game_id"]) == {"20240222_ORL_CLE", "20240222_BKN_TOR"}  # the vendor's games, date-team form
    assert set(predictions["game_id"]) == {"0022300792", "0022300795"}  # resolved to NBA.com's game ids


def test_line_refreshes_re_predict_exactly_the_moved_lines(day):
    refreshes = day["refreshes"]
    for number, (before, after) in enumerate(zip(refreshes, refreshes[1:]), start=1):
        old = current_lines(before["lines"]).set_index("player_id")["line"]
        new = current_lines(after["lines"]).set_index("player_id")["line"]
        moved = set(new.index[new.ne(old.reindex(new.index)).to_numpy()])
        names = set(current_lines(after["lines"]).set_index("player_id").loc[sorted(moved), "player_name"])
        assert names == {name for index, name, _ in MOVES if index == number}, after["at"]
        predicted = after["predictions"]
        repredicted = set(predicted.loc[predicted["predicted_in_run"] == after["run_id"], "player_id"])
        assert moved <= repredicted, after["at"]
        # anyone else re-predicted had his model features change (a new injury report between the refreshes)
        was = before["features"].set_index("player_id")[list(FEATURES)].astype("string").fillna("")
        now = after["features"].set_index("player_id")[list(FEATURES)].astype("string").fillna("")
        lined = set(predicted["player_id"])
        changed = {p for p in lined if p not in was.index or not was.loc[p].equals(now.loc[p])}
        assert repredicted - moved == changed - moved, after["at"]
        if number == 1:  # 09:30 to 12:00: nothing but the lines changed
            assert repredicted == moved and changed <= moved
        if number == 2:  # 12:00 to 15:00: the 13:30 report's Out players changed their teammates' teammates_out
            extra = repredicted - moved
            assert extra and all(was.loc[p, "teammates_out"] != now.loc[p, "teammates_out"] for p in extra)
        rows = predicted.set_index("player_id").loc[sorted(moved)]
        assert (rows["prop_line"] == new.loc[sorted(moved)]).all()
        assert (rows["line_snapshot_at"] == pd.Timestamp(f"{DAY} {LINE_SNAPSHOTS[number]}")).all()
        # the line movement is history: every snapshot so far is kept, one new row per moved (book, player) number
        assert len(after["lines"]) == len(before["lines"]) + day["played"].league.moved_quotes(number)


def test_analytics_waits_for_every_game_then_grading_covers_the_day(day):
    first, second, _ = day["windows"]
    assert (first["schedule"]["game_status"] != "Final").any()  # 23:00: the 22:00 and 22:10 tip-offs are still on
    assert DAY not in first["requested"].get("team_offense_game_summary", set())
    assert (second["schedule"]["game_status"] == "Final").all()
    assert DAY in second["requested"]["team_offense_game_summary"]
    assert DAY in second["requested"]["player_game_summary"]
    played = day["played"]
    graded = played.table("predictions.prediction_grading")
    predictions = played.table("predictions.points_prop_predictions")
    assert len(graded) == len(predictions) > 30
    assert graded["graded"].all()
    box = played.table("raw.player_boxscores")
    void = set(graded.loc[graded["result"] == "VOID", "player_id"])
    assert void == set(predictions["player_id"]) - set(box["player_id"])  # VOID exactly for who did not play
