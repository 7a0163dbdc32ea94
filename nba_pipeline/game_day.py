"""The game day, as the original master controller ran it: schedules and sensors on the game calendar (US/Eastern).

Every schedule and sensor is on by default (`NBA_PIPELINE_GAME_DAY=off` leaves them out) and listed in the UI under
*Automation*:

| time (ET)                     | what runs                                                         | in the UI                                        |
|-------------------------------|-------------------------------------------------------------------|--------------------------------------------------|
| 06:00                         | yesterday's finals → analytics → grading of yesterday's predictions | schedule `morning_schedule` (job `morning_finals_analytics_grading`) |
| every 15 min, 06:00–19:00     | injury report fetched; a newly posted version (17:00 the evening before, 08:00 final) is stored | sensor `injury_report_discovery` |
| every 15 min, 06:00–19:00     | referee assignments, until every game of the day has its crew     | sensor `referee_discovery` → asset `referee_assignments` |
| 09:30, 12:00, 15:00, 18:00    | lines refreshed → pre-game phases → predictions for today (only changed lines re-predicted) | schedules `line_refresh_0930` … `line_refresh_1800` (job `pre_game`) |
| 23:00, 01:30, 04:00           | post-game windows 1/2/3: game status and box scores as games end  | schedules `post_game_window_1` … `_3`            |
| once every game of D is final | analytics for D, then grading of D                                | sensor `keep_downstream_in_step` (condition `games_not_final` on the analytics assets) |
| every 30 min                  | dates of the last 3 days whose games were incomplete              | sensor `late_data_sensor`                        |
| Mondays 07:00                 | the walk-forward models retrain                                   | `points_model`'s automation condition (`automation.model_retrain`) |

The first tip-off is 19:00 ET at the earliest (the simulated calendar, and most NBA weekdays), so the four line
refreshes and both discovery sensors run before it. "Today" and "yesterday" are resolved only by
`dates.resolve_partition_key`, from the tick's own time (`clock` resource for sensors, the scheduled time for
schedules), so a replay or a test drives the whole day with a controlled clock.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from nba_pipeline.clock import GameClock
from nba_pipeline.dates import EASTERN, resolve_partition_key
from nba_pipeline.partitions import GAME_TIMEZONE
from nba_pipeline.sources import NbaSource

PRE_GAME_FEEDS = ("schedule", "injury_report", "referee_assignments", "prop_lines")
PRE_GAME_PHASES = ("player_composite_factors", "player_daily_cache", "ml_feature_store", "points_prop_predictions")
FINAL_FEEDS = ("schedule", "player_boxscores", "team_boxscores", "shot_zones")
LINE_REFRESHES = ("09:30", "12:00", "15:00", "18:00")
POST_GAME_WINDOWS = (("23:00", "TODAY"), ("01:30", "YESTERDAY"), ("04:00", "YESTERDAY"))
MORNING_CRON = "0 6 * * *"  # box scores of last night's late games are final well before 06:00 ET
DISCOVERY_HOURS = (dt.time(6, 0), dt.time(19, 0))
DISCOVERY_INTERVAL_SECONDS = 15 * 60

pre_game_job = dg.define_asset_job(
    "pre_game",
    selection=dg.AssetSelection.assets(*PRE_GAME_FEEDS, *PRE_GAME_PHASES),
    description="A game date's pre-game feeds (schedule, injury report, referees, line snapshot) and its pre-game "
    "phases through predictions: run by every line refresh.",
)
post_game_job = dg.define_asset_job(
    "post_game_finals",
    selection=dg.AssetSelection.assets(*FINAL_FEEDS),
    description="A game night's status and box scores, as games end (analytics follows once every game is final).",
)
morning_job = dg.define_asset_job(
    "morning_finals_analytics_grading",
    selection=dg.AssetSelection.assets(*FINAL_FEEDS) | dg.AssetSelection.groups("analytics") | dg.AssetSelection.assets("prediction_grading"),
    description="Yesterday's finals, analytics and the grading of yesterday's predictions.",
)
injury_report_job = dg.define_asset_job("injury_report_refresh", selection=dg.AssetSelection.assets("injury_report"))
referee_job = dg.define_asset_job("referee_assignments_refresh", selection=dg.AssetSelection.assets("referee_assignments"))
GAME_DAY_JOBS = [pre_game_job, post_game_job, morning_job, injury_report_job, referee_job]


def _cron(at: str) -> str:
    hour, minute = (int(part) for part in at.split(":"))
    return f"{minute} {hour} * * *"


@dg.schedule(cron_schedule=MORNING_CRON, execution_timezone=GAME_TIMEZONE, job=morning_job, default_status=dg.DefaultScheduleStatus.RUNNING)
def morning_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Yesterday's finals → analytics → grading, yesterday resolved in US/Eastern from the tick's time."""
    key = resolve_partition_key("YESTERDAY", context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"morning:{key}", partition_key=key)


