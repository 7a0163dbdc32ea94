"""Alerts: one message per incident — a failed blocking check (or a quarantined date), a failed run, a stuck run,
yesterday's data late — as a log line always, and as a JSON POST to a webhook when one is configured.

Incidents and their ids (an id is sent once):
  blocking_check_failed:<run>:<asset>  blocking check evaluations of `asset` that failed in `run` (per-date and
                                       run-level), or dates of `asset` the warehouse quarantined in `run`: the same
                                       audit, so one incident whichever is seen first (checks and dates merged
                                       when both are seen on one tick);
  run_failed:<run>                     a RUN_FAILURE event;
  run_stuck:<run>                      a run STARTED longer than `stuck_after_minutes` (by the clock resource);
  late:<date>                          yesterday's partition of a post-game asset not published by its deadline
                                       (`nba_pipeline.ops.freshness`);
  warehouse_unreachable:<where>:<day>  the warehouse could not be read, so quarantines and late data are not
                                       being watched (once a day while it lasts).

Quarantines and late data come from the warehouse's publish log through the `Warehouse` interface: the same
incidents on DuckDB and on BigQuery.

Dedup: the sensor cursor holds the storage ids already scanned (check evaluations, run failures), the latest
quarantine record seen, and the ids sent (the last `MAX_SENT`, enough for weeks of incidents). On the first tick
(no cursor) only the last `lookback_hours` are scanned, so a new deployment does not replay history.

Webhook failures (connection refused, timeout, non-2xx): the sensor does not crash; the log line is written at
once, the failure is logged, and the POST is retried on every later tick until it succeeds or `max_attempts` is
reached (then given up, logged). Pending deliveries live in the cursor too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

import dagster as dg
from pydantic import Field

from nba_pipeline.clock import GameClock
from nba_pipeline.checks.readiness import BLOCKING_CHECKS
from nba_pipeline.plumbing.dagster_private import failed_check_records
from nba_pipeline.warehouse.base import QUARANTINED, Warehouse, WarehouseUnreachable

WEBHOOK_ENV = "NBA_PIPELINE_ALERT_WEBHOOK_URL"
MAX_SENT, MAX_EVENTS_PER_TICK = 2000, 5000
ALERT_INTERVAL_SECONDS = 60


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go and what counts as stuck. The webhook URL is read from the environment when a tick sends
    (`url_env_var`), never at import, and its absence is not an error (a `dg.EnvVar` field would fail every tick
    of a deployment without a webhook)."""

    url: str | None = Field(None, description="webhook URL; default: the environment variable named by url_env_var")
    url_env_var: str = Field(WEBHOOK_ENV, description="environment variable holding the webhook URL (optional)")
    timeout_seconds: float = Field(5.0, gt=0)
    stuck_after_minutes: float = Field(180.0, gt=0, description="a run STARTED longer than this is stuck")
    lookback_hours: float = Field(24.0, gt=0, description="how far back the first tick (no cursor) looks")
    max_attempts: int = Field(20, ge=1, description="webhook deliveries tried per incident, one per tick")
    late_data: bool = Field(True, description="alert when yesterday's post-game tables are not published by 08:00 ET "
                            "(off for a deployment that only backfills history)")

    def target(self) -> str | None:
        return self.url or os.environ.get(self.url_env_var) or None

    def post(self, payload: dict) -> None:
        """POST `payload` as JSON; raises on a connection error, a timeout or a non-2xx answer."""
        request = urllib.request.Request(
            self.target(), data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            if not 200 <= response.status < 300:
                raise urllib.error.HTTPError(self.target(), response.status, "non-2xx answer", response.headers, None)


@dataclass
class Incident:
    id: str
    kind: str
    summary: str
    run_id: str | None = None
    asset: str | None = None
    checks: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    detail: str = ""

    def merge(self, other: Incident) -> None:
        self.checks = sorted(set(self.checks) | set(other.checks))
        self.dates = sorted(set(self.dates) | set(other.dates))
        self.summary = _check_summary(self)


@dataclass
class AlertCursor:
    checks_after: int | None = None  # id of the last failed check execution record scanned
    quarantine_after: str | None = None  # recorded_at of the latest quarantine record seen
    sent: list[str] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)  # {"incident": ..., "attempts": n}

    @classmethod
    def parse(cls, text: str | None) -> AlertCursor:
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        self.sent = self.sent[-MAX_SENT:]
        return json.dumps(asdict(self))


