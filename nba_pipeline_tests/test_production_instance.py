"""The production instance (`deploy/production/dagster.yaml`) on a real PostgreSQL server: Dagster's storage is
Postgres, the URL comes from the environment, and it keeps every guarantee of the local instance — queued runs, one
warehouse slot for all workers (checked by claiming it twice), run monitoring. The end-to-end stories on it are
test_crash_recovery.py and test_gating.py, parametrised over the instance kind."""

from __future__ import annotations

import time
import uuid

import dagster as dg
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from nba_pipeline.warehouse import WAREHOUSE_POOL
from nba_pipeline_tests.postgres import LOCAL_YAML, PG_URL_ENV, PRODUCTION_YAML, persistent_instance

GUARANTEES = ["run_coordinator", "concurrency", "run_monitoring"]


def test_the_production_yaml_keeps_the_local_guarantees_and_no_secret():
    local, production = (yaml.safe_load(p.read_text()) for p in (LOCAL_YAML, PRODUCTION_YAML))
    for key in GUARANTEES:
        assert production[key] == local[key], key
    url = {"postgres_url": {"env": PG_URL_ENV}}  # one database for the three storages, from the environment only
    assert [production[k]["config"] for k in ("run_storage", "schedule_storage")] == [url] * 2
    events = production["event_log_storage"]
    assert events["class"] == "TunedPostgresEventLogStorage"
    # the same database, and the batch switch stated (0: Dagster's own event-by-event writes)
    assert events["config"] == {**url, "event_batch_size": 1000}
    assert "storage" not in production and "storage" not in local  # SQLite under DAGSTER_HOME locally
    assert production["run_monitoring"]["max_resume_run_attempts"] == 0  # matches the DefaultRunLauncher
    # DefaultRunLauncher plus the worker health check run monitoring needs (nba_pipeline/plumbing/run_launcher.py)
    assert (production["run_launcher"]["module"], production["run_launcher"]["class"]) == (
        "nba_pipeline.plumbing.run_launcher", "CodeServerRunLauncher")


def test_the_production_instance_is_postgres_with_one_warehouse_slot(postgres_url, tmp_path):
    assert postgres_url.startswith("postgresql+psycopg2://")  # a bare postgresql:// is psycopg 3 on SQLAlchemy 2.1
    instance = persistent_instance(tmp_path / "home", "production")
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.global_op_concurrency_default_limit == 1
        assert instance.run_monitoring_enabled and instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0

        # The pool as the run workers use it: the first step claims the one slot, a step of another run waits.
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
        assert storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        assert storage.claim_concurrency_slot(WAREHOUSE_POOL, first, "raw__schedule").is_claimed
        assert not storage.claim_concurrency_slot(WAREHOUSE_POOL, second, "raw__schedule").is_claimed
        storage.free_concurrency_slots_for_run(first)
        assert storage.check_concurrency_claim(WAREHOUSE_POOL, second, "raw__schedule").is_assigned
    finally:
        instance.dispose()

    # a second process (another machine) opening the same URL sees the same instance: state is in Postgres, not home
    other = persistent_instance(tmp_path / "other_home", "production")
    try:
        assert other.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1
    finally:
        other.dispose()


def test_check_record_cost_on_postgres(postgres_url, tmp_path):
    """Not a limit, a measurement (printed with -s): the cost of one stored check evaluation on the production
    instance, which bounds how fast a season's backfill can record its ~45 check evaluations per date."""
    instance = persistent_instance(tmp_path / "home", "production")
    key = dg.AssetCheckKey(dg.AssetKey("player_game_summary"), "probe")
    try:
        count, started = 50, time.perf_counter()
        for i in range(count):
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(asset_key=key.asset_key, check_name=key.name, passed=True, partition=f"day-{i:03d}")
            )
        per_record = (time.perf_counter() - started) / count
        print(f"\nPostgres: {per_record * 1000:.1f} ms per check evaluation record ({count} records)")
        assert instance.event_log_storage.get_asset_check_execution_history(key, limit=count + 1)
    finally:
        instance.dispose()


def test_no_server_is_a_failure_not_a_skip(monkeypatch):
    import pytest

    from nba_pipeline_tests.postgres import SERVER_ENV, fresh_database

    monkeypatch.setenv(SERVER_ENV, "postgresql+psycopg2://postgres@127.0.0.1:1/test")  # nothing listens on port 1
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not reachable"):
        with fresh_database():
            pass


def test_the_tuned_postgres_storage_stores_what_dagsters_own_does(postgres_url, tmp_path, monkeypatch):
    """The production event log (one kept connection, a range run's batches in one transaction each) against stock
    dagster-postgres on the same server: the same statuses, materializations and events, each readable by the other."""
    from dagster_postgres.event_log.event_log import PostgresEventLogStorage as Stock

    from nba_pipeline.plumbing.instance_storage import TunedPostgresEventLogStorage
    from nba_pipeline_tests.postgres import fresh_database
    from nba_pipeline_tests.plumbing.test_instance_storage import _batches, _range_run, _what_was_stored

    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    batches = _batches(monkeypatch, TunedPostgresEventLogStorage)
    instance = persistent_instance(tmp_path / "tuned", "production")
    try:
        assert type(instance.event_log_storage) is TunedPostgresEventLogStorage
        run_id = _range_run(instance)
        tuned = _what_was_stored(instance, run_id)
    finally:
        instance.dispose()
    assert any(set(b) == {"ASSET_CHECK_EVALUATION"} for b in batches)  # the per-date evaluations went as a batch
    with fresh_database() as stock_url:
        monkeypatch.setenv(PG_URL_ENV, stock_url)
        home = tmp_path / "stock"
        home.mkdir()
        config = yaml.safe_load(PRODUCTION_YAML.read_text())
        config["event_log_storage"] = {"module": "dagster_postgres.event_log", "class": "PostgresEventLogStorage",
                                       "config": {"postgres_url": {"env": PG_URL_ENV}}}
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        stock = dg.DagsterInstance.from_config(str(home))
        try:
            assert type(stock.event_log_storage) is Stock
            assert _what_was_stored(stock, _range_run(stock)) == tuned
        finally:
            stock.dispose()
    # the tuned instance's database read through the stock class
    monkeypatch.setenv(PG_URL_ENV, postgres_url)
    reader = dg.DagsterInstance.from_config(str(home))
    try:
        assert _what_was_stored(reader, run_id) == tuned
    finally:
        reader.dispose()
