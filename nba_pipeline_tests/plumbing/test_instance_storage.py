"""The tuned event-log storage of the shipped `dagster_home/dagster.yaml` (nba_pipeline/plumbing/instance_storage.py): it is what
the yaml loads, it stores and reads back exactly what Dagster's own SQLite storage does (also across processes, while
both hold their connections), it keeps at most `max_open_shards` run shards open, and a forked child uses its own
connections. No timings are asserted here (benchmarks/event_cost.py measures them)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from nba_pipeline.plumbing.dagster_private import check_partition_infos
from nba_pipeline.plumbing import instance_storage
from nba_pipeline.plumbing.instance_storage import _BATCHED_TYPES, _INHERITED_ENGINES, TunedSqliteEventLogStorage
from nba_pipeline_tests.postgres import LOCAL_YAML, instance_home

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = dg.DailyPartitionsDefinition(start_date="2021-10-19", timezone="America/New_York")
DATES = PARTITIONS.get_partition_keys()[:6]
BAD_DATES = {DATES[2], DATES[4]}
CHECK = dg.AssetCheckKey(dg.AssetKey("events"), "rows_ok")
RUN_STATUS = "FAILURE"  # the run-level result of the blocking check fails (two bad dates), as in the project's range runs
RANGE_TAGS = {"dagster/asset_partition_range_start": DATES[0], "dagster/asset_partition_range_end": DATES[-1]}


def _stock_home(home: Path) -> Path:
    """The shipped yaml without its event_log_storage block: Dagster's own SQLite storage, same layout."""
    home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(LOCAL_YAML.read_text())
    config.pop("event_log_storage")
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


@dg.asset(
    key="events",
    partitions_def=PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec("rows_ok", asset="events", partitions_def=PARTITIONS, blocking=True)],
)
def events_asset(context):
    """A range run that logs one check evaluation per date, as nba_pipeline/checks/runner.py does (one batch where
    the storage takes one)."""
    from nba_pipeline.plumbing.dagster_private import log_check_evaluations, materialization_targets

    yield dg.Output(None)
    for key in context.partition_keys[:2]:  # the platform writes observations too (promotion.py)
        context.log_event(dg.AssetObservation(asset_key="events", partition=key, metadata={"seen": key}))
    targets = materialization_targets(context.instance, context.asset_key, context.run.run_id, context.partition_keys)
    log_check_evaluations(context, [
        dg.AssetCheckEvaluation(
            asset_key=CHECK.asset_key, check_name=CHECK.name, passed=key not in BAD_DATES, partition=key,
            target_materialization_data=target, metadata={"date": key},
        )
        for key, target in sorted(targets.items())
    ])
    yield dg.AssetCheckResult(check_name="rows_ok", passed=not BAD_DATES)


class _NoopIO(dg.IOManager):
    def handle_output(self, context, obj) -> None:
        return None

    def load_input(self, context):
        return None