def _check_summary(incident: Incident) -> str:
    dates = ", ".join(incident.dates[:10]) + (f" (+{len(incident.dates) - 10} more)" if len(incident.dates) > 10 else "")
    return (f"{incident.asset}: blocking check(s) {', '.join(incident.checks) or '?'} failed"
            + (f" on {dates}" if dates else "") + f" in run {incident.run_id[:8]}; the failed dates are quarantined")


def _check_incidents(instance: dg.DagsterInstance, cursor: AlertCursor, since: float) -> list[Incident]:
    from nba_pipeline.ops.report import partitioned_assets

    partitioned_assets()  # importing the phases registers their blocking checks
    keys = [dg.AssetCheckKey(asset, name) for asset, names in BLOCKING_CHECKS.items() for name in names]
    records = failed_check_records(instance, keys, cursor.checks_after, since, MAX_EVENTS_PER_TICK)
    if records:
        cursor.checks_after = records[-1][0]
    out: dict[str, Incident] = {}
    for _, run_id, _, evaluation in records:
        asset = evaluation.asset_key.to_user_string()
        incident = Incident(
            id=f"blocking_check_failed:{run_id}:{asset}", kind="blocking_check_failed", summary="",
            run_id=run_id, asset=asset, checks=[evaluation.check_name],
            dates=[evaluation.partition] if evaluation.partition else [], detail=evaluation.description or "",
        )
        incident.summary = _check_summary(incident)
        if incident.id in out:
            out[incident.id].merge(incident)
        else:
            out[incident.id] = incident
    return list(out.values())


def _quarantine_incidents(warehouse: Warehouse | None, cursor: AlertCursor, since: float) -> list[Incident]:
    """Dates quarantined since the cursor, one incident per (asset, run), from the warehouse's publish log (any
    warehouse: `Warehouse.publish_log`). A warehouse that cannot be read is an incident of its own."""
    if warehouse is None:
        return []
    after = cursor.quarantine_after or dt.datetime.fromtimestamp(since, dt.timezone.utc).replace(tzinfo=None).isoformat()
    try:
        log = warehouse.publish_log(recorded_after=dt.datetime.fromisoformat(after), latest=False)
    except WarehouseUnreachable as err:
        day = dt.datetime.fromtimestamp(since, dt.timezone.utc).date().isoformat()
        return [Incident(id=f"warehouse_unreachable:{warehouse.where()}:{day}", kind="warehouse_unreachable",
                         summary=f"the warehouse ({warehouse.where()}) cannot be read: quarantines and late data "
                                 f"are not being watched", detail=str(err))]
    rows = log[log["outcome"] == QUARANTINED]
    if rows.empty:
        return []
    cursor.quarantine_after = str(rows["recorded_at"].max().isoformat())
    grouped = rows.sort_values("game_date").groupby(["asset", "run_id"], sort=True).agg(
        dates=("game_date", lambda d: list(dict.fromkeys(d))),
        checks=("failed_checks", lambda c: ", ".join(sorted({x.strip() for v in c.dropna() for x in str(v).split(",") if x.strip()}))),
        why=("checks", lambda c: str(c.dropna().min()) if c.notna().any() else ""),
    ).reset_index()
    out = []
    for row in grouped.itertuples(index=False):  # one per (asset, run) quarantine, not per row
        incident = Incident(id=f"blocking_check_failed:{row.run_id}:{row.asset}", kind="blocking_check_failed",
                            summary="", run_id=row.run_id, asset=row.asset,
                            checks=[c for c in row.checks.split(", ") if c], dates=row.dates, detail=row.why)
        incident.summary = _check_summary(incident)
        out.append(incident)
    return out