def line_refresh_schedule(at: str) -> dg.ScheduleDefinition:
    tag = at.replace(":", "")

    @dg.schedule(
        name=f"line_refresh_{tag}",
        cron_schedule=_cron(at),
        execution_timezone=GAME_TIMEZONE,
        job=pre_game_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Today's lines as they stand, kept as a snapshot; the pre-game phases and predictions follow in the
        same run, re-predicting only the lines (or features) that changed."""
        key = resolve_partition_key("TODAY", context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"lines:{key}:{tag}", partition_key=key)

    return _refresh


def post_game_window_schedule(number: int, at: str, night: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"post_game_window_{number}",
        cron_schedule=_cron(at),
        execution_timezone=GAME_TIMEZONE,
        job=post_game_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _window(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Tonight's game status and box scores as games end; analytics waits until every game is final."""
        key = resolve_partition_key(night, context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"post_game:{key}:{number}", partition_key=key)

    return _window


def latest_metadata(instance: dg.DagsterInstance, asset: str, partition: str, key: str) -> str | None:
    """A metadata value of the latest materialization of one partition (None if never materialized)."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(dg.AssetKey(asset), asset_partitions=[partition]), limit=1).records
    if not records:
        return None
    value = records[0].asset_materialization.metadata.get(key)
    return None if value is None else str(value.value)


def _discovery_window(now: dt.datetime) -> bool:
    start, end = DISCOVERY_HOURS
    return start <= now.astimezone(EASTERN).time() < end


def injury_report_requests(instance: dg.DagsterInstance, source: NbaSource, now: dt.datetime) -> list[dg.RunRequest] | dg.SkipReason:
    """Today's injury report, stored again only when the source has posted a newer version than the stored one."""
    if not _discovery_window(now):
        return dg.SkipReason(f"outside {DISCOVERY_HOURS[0]:%H:%M}–{DISCOVERY_HOURS[1]:%H:%M} ET")
    key = resolve_partition_key("TODAY", now)
    day = dt.date.fromisoformat(key)
    posted = source.fetch_conformed("injury_report", day, day)["report_at"].max()
    if pd.isna(posted):
        return dg.SkipReason(f"no injury report for {key} posted yet")
    stored = latest_metadata(instance, "injury_report", key, "latest_report_at")
    if stored not in (None, "none") and pd.Timestamp(stored) >= posted:
        return dg.SkipReason(f"the {posted:%H:%M} report for {key} is stored")
    return [dg.RunRequest(run_key=f"injury:{key}:{posted:%Y%m%dT%H%M}", partition_key=key)]


def referee_requests(instance: dg.DagsterInstance, source: NbaSource, now: dt.datetime) -> list[dg.RunRequest] | dg.SkipReason:
    """Today's referee assignments, stored again whenever more games have a crew than the stored ones."""
    if not _discovery_window(now):
        return dg.SkipReason(f"outside {DISCOVERY_HOURS[0]:%H:%M}–{DISCOVERY_HOURS[1]:%H:%M} ET")
    key = resolve_partition_key("TODAY", now)
    day = dt.date.fromisoformat(key)
    crews = int(source.fetch_conformed("referee_assignments", day, day)["game_id"].nunique())
    if crews == 0:
        return dg.SkipReason(f"no referee assignments for {key} posted yet")
    stored = latest_metadata(instance, "referee_assignments", key, "games_with_crews")
    if stored is not None and int(float(stored)) >= crews:
        return dg.SkipReason(f"{crews} game(s) of {key} have their crews stored")
    return [dg.RunRequest(run_key=f"referees:{key}:{crews}", partition_key=key)]


@dg.sensor(job=injury_report_job, minimum_interval_seconds=DISCOVERY_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
def injury_report_discovery(context: dg.SensorEvaluationContext, source: NbaSource, clock: GameClock):
    """Polls the injury report through the morning and afternoon; a new version is stored (and automation
    re-prices the date's slate)."""
    return injury_report_requests(context.instance, source, clock.now())


@dg.sensor(job=referee_job, minimum_interval_seconds=DISCOVERY_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
def referee_discovery(context: dg.SensorEvaluationContext, source: NbaSource, clock: GameClock):
    """Polls the day's referee assignments until every game has its crew (a new raw asset, referee_assignments)."""
    return referee_requests(context.instance, source, clock.now())


line_refresh_schedules = [line_refresh_schedule(at) for at in LINE_REFRESHES]
post_game_schedules = [post_game_window_schedule(n, at, night) for n, (at, night) in enumerate(POST_GAME_WINDOWS, start=1)]
GAME_DAY_SCHEDULES = [morning_schedule, *line_refresh_schedules, *post_game_schedules]
GAME_DAY_SENSORS = [injury_report_discovery, referee_discovery]
