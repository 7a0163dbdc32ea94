"""Automation: yesterday's partition every morning (US/Eastern), downstream kept in step, late games picked up.

- The day's schedules and sensors (morning finals, line refreshes, discovery, post-game windows) are in `game_day`.
- Every downstream asset carries `gated_eager()`: it rebuilds a date when an upstream date it reads was
  updated — including later dates whose windows read it — but only once every blocking check on those upstream
  dates passed. A date that failed stays blocked (and named) until someone fixes and re-materializes it.
- `late_data_sensor` re-runs the last few dates whose games were not final at the morning run.
"""

from __future__ import annotations

import datetime as dt
import weakref

import dagster as dg

from nba_pipeline.checks import names
from nba_pipeline.checks.readiness import not_readable
from nba_pipeline.plumbing.dagster_private import automation_instance, failed_check_partitions, latest_materialization_ids
from nba_pipeline.dates import resolve_partition_key
from nba_pipeline.partitions import GAME_TIMEZONE

MODEL_RETRAIN_CRON = "0 7 * * 1"  # Mondays, after the morning run
LATE_DATA_LOOKBACK_DAYS = 3
LATE_DATA_INTERVAL_SECONDS = 30 * 60
PARTITIONED_PHASES = dg.AssetSelection.groups("raw", "analytics", "precompute", "ml", "predictions") - dg.AssetSelection.assets("points_model")
DATES_NOT_FINAL = "dates_not_final"  # schedule materialization metadata: dates with a game not final at the fetch
SCHEDULE = dg.AssetKey("schedule")
COMPLETENESS_CHECK = dg.AssetCheckKey(dg.AssetKey("team_offense_game_summary"), names.SCHEDULED_GAMES_COMPLETE)

daily_job = dg.define_asset_job(
    "daily_all_phases",
    selection=PARTITIONED_PHASES,
    description="Every partitioned phase for one game date (the model is retrained on its own schedule).",
)