def _failed_run_incidents(instance: dg.DagsterInstance, since: float, sent: set[str]) -> list[Incident]:
    """Runs that failed since `since` (by their last update) and were not alerted yet; why, from their failure event."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                              updated_after=dt.datetime.fromtimestamp(since, dt.timezone.utc)),
        limit=MAX_EVENTS_PER_TICK,
    )
    out = []
    for record in records:
        run = record.dagster_run
        if f"run_failed:{run.run_id}" in sent:
            continue
        failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        message = (failure[-1].dagster_event.message or "") if failure and failure[-1].dagster_event else ""
        first = run.tags.get("dagster/asset_partition_range_start") or run.tags.get("dagster/partition")
        last = run.tags.get("dagster/asset_partition_range_end") or first
        where = f" for {first}…{last}" if first else ""
        out.append(Incident(id=f"run_failed:{run.run_id}", kind="run_failed", run_id=run.run_id,
                            summary=f"run {run.run_id[:8]} ({run.job_name}){where} failed",
                            dates=[d for d in dict.fromkeys((first, last)) if d], detail=" ".join(message.split())[:500]))
    return out


def _stuck_run_incidents(instance: dg.DagsterInstance, now: float, stuck_after_minutes: float) -> list[Incident]:
    out = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        started = record.start_time
        if started is None or now - started < 60 * stuck_after_minutes:
            continue
        run = record.dagster_run
        out.append(Incident(id=f"run_stuck:{run.run_id}", kind="run_stuck", run_id=run.run_id,
                            summary=f"run {run.run_id[:8]} ({run.job_name}) has been STARTED for "
                                    f"{(now - started) / 60:.0f} min (limit {stuck_after_minutes:g} min)",
                            detail="stuck or dead: see `nba-pipeline status` / `nba-pipeline recover`"))
    return out


def find_incidents(instance: dg.DagsterInstance, warehouse: Warehouse | None, cursor: AlertCursor, now: float,
                   alerts: AlertWebhook, late: list[Incident] | None = None) -> list[Incident]:
    """Every incident found since the cursor (it advances the cursor's scan positions); not yet deduplicated."""
    since = now - 3600 * alerts.lookback_hours
    found: dict[str, Incident] = {}
    for incident in (
        _check_incidents(instance, cursor, since) + _quarantine_incidents(warehouse, cursor, since)
        + _failed_run_incidents(instance, since, set(cursor.sent)) + _stuck_run_incidents(instance, now, alerts.stuck_after_minutes)
        + (late or [])
    ):
        if incident.id in found:
            found[incident.id].merge(incident)
        else:
            found[incident.id] = incident
    return list(found.values())


def deliver(incidents: list[Incident], cursor: AlertCursor, alerts: AlertWebhook, log) -> dict[str, int]:
    """Log each new incident once and queue it for the webhook; POST every queued one; keep the failed ones."""
    sent = set(cursor.sent)
    new = [i for i in incidents if i.id not in sent]
    for incident in new:
        log.warning(f"ALERT [{incident.kind}] {incident.summary}" + (f" — {incident.detail}" if incident.detail else ""))
        cursor.sent.append(incident.id)
    queue = cursor.pending + [{"incident": asdict(i), "attempts": 0} for i in new]
    cursor.pending, posted, failed = [], 0, 0
    if alerts.target() is None:
        return {"new": len(new), "posted": 0, "failed": 0}
    for item in queue:
        try:
            alerts.post({"source": "nba_pipeline", **item["incident"]})
            posted += 1
        except (urllib.error.URLError, OSError, ValueError) as err:
            failed += 1
            item["attempts"] += 1
            if item["attempts"] >= alerts.max_attempts:
                log.error(f"alert {item['incident']['id']}: webhook failed {item['attempts']} times ({err}); giving up")
            else:
                log.error(f"alert {item['incident']['id']}: webhook failed ({err}); retrying on the next tick")
                cursor.pending.append(item)
    return {"new": len(new), "posted": posted, "failed": failed}


@dg.sensor(minimum_interval_seconds=ALERT_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
def alert_sensor(context: dg.SensorEvaluationContext, alerts: AlertWebhook, warehouse: Warehouse, clock: GameClock):
    """Sends one alert per new incident (failed blocking check / quarantined dates, failed run, stuck run, late data):
    a log line always, a JSON POST to the webhook when NBA_PIPELINE_ALERT_WEBHOOK_URL is set."""
    from nba_pipeline.ops.freshness import late_incidents

    cursor = AlertCursor.parse(context.cursor)
    now = clock.now().timestamp()
    late = late_incidents(warehouse, clock.now()) if alerts.late_data else []
    counts = deliver(find_incidents(context.instance, warehouse, cursor, now, alerts, late), cursor, alerts, context.log)
    context.update_cursor(cursor.dump())
    return dg.SkipReason(f"{counts['new']} new incident(s), {counts['posted']} webhook POST(s), "
                         f"{counts['failed']} failed (pending {len(cursor.pending)})")
