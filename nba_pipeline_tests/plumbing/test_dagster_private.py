"""`dagster_private.check_partition_frame` (every check at once, on SQLite event logs) gives exactly what
Dagster's own `get_asset_check_partition_info` gives, on real instances holding every state a check can be in:
succeeded, failed, planned by a run that died before evaluating, stale (a later materialization), a re-evaluation
(two executions of one date), an asset whose latest materialization is unpartitioned, a wiped asset evaluated again
(its old materializations no longer count) and an evaluation without a partition — on the shipped storage, on
Dagster's sharded and consolidated SQLite storages, and (Dagster's method itself) on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from nba_pipeline.plumbing.dagster_private import (
    CHECK_PARTITION_COLUMNS,
    _one_query_storage,
    check_partition_frame,
    check_partition_infos,
    materialization_targets,
)
from nba_pipeline_tests.postgres import LOCAL_YAML, persistent_instance

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2021-10-19", timezone="America/New_York")
DATES = PARTITIONS.get_partition_keys()[:6]
BAD = {DATES[2], DATES[4]}
EVENTS, OTHER, WIPED = dg.AssetKey("events"), dg.AssetKey("other"), dg.AssetKey("wiped")
KEYS = [dg.AssetCheckKey(EVENTS, "rows_ok"), dg.AssetCheckKey(EVENTS, "spread"), dg.AssetCheckKey(OTHER, "rows_ok"),
        dg.AssetCheckKey(WIPED, "rows_ok")]


def _checked_asset(key: dg.AssetKey, names: list[str], fail: bool = False):
    """A range-run asset that logs one evaluation per date and check, as nba_pipeline/checks/runner.py does (or, with
    `fail`, raises before evaluating anything: its planned evaluations stay planned)."""

    @dg.asset(
        key=key, partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[dg.AssetCheckSpec(n, asset=key, partitions_def=PARTITIONS, blocking=n == "rows_ok") for n in names],
    )
    def checked(context):
        if fail:
            raise RuntimeError("the source is down")
        yield dg.Output(None)
        targets = materialization_targets(context.instance, context.asset_key, context.run.run_id, context.partition_keys)
        for day, target in sorted(targets.items()):
            for name in names:
                context.log_event(dg.AssetCheckEvaluation(
                    asset_key=key, check_name=name, passed=not (name == "rows_ok" and day in BAD), partition=day,
                    target_materialization_data=target,
                ))
        for name in names:
            yield dg.AssetCheckResult(check_name=name, passed=True)

    return checked


class _NoopIO(dg.IOManager):
    def handle_output(self, context, obj) -> None:
        return None

    def load_input(self, context):
        return None


def _run(instance: dg.DagsterInstance, asset, first: str, last: str) -> None:
    dg.materialize([asset], instance=instance, resources={"io_manager": _NoopIO()}, raise_on_error=False,
                   tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})


def _every_state(instance: dg.DagsterInstance) -> None:
    events = _checked_asset(EVENTS, ["rows_ok", "spread"])
    _run(instance, events, DATES[0], DATES[-1])  # succeeded, and failed on BAD
    _run(instance, events, DATES[0], DATES[1])  # evaluated again: the second execution counts
    _run(instance, _checked_asset(EVENTS, ["rows_ok", "spread"], fail=True), DATES[4], DATES[5])  # planned, never run
    instance.report_runless_asset_event(dg.AssetMaterialization(EVENTS, partition=DATES[3]))  # stale: not re-checked
    _run(instance, _checked_asset(OTHER, ["rows_ok"]), DATES[0], DATES[2])
    instance.report_runless_asset_event(dg.AssetMaterialization(OTHER))  # a later, unpartitioned materialization
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(asset_key=OTHER, check_name="rows_ok", passed=True))
    _run(instance, _checked_asset(WIPED, ["rows_ok"]), DATES[0], DATES[2])
    instance.wipe_assets([WIPED])  # its check records go; its materializations stay in the log, before the wipe
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(asset_key=WIPED, check_name="rows_ok", passed=True, partition=DATES[1]))


def _dagsters(instance: dg.DagsterInstance, keys, partitions) -> pd.DataFrame:
    """Dagster's own answer (`get_asset_check_partition_info`, with `is_current`), as a frame."""
    return pd.DataFrame(
        [(i.check_key.asset_key.to_user_string(), i.check_key.name, i.partition_key, i.latest_execution_status.value,
          i.latest_planned_run_id, i.latest_check_event_storage_id, i.latest_target_materialization_storage_id,
          i.latest_materialization_storage_id, i.is_current) for i in check_partition_infos(instance, keys, partitions)],
        columns=CHECK_PARTITION_COLUMNS,
    )


def _comparable(frame: pd.DataFrame) -> list[tuple]:
    values = frame.astype(object).where(frame.notna(), None)
    return sorted(map(tuple, values.to_numpy().tolist()), key=repr)


def _yaml_with(home: Path, event_log_storage: dict | None) -> Path:
    """The shipped yaml with another event_log_storage block (None: Dagster's default, its sharded SQLite storage)."""
    home.mkdir(parents=True)
    config = yaml.safe_load(LOCAL_YAML.read_text())
    config.pop("event_log_storage")
    if event_log_storage is not None:
        config["event_log_storage"] = event_log_storage
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