def gated_eager(ignore: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """`eager()` without its latest-partition-only limit, and gated on upstream blocking checks per date.

    `ignore` leaves out deps whose updates should not trigger a rebuild (a retrained model does not
    re-predict history)."""
    updated = dg.AutomationCondition.any_deps_updated()
    if ignore is not None:
        updated = updated.ignore(ignore)
    # dates last materialized by another code version are rebuilt once this code's version is promoted
    new_code = PublishedByOtherCode().newly_true()
    return (
        (dg.AutomationCondition.newly_missing() | updated | new_code).since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & ~dg.AutomationCondition.any_deps_match(_blocking_check_not_passed()).with_label("no_dep_date_failed_a_blocking_check")
    ).with_label("gated_eager")


class DateNotReadable(dg.AutomationCondition):
    """The dates of an (upstream) asset that may not be read: `readiness.not_readable`, the gate's own predicate.

    Negated inside `any_deps_match`, this holds for *every* upstream date a downstream date reads;
    Dagster's `all_deps_blocking_checks_passed()` maps a lookback dependency as *any* upstream date passing,
    and its `check_passed()` counts a check that passed on an older materialization."""

    @property
    def name(self) -> str:
        return "date_not_readable"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        subset = context.candidate_subset
        if subset.is_empty or subset.partitions_def is None:
            return dg.AutomationResult(context=context, true_subset=context.get_empty_subset())
        dates = subset.expensively_compute_partition_keys()
        blocked = set(not_readable(automation_instance(context), context.key, dates)["game_date"])
        return dg.AutomationResult(context=context, true_subset=subset.compute_intersection_with_partition_keys(blocked))


class PublishedByOtherCode(dg.AutomationCondition):
    """Dates whose latest materialization ran another code version than this definition's, once this definition's
    version is the promoted one (`promotion`: the latest promotion observation on the asset names it). Before the
    promotion nothing is requested: the warehouse would refuse an unpromoted version's runs anyway."""

    @property
    def name(self) -> str:
        return "published_by_other_code_version"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        subset = context.candidate_subset
        version = context.asset_graph.get(context.key).code_version
        if subset.is_empty or subset.partitions_def is None or not version:
            return dg.AutomationResult(context=context, true_subset=context.get_empty_subset())
        instance = automation_instance(context)
        if promoted_code_version(instance, context.key) != version:
            return dg.AutomationResult(context=context, true_subset=context.get_empty_subset())
        dates = set(subset.expensively_compute_partition_keys())
        other = {d for d, v in materialized_code_versions(instance, context.key, dates).items() if v != version}
        return dg.AutomationResult(context=context, true_subset=subset.compute_intersection_with_partition_keys(other))


def promoted_code_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    """The code version the latest promotion observation of `key` names (None: never promoted on this instance)."""
    from nba_pipeline.promotion import PROMOTED_CODE_VERSION

    records = instance.fetch_observations(dg.AssetRecordsFilter(key), limit=20, ascending=False).records
    for record in records:
        value = record.asset_observation.metadata.get(PROMOTED_CODE_VERSION) if record.asset_observation else None
        if value is not None:
            return str(value.value)
    return None


def materialized_code_versions(instance: dg.DagsterInstance, key: dg.AssetKey, dates: set[str]) -> dict[str, str]:
    """Per date of `dates`, the code version its latest materialization ran (dates never materialized left out)."""
    latest = latest_materialization_ids(instance, key, dates)
    # every tick asks again: only materializations not seen before are fetched (a stored event never changes)
    seen = _CODE_VERSION_OF_EVENT.setdefault(instance.event_log_storage, {})
    new = sorted(set(latest.values()) - seen.keys())
    if new:
        records = instance.fetch_materializations(dg.AssetRecordsFilter(key, storage_ids=new), limit=len(new)).records
        for r in records:
            seen[r.storage_id] = (r.asset_materialization.tags or {}).get("dagster/code_version", "")
    return {d: seen.get(i, "") for d, i in latest.items() if d in dates}


# per event-log storage (the instance's, kept across ticks): materialization storage id -> the code version it ran
_CODE_VERSION_OF_EVENT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class GamesNotFinal(dg.AutomationCondition):
    """Dates whose latest stored schedule still has a game that is not final: their box scores are partial, so
    analytics waits (the post-game windows fetch again as games end). Read from the schedule's materialization
    metadata: two instance queries, no warehouse read."""

    @property
    def name(self) -> str:
        return "games_not_final"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        subset = context.candidate_subset
        if subset.is_empty or subset.partitions_def is None:
            return dg.AutomationResult(context=context, true_subset=context.get_empty_subset())
        dates = set(subset.expensively_compute_partition_keys())
        open_dates = dates_not_final(automation_instance(context), dates)
        return dg.AutomationResult(context=context, true_subset=subset.compute_intersection_with_partition_keys(open_dates))


def dates_not_final(instance: dg.DagsterInstance, dates: set[str]) -> set[str]:
    """Of `dates`, those whose latest schedule materialization lists them under DATES_NOT_FINAL."""
    latest = latest_materialization_ids(instance, SCHEDULE, dates)
    ids = sorted(set(latest.values()))
    if not ids:
        return set()
    records = instance.fetch_materializations(dg.AssetRecordsFilter(SCHEDULE, storage_ids=ids), limit=len(ids)).records
    open_dates: set[str] = set()
    for record in records:  # one per distinct materialization (a range run's is shared by its dates)
        listed = record.asset_materialization.metadata.get(DATES_NOT_FINAL)
        if listed is not None and record.partition_key in dates:
            open_dates |= set(str(listed.value).split(", ")) & dates
    return open_dates


def analytics_eager() -> dg.AutomationCondition:
    """`gated_eager()`, and not while the date has a game that is not final (analytics once every game of D is in)."""
    return (gated_eager() & ~GamesNotFinal()).with_label("gated_eager_once_games_final")


def _blocking_check_not_passed() -> dg.AutomationCondition:
    """An upstream date that is not readable and is not about to be rebuilt in the same run."""
    return (DateNotReadable() & ~dg.AutomationCondition.will_be_requested()).with_label("blocking_check_not_passed")


def with_asset() -> dg.AutomationCondition:
    """A check evaluated inside its asset's step runs whenever that asset is requested."""
    return dg.AutomationCondition.any_deps_match(dg.AutomationCondition.will_be_requested()).with_label("with_asset")


model_retrain = dg.AutomationCondition.on_cron(MODEL_RETRAIN_CRON, GAME_TIMEZONE)


def late_data_requests(instance: dg.DagsterInstance, now: dt.datetime) -> list[dg.RunRequest]:
    """One request per recent date whose latest completeness evaluation failed (games not final yet, team rows
    missing), keyed by that evaluation: a date is retried once per failed attempt until its games arrive."""
    yesterday = dt.date.fromisoformat(resolve_partition_key("YESTERDAY", now))
    keys = [(yesterday - dt.timedelta(days=n)).isoformat() for n in range(LATE_DATA_LOOKBACK_DAYS)]
    return [dg.RunRequest(run_key=f"late:{day}:{storage_id}", partition_key=day)
            for day, storage_id in failed_check_partitions(instance, COMPLETENESS_CHECK, keys)]


@dg.sensor(job=daily_job, minimum_interval_seconds=LATE_DATA_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
def late_data_sensor(context: dg.SensorEvaluationContext):
    """Picks up late-arriving games of the last few dates without anyone launching a backfill."""
    requests = late_data_requests(context.instance, dt.datetime.now(dt.timezone.utc))
    return requests or dg.SkipReason(f"every date of the last {LATE_DATA_LOOKBACK_DAYS} days has its games complete")


def automation_sensor(interval_seconds: int = 30) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition (running by default, unlike Dagster's own default sensor)."""
    return dg.AutomationConditionSensorDefinition(
        "keep_downstream_in_step",
        target=dg.AssetSelection.all(include_sources=False),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval_seconds,
        use_user_code_server=True,  # evaluates DateNotReadable, the gate's own predicate, in the code location
    )