def _range_run(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([events_asset], instance=instance, resources={"io_manager": _NoopIO()}, tags=RANGE_TAGS,
                            raise_on_error=False)
    return result.run_id


def _what_was_stored(instance: dg.DagsterInstance, run_id: str) -> dict:
    """Everything a reader of this project asks of the event log, without ids and times."""
    infos = check_partition_infos(instance, [CHECK], None)
    materializations = instance.fetch_materializations(dg.AssetKey("events"), limit=100).records
    logs = instance.all_logs(run_id)
    return {
        "check_status": sorted(((i.partition_key, i.latest_execution_status.value, i.latest_materialization_storage_id is not None)
                                for i in infos), key=repr),
        "judged_latest": sorted(((i.partition_key, i.is_current) for i in infos), key=repr),
        "materialized": sorted(r.partition_key for r in materializations),
        "materialized_partitions": sorted(instance.get_materialized_partitions(dg.AssetKey("events"))),
        "observed": sorted(r.partition_key for r in instance.fetch_observations(dg.AssetKey("events"), limit=100).records),
        "event_types": sorted(e.dagster_event.event_type_value for e in logs if e.dagster_event),
        "run_status": instance.get_run_by_id(run_id).status.value,
    }


def test_shipped_yaml_loads_the_tuned_storage_in_the_home_it_is_copied_to(tmp_path):
    home = instance_home(tmp_path / "home", "local")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert type(storage) is TunedSqliteEventLogStorage
        assert Path(storage._base_dir) == home / "history" / "runs"  # Dagster's default place, under this home
        _range_run(instance)
        # runs and schedules stay Dagster's defaults, in their default files
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert type(instance.schedule_storage).__name__ == "SqliteScheduleStorage"
        with storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (home / "history" / "runs.db").exists() and (home / "schedules" / "schedules.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()
    for shard in (home / "history" / "runs").glob("*.db"):  # WAL mode is set by Dagster and stays in the file
        assert sqlite3.connect(shard).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_tuned_storage_stores_what_dagsters_own_does_and_each_reads_the_other(tmp_path):
    with dg.DagsterInstance.from_config(str(instance_home(tmp_path / "tuned", "local"))) as tuned:
        tuned_run = _range_run(tuned)
        tuned_view = _what_was_stored(tuned, tuned_run)
    with dg.DagsterInstance.from_config(str(_stock_home(tmp_path / "stock"))) as stock:
        stock_run = _range_run(stock)
        stock_view = _what_was_stored(stock, stock_run)
    assert tuned_view == stock_view
    # every event type the hand-written batch path writes is in the comparison
    assert {t.value for t in _BATCHED_TYPES} <= set(tuned_view["event_types"])
    assert {(d, s) for d, s, _ in tuned_view["check_status"] if d is not None} == {
        (d, "FAILED" if d in BAD_DATES else "SUCCEEDED") for d in DATES
    }
    # the same files opened by the other class read back the same
    (tmp_path / "tuned" / "dagster.yaml").write_text((tmp_path / "stock" / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path / "tuned")) as reopened:
        assert type(reopened.event_log_storage) is not TunedSqliteEventLogStorage
        assert _what_was_stored(reopened, tuned_run) == tuned_view


WRITER = textwrap.dedent(
    """
    import sys, dagster as dg
    from nba_pipeline_tests.plumbing.test_instance_storage import _range_run
    with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
        run_id = _range_run(instance)
        print(run_id, flush=True)
        sys.stdin.readline()  # hold the instance (and its kept connections) open until told to stop
    """
)


def test_a_reader_sees_what_another_process_writes_while_both_hold_their_connections(tmp_path):
    home = instance_home(tmp_path / "home", "local")
    with dg.DagsterInstance.from_config(str(home)) as reader:
        assert _what_was_stored(reader, _range_run(reader))["run_status"] == RUN_STATUS  # this process's connections open
        before = len(reader.fetch_materializations(dg.AssetKey("events"), limit=100).records)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            run_id = writer.stdout.readline().strip()
            assert run_id, "the writer process printed no run id"
            assert writer.poll() is None  # still running, its connections still open
            view = _what_was_stored(reader, run_id)
            assert view["run_status"] == RUN_STATUS
            assert view["event_types"].count("ASSET_CHECK_EVALUATION") == len(DATES) + 1
            assert len(reader.fetch_materializations(dg.AssetKey("events"), limit=100).records) == before + len(DATES)
            # the other process's (latest) evaluations are the ones the per-partition statuses now show
            latest_runs = {
                r.run_id for r in reader.event_log_storage.get_asset_check_execution_history(CHECK, limit=100)
                if r.partition in DATES
            }
            assert run_id in latest_runs
        finally:
            writer.communicate("stop\n", timeout=60)
        assert writer.returncode == 0


def test_live_run_logs_reach_a_watcher_while_the_writer_keeps_its_connection(tmp_path):
    """The UI's run log stream watches the run's shard file; with a kept connection new events are in its WAL."""
    home = instance_home(tmp_path / "home", "local")
    run_id = str(uuid.uuid4())
    seen: list[str] = []
    done = threading.Event()

    def on_event(entry, _cursor):
        if entry.dagster_event is not None:
            seen.append(entry.dagster_event.event_type_value)
            if entry.dagster_event.event_type_value == "PIPELINE_SUCCESS":
                done.set()

    script = textwrap.dedent(
        f"""
        import sys, dagster as dg
        from nba_pipeline_tests.plumbing.test_instance_storage import _NoopIO
        @dg.asset
        def one():
            return 1
        job = dg.Definitions(assets=[one], resources={{"io_manager": _NoopIO()}}).resolve_implicit_global_asset_job_def()
        with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
            sys.stdin.readline()
            job.execute_in_process(instance=instance, run_id="{run_id}")
            print("ran", flush=True)
            sys.stdin.readline()
        """
    )
    with dg.DagsterInstance.from_config(str(home)) as watcher:
        writer = subprocess.Popen([sys.executable, "-c", script, str(home)], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            with watcher.event_log_storage.run_connection(run_id):
                pass  # the shard exists before the watch starts, as for a run the UI opens
            watcher.watch_event_logs(run_id, None, on_event)
            writer.stdin.write("go\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "ran"
            assert writer.poll() is None  # the writer still holds its connection: nothing checkpointed by a close
            assert done.wait(timeout=30), f"the watcher saw only {seen}"
            assert "STEP_SUCCESS" in seen and "ASSET_MATERIALIZATION" in seen
        finally:
            watcher.end_watch_event_logs(run_id, on_event)
            writer.communicate("stop\n", timeout=60)
    assert writer.returncode == 0


def _open_run_shards(base_dir: str) -> set[str]:
    """Run shard files this process has open (from /proc/self/fd)."""
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(base_dir) and target.endswith(".db") and not target.endswith("index.db"):
            names.add(Path(target).stem)
    return names


def test_at_most_max_open_shards_run_shards_stay_open_and_evicted_ones_read_back(tmp_path):
    home = instance_home(tmp_path / "home", "local")
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    config["event_log_storage"]["config"] = {"max_open_shards": 2}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert storage._max_open_shards == 2
        run_ids = [_range_run(instance) for _ in range(4)]
        for run_id in run_ids + run_ids[:1]:  # the first run's shard was evicted and is opened again
            assert _what_was_stored(instance, run_id)["run_status"] == RUN_STATUS
            open_runs = [s for s in storage.open_shards() if s != "index"]
            assert len(open_runs) <= 2
            assert _open_run_shards(storage._base_dir) <= set(open_runs)  # evicted shards are closed, not leaked
        assert storage.open_shards()[-1] == run_ids[0]
        assert storage.open_shards()[0] == "index"
    assert not storage.open_shards()  # dispose() closed everything
    assert not _open_run_shards(storage._base_dir)


def test_threads_share_the_storage_safely(tmp_path):
    with dg.DagsterInstance.from_config(str(instance_home(tmp_path / "home", "local"))) as instance:
        errors: list[BaseException] = []

        def report(worker: int) -> None:
            try:
                for i in range(15):
                    instance.report_runless_asset_event(
                        dg.AssetMaterialization(asset_key="threaded", partition=f"{worker}-{i}")
                    )
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=report, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        stored = instance.fetch_materializations(dg.AssetKey("threaded"), limit=1000).records
        assert sorted(r.partition_key for r in stored) == sorted(f"{w}-{i}" for w in range(4) for i in range(15))


def test_a_forked_child_opens_its_own_connections(tmp_path):
    with dg.DagsterInstance.from_config(str(instance_home(tmp_path / "home", "local"))) as instance:
        storage = instance.event_log_storage
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="forked", partition="parent-before"))
        parent_engine = storage._index_engine
        assert parent_engine is not None
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns into pytest
            code = 1
            try:
                os.close(read_end)
                instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="forked", partition="child"))
                fresh = storage._index_engine is not None and storage._index_engine is not parent_engine
                inherited = any(e is parent_engine for e in _INHERITED_ENGINES)
                os.write(write_end, f"{fresh} {inherited}".encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        message = os.read(read_end, 100).decode()
        os.close(read_end)
        assert os.waitstatus_to_exitcode(status) == 0
        assert message == "True True"  # the child used a new engine; the parent's was set aside, not closed
        assert storage._index_engine is parent_engine  # the parent keeps its own
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="forked", partition="parent-after"))
        stored = instance.fetch_materializations(dg.AssetKey("forked"), limit=10).records
        assert sorted(r.partition_key for r in stored) == ["child", "parent-after", "parent-before"]


