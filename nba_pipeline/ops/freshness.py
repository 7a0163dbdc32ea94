"""Freshness: when each daily asset is due, as Dagster's own freshness policies (shown in the UI), and
yesterday's partition late as an alert incident.

Dagster 1.13's `FreshnessPolicy` is evaluated by the daemon's FreshnessDaemon (on by default, no sensor and no
asset check to add) and shown on every asset (PASS / FAIL, "Freshness" in the asset's overview and the catalog). A
policy is not partition-aware: it asks whether the asset materialized in a window before a deadline, which is what
a daily schedule produces. So:

  post-game phases (box scores, shot zones, schedule, analytics, grading): `FreshnessPolicy.cron("0 8 * * *",
    lower_bound_delta=10 h, America/New_York)` — materialized between 22:00 and 08:00 ET (post-game windows from
    23:00, the morning run at 06:00); a FAIL at 08:00 means last night's data is late;
  pre-game phases (lines, injuries, referees, precompute, features, predictions): `cron("30 10 * * *", 2 h)` —
    today's slate built between 08:30 and 10:30 (the 09:30 line refresh).

The older `build_time_partition_freshness_checks` would ask for the *last* partition, which here is today's
(`end_offset=1`), not yesterday's, and would add asset checks to every asset job and backfill step; it is not used.
The partition-aware question — is yesterday's partition of the post-game tables published by 08:00 ET? — is
answered from the publish log by `late_incidents`, which the alert sensor sends once per date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from nba_pipeline.dates import EASTERN
from nba_pipeline.partitions import GAME_TIMEZONE
from nba_pipeline.warehouse.base import PUBLISHED, Warehouse, WarehouseUnreachable

POST_GAME = dg.FreshnessPolicy.cron(deadline_cron="0 8 * * *", lower_bound_delta=dt.timedelta(hours=10), timezone=GAME_TIMEZONE)
PRE_GAME = dg.FreshnessPolicy.cron(deadline_cron="30 10 * * *", lower_bound_delta=dt.timedelta(hours=2), timezone=GAME_TIMEZONE)
PRE_GAME_ASSETS = {
    "injury_report", "prop_lines", "referee_assignments", "player_composite_factors", "player_daily_cache",
    "ml_feature_store", "points_prop_predictions",
}
LATE_ASSETS = ("player_boxscores", "team_boxscores", "team_offense_game_summary", "team_defense_game_summary",
               "player_game_summary")
LATE_DEADLINE = dt.time(8, 0)  # ET: yesterday's post-game tables are published by then (morning run at 06:00)


def policy_for(asset: str) -> dg.FreshnessPolicy:
    return PRE_GAME if asset in PRE_GAME_ASSETS else POST_GAME


def with_freshness(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The daily assets with their freshness policy (unpartitioned ones, the model, unchanged)."""
    return [
        a.map_asset_specs(lambda spec: dg.apply_freshness_policy(spec, policy_for(spec.key.to_user_string())))
        if a.partitions_def is not None else a
        for a in assets
    ]


def late_dates(warehouse: Warehouse, now: dt.datetime) -> tuple[str, list[str]] | None:
    """(yesterday, its post-game assets without a published record) once `now` is past the deadline; None before it."""
    local = now.astimezone(EASTERN)
    if local.time() < LATE_DEADLINE:
        return None
    yesterday = (local.date() - dt.timedelta(days=1)).isoformat()
    log = warehouse.publish_log(yesterday, yesterday, latest=False)
    published = set(log.loc[log["outcome"] == PUBLISHED, "asset"])
    return yesterday, [a for a in LATE_ASSETS if a not in published]


def late_incidents(warehouse: Warehouse | None, now: dt.datetime) -> list:
    """Yesterday's late post-game assets as one incident; none when the warehouse cannot be read (the alert sensor
    reports that as its own incident)."""
    from nba_pipeline.ops.alerts import Incident

    try:
        found = late_dates(warehouse, now) if warehouse is not None else None
    except WarehouseUnreachable:
        return []
    if not found or not found[1]:
        return []
    day, missing = found
    return [Incident(id=f"late:{day}", kind="late", dates=[day],
                     summary=f"yesterday's data is late: {day} not published by {LATE_DEADLINE:%H:%M} ET for "
                             + ", ".join(missing),
                     detail="see `nba-pipeline status --start {0} --end {0}`".format(day))]