@pytest.fixture(scope="module", params=["tuned", "stock", "consolidated"])
def sqlite_instance(request, tmp_path_factory):
    """With every state: the shipped instance (TunedSqliteEventLogStorage), Dagster's own sharded SQLite storage,
    and its consolidated one (one file; a wipe leaves the asset's events there, so the wipe filter decides). Built
    once per storage for the module: the tests only read it."""
    home = tmp_path_factory.mktemp(f"instance_{request.param}") / "home"
    if request.param == "tuned":
        instance = persistent_instance(home, "local")
    elif request.param == "stock":
        instance = dg.DagsterInstance.from_config(str(_yaml_with(home, None)))
    else:
        consolidated = {"module": "dagster._core.storage.event_log", "class": "ConsolidatedSqliteEventLogStorage",
                        "config": {"base_dir": str(home / "history")}}
        instance = dg.DagsterInstance.from_config(str(_yaml_with(home, consolidated)))
    with instance:
        _every_state(instance)
        yield instance


@pytest.mark.parametrize(
    "keys, partitions, between",
    [(KEYS, None, None), (KEYS, [DATES[0], DATES[1], DATES[3], DATES[4], "2030-01-01"], None),
     ([KEYS[1], KEYS[3]], None, None), (KEYS, None, (DATES[1], DATES[4])),
     (KEYS, [DATES[0], DATES[1], DATES[3]], (DATES[1], DATES[5]))],
    ids=["every-check", "some-dates", "some-checks", "a-range", "dates-and-a-range"],
)
def test_one_query_gives_dagsters_answer(sqlite_instance, keys, partitions, between):
    assert _one_query_storage(sqlite_instance.event_log_storage)
    ours = check_partition_frame(sqlite_instance, keys, partitions, between=between)
    dagsters = _dagsters(sqlite_instance, keys, partitions)
    if between is not None:  # Dagster's method has no range: its records of the dates in it
        dagsters = dagsters[dagsters["partition"].notna() & dagsters["partition"].between(*between)]
    assert list(ours.columns) == CHECK_PARTITION_COLUMNS
    assert _comparable(ours) == _comparable(dagsters)
    assert len(ours) == len(dagsters) > 0


def test_the_instance_holds_every_state(sqlite_instance):
    """What the comparison above covers (so it cannot pass on an instance with nothing to disagree about)."""
    frame = check_partition_frame(sqlite_instance, KEYS, None).set_index(["asset", "check", "partition"])
    events = frame.loc[("events", "rows_ok")]
    assert events.loc[DATES[0], "status"] == "SUCCEEDED" and events.loc[DATES[0], "current"]
    assert events.loc[DATES[2], "status"] == "FAILED"
    assert set(events.loc[[DATES[4], DATES[5]], "status"]) == {"PLANNED"}
    assert events.loc[DATES[3], "status"] == "SUCCEEDED" and not events.loc[DATES[3], "current"]  # stale
    first_run = events.loc[DATES[2], "run_id"]
    assert events.loc[DATES[0], "run_id"] != first_run  # the re-evaluation
    other = frame.loc[("other", "rows_ok")]
    assert not other.loc[[DATES[0], DATES[1], DATES[2]], "current"].any()  # the unpartitioned materialization is later
    assert other.index.isna().sum() == 1  # the evaluation without a partition
    wiped = frame.loc[("wiped", "rows_ok")]
    assert list(wiped.index) == [DATES[1]]
    assert pd.isna(wiped.loc[DATES[1], "latest_materialization_storage_id"]) and wiped.loc[DATES[1], "current"]


def test_other_storages_get_dagsters_method(postgres_url, tmp_path):
    """PostgreSQL: not the SQLite query, Dagster's method, in the same frame."""
    with persistent_instance(tmp_path / "home", "production") as instance:
        _every_state(instance)
        assert not _one_query_storage(instance.event_log_storage)
        ours, dagsters = check_partition_frame(instance, KEYS, None), _dagsters(instance, KEYS, None)
        assert _comparable(ours) == _comparable(dagsters) and len(ours) > 0
        ranged = check_partition_frame(instance, KEYS, None, between=(DATES[1], DATES[4]))
        assert _comparable(ranged) == _comparable(dagsters[dagsters["partition"].between(DATES[1], DATES[4])])


def test_the_tests_daemon_clock_sets_what_the_backfill_and_sensor_daemons_read(monkeypatch):
    """dagster_dev.py's daemon loops (`quicken_daemon_loops`): the constants still exist where the daemons read them."""
    import importlib

    from nba_pipeline.plumbing.dagster_private import quicken_daemon_loops

    controller, sensor = importlib.import_module("dagster._daemon.controller"), importlib.import_module("dagster._daemon.sensor")
    assert (controller.DEFAULT_DAEMON_INTERVAL_SECONDS, sensor.MIN_INTERVAL_LOOP_TIME) == (30, 5)  # Dagster's own
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)
    monkeypatch.setattr(sensor, "MIN_INTERVAL_LOOP_TIME", sensor.MIN_INTERVAL_LOOP_TIME)  # restored after the test
    quicken_daemon_loops(1)
    assert (controller.DEFAULT_DAEMON_INTERVAL_SECONDS, sensor.MIN_INTERVAL_LOOP_TIME) == (1, 1)
    backfill = importlib.import_module("dagster._daemon.backfill")
    assert "from dagster._daemon.controller import DEFAULT_DAEMON_INTERVAL_SECONDS" in Path(backfill.__file__).read_text()