def test_bad_config_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="max_open_shards must be at least 1"):
        TunedSqliteEventLogStorage(base_dir=str(tmp_path / "x"), max_open_shards=0)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="event_batch_size must be 0 or more"):
        TunedSqliteEventLogStorage(base_dir=str(tmp_path / "y"), event_batch_size=-1)
    assert not (tmp_path / "y").exists()


def _batches(monkeypatch, storage_class: type = TunedSqliteEventLogStorage) -> list[list[str]]:
    """Records the event types of every batch a tuned storage is handed (and still stores it)."""
    seen: list[list[str]] = []
    original = storage_class.store_event_batch

    def spy(self, events):
        seen.append([e.dagster_event_type.value for e in events])
        return original(self, events)

    monkeypatch.setattr(storage_class, "store_event_batch", spy)
    return seen


def test_a_range_run_stores_its_planned_events_materializations_and_evaluations_as_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    batches = _batches(monkeypatch)
    with dg.DagsterInstance.from_config(str(instance_home(tmp_path / "tuned", "local"))) as tuned:
        run_id = _range_run(tuned)
        view = _what_was_stored(tuned, run_id)
        # no event written twice: each stored event of the run once in its shard, each asset/check event once in the index
        logs = tuned.all_logs(run_id)
        evaluated = [e.dagster_event.event_specific_data.partition for e in logs
                     if e.dagster_event and e.dagster_event_type.value == "ASSET_CHECK_EVALUATION"]
        assert sorted(evaluated, key=str) == sorted([*DATES, None], key=str)  # each date once, and the run's result
    by_type = {t: [len(b) for b in batches if set(b) == {t}] for t in ("ASSET_CHECK_EVALUATION", "ASSET_MATERIALIZATION")}
    assert by_type["ASSET_CHECK_EVALUATION"] == [len(DATES)]  # the per-date evaluations: one batch
    assert by_type["ASSET_MATERIALIZATION"] == [len(DATES)]  # the range step's materializations: one batch
    assert any("ASSET_MATERIALIZATION_PLANNED" in b and len(b) >= len(DATES) for b in batches)  # the run's plan
    with dg.DagsterInstance.from_config(str(_stock_home(tmp_path / "stock"))) as stock:
        assert view == _what_was_stored(stock, _range_run(stock))


def test_a_batch_whose_index_write_fails_is_stored_once_event_by_event(tmp_path, monkeypatch):
    """The run shard and the index are two files: when the index transaction fails, the run shard's rows are taken
    back, and Dagster's fallback stores the batch one event at a time — every event once, in both shards."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    original = instance_storage._store_check_rows
    failed = []

    def fail_once(conn, events, rows, ids):
        if not failed and any(e.dagster_event_type.value == "ASSET_CHECK_EVALUATION" for e in events):
            failed.append(len(events))
            raise sqlite3.OperationalError("database is locked (injected)")
        return original(conn, events, rows, ids)

    monkeypatch.setattr(instance_storage, "_store_check_rows", fail_once)
    with dg.DagsterInstance.from_config(str(instance_home(tmp_path / "tuned", "local"))) as tuned:
        run_id = _range_run(tuned)
        view = _what_was_stored(tuned, run_id)
        shard = tuned.event_log_storage._base_dir + f"/{run_id}.db"
    assert failed == [len(DATES)]
    rows = sqlite3.connect(shard).execute(
        "select count(*), count(distinct event) from event_logs where dagster_event_type = 'ASSET_CHECK_EVALUATION'"
    ).fetchone()
    assert rows == (len(DATES) + 1, len(DATES) + 1)  # the per-date evaluations and the run-level result, once each
    with dg.DagsterInstance.from_config(str(_stock_home(tmp_path / "stock"))) as stock:
        assert view == _what_was_stored(stock, _range_run(stock))


def test_the_switch_off_stores_every_event_through_dagsters_own_path(tmp_path, monkeypatch):
    """`event_batch_size: 0` in the shipped yaml: no hand-written INSERT runs, and the run reads back as on the
    stock storage (the switch to fall back to Dagster's own writes, should an upgrade change its schema)."""
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    home = instance_home(tmp_path / "off", "local")
    config = yaml.safe_load((Path(home) / "dagster.yaml").read_text())
    assert config["event_log_storage"]["config"]["event_batch_size"] > 0  # shipped: on, and stated
    config["event_log_storage"]["config"]["event_batch_size"] = 0
    (Path(home) / "dagster.yaml").write_text(yaml.safe_dump(config))
    inserted = []
    monkeypatch.setattr(instance_storage, "_insert_events", lambda *a: inserted.append(a) or [])
    with dg.DagsterInstance.from_config(str(home)) as off:
        view = _what_was_stored(off, _range_run(off))
    assert inserted == []
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    with dg.DagsterInstance.from_config(str(_stock_home(tmp_path / "stock"))) as stock:
        assert view == _what_was_stored(stock, _range_run(stock))


def test_the_storage_sets_the_batch_size_only_when_the_environment_does_not(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    TunedSqliteEventLogStorage(base_dir=str(tmp_path / "a"), event_batch_size=250)
    assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "250"
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")  # an operator's 0: every event on its own, as stock Dagster
    TunedSqliteEventLogStorage(base_dir=str(tmp_path / "b"))
    assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "0"


def test_check_rows_of_a_batch_end_as_dagsters_row_by_row_updates_would_leave_them():
    """`_store_check_rows` counts each evaluation's planned rows in one query and updates in one statement; the
    outcome is store_event's row by row: one planned row is updated (the last evaluation of a key in the batch wins),
    none is inserted, two are an error that leaves the whole batch unwritten."""
    import sqlalchemy as db
    from types import SimpleNamespace

    table = instance_storage.AssetCheckExecutionsTable
    engine = db.create_engine("sqlite://")
    table.create(engine)
    run = "run-1"

    def planned(partition, check="rows_ok"):
        return dict(asset_key='["events"]', check_name=check, partition=partition, run_id=run,
                    execution_status="PLANNED", evaluation_event="planned", evaluation_event_storage_id=1)

    def evaluation(partition, passed, check="rows_ok"):
        data = SimpleNamespace(asset_key=dg.AssetKey("events"), check_name=check, partition=partition,
                               passed=passed, target_materialization_data=None)
        return SimpleNamespace(dagster_event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, run_id=run,
                               dagster_event=SimpleNamespace(event_specific_data=data))

    def store(events):
        rows = [{"event": f"event-{i}", "timestamp": None} for i in range(len(events))]
        with engine.begin() as conn:
            instance_storage._store_check_rows(conn, events, rows, {i: 100 + i for i in range(len(events))})

    def stored():
        with engine.connect() as conn:
            return sorted(((r.check_name, r.partition, r.execution_status, r.evaluation_event)
                           for r in conn.execute(db.select(table))),
                          key=repr)

    with engine.begin() as conn:
        # two planned rows of one key: only without a partition (the table's unique index treats NULLs as distinct)
        conn.execute(table.insert(), [planned(DATES[0]), planned(None), planned(None, "twice"), planned(None, "twice")])
    store([evaluation(DATES[0], False), evaluation(None, True), evaluation(DATES[1], True), evaluation(DATES[0], True)])
    after_first = stored()
    assert after_first == sorted([
        ("rows_ok", DATES[0], "SUCCEEDED", "event-3"),  # updated twice in the batch: the last evaluation stays
        ("rows_ok", None, "SUCCEEDED", "event-1"),  # the run-level row (no partition)
        ("rows_ok", DATES[1], "SUCCEEDED", "event-2"),  # nothing planned: inserted
        ("twice", None, "PLANNED", "planned"), ("twice", None, "PLANNED", "planned"),
    ], key=repr)
    with pytest.raises(dg.DagsterInvariantViolationError, match="Updated 2 rows"):
        store([evaluation(DATES[3], True), evaluation(None, False, "twice")])
    assert stored() == after_first  # the batch's transaction wrote nothing, not even the evaluation before the bad one
