"""BigQuery on its own: the type mapping and literals (pure), and the real Definitions' raw + analytics assets run
with production's binding against a real local emulator, computing the same check results and publishing the
same rows as the same run on DuckDB."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import uuid

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.sources import SimulatedLeagueSource
from nba_pipeline.warehouse.base import PublishOutcomeUnknown, TableRef, WarehouseError
from nba_pipeline.warehouse.bigquery_warehouse import BigQueryWarehouse, arrow_rows, bigquery_type, date_list, literal
from nba_pipeline_tests.bigquery_emulator import PROJECT, FaultyProxy
from nba_pipeline.warehouse.io_manager import ModelStore
from nba_pipeline_tests.conftest import EVERY_PHASE, RAW_AND_ANALYTICS


def test_arrow_types_map_as_the_bigquery_client_maps_them():
    frame = pd.DataFrame({
        "i": pd.array([1], dtype="Int64"), "b": pd.array([True], dtype="boolean"), "s": pd.array(["x"], dtype="string"),
        "f": [0.5], "naive": pd.to_datetime(["2024-01-01"]), "zoned": pd.to_datetime(["2024-01-01"]).tz_localize("UTC"),
        "d": [pd.Timestamp("2024-01-01").date()], "nothing": [None], "ids": [[1, 2]],
    })
    kinds = {f.name: bigquery_type(f.type) for f in arrow_rows(frame).schema}
    assert kinds == {
        "i": ("INT64", "NULLABLE"), "b": ("BOOL", "NULLABLE"), "s": ("STRING", "NULLABLE"), "f": ("FLOAT64", "NULLABLE"),
        "naive": ("DATETIME", "NULLABLE"), "zoned": ("TIMESTAMP", "NULLABLE"), "d": ("DATE", "NULLABLE"),
        "nothing": ("STRING", "NULLABLE"), "ids": ("INT64", "REPEATED"),
    }
    assert arrow_rows(frame).schema.field("naive").type == pa.timestamp("us")
    with pytest.raises(WarehouseError, match="no BigQuery type for the Arrow type"):
        bigquery_type(pa.struct([("a", pa.int64())]))


def test_literals_are_quoted_so_no_value_can_end_the_string():
    assert literal("it's a \\ test\n") == "'it\\'s a \\\\ test\\n'"
    assert literal(None) == "NULL" and literal(True) == "TRUE" and literal(3) == "3"
    assert literal(pd.Timestamp("2024-01-01 05:00", tz="America/New_York")) == "DATETIME '2024-01-01 10:00:00.000000'"
    assert date_list([]) == "ARRAY<DATE>[]"
    assert date_list(["2024-01-02"]) == "ARRAY<DATE>[DATE '2024-01-02']"


def test_the_local_default_imports_without_the_production_extra():
    """dagster-gcp and google-cloud-* are the `production` extra: the local Definitions load with them absent."""
    code = textwrap.dedent("""
        import sys
        for name in ("dagster_gcp", "dagster_gcp_pandas", "google.cloud.bigquery", "google.cloud.storage"):
            sys.modules[name] = None  # importing any of them now raises ImportError
        import nba_pipeline.definitions as d
        assert type(d.defs.resources["warehouse"]).__name__ == "DuckDBWarehouse"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"NBA_PIPELINE_ENV": "local", "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_production_binds_bigquery_from_the_environment(monkeypatch, bigquery_emulator):
    monkeypatch.setenv("GCP_PROJECT", PROJECT)
    monkeypatch.setenv("GCS_BUCKET", "models")
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_emulator.removeprefix("http://"))
    monkeypatch.setenv("NBA_PIPELINE_BIGQUERY_DATASET_PREFIX", "p_")
    monkeypatch.delenv("BIGQUERY_STORAGE_EMULATOR_HOST", raising=False)
    resources = resources_for("production")
    warehouse = resources["warehouse"]
    assert isinstance(warehouse, BigQueryWarehouse) and resources["io_manager"].warehouse is warehouse
    assert warehouse.api_endpoint == bigquery_emulator and warehouse.dataset_prefix == "p_"
    assert warehouse.project == dg.EnvVar("GCP_PROJECT")
    assert warehouse.storage_endpoint is None  # an emulator without its Storage Read API: table reads over REST
    monkeypatch.setenv("BIGQUERY_STORAGE_EMULATOR_HOST", bigquery_emulator.storage)
    assert resources_for("production")["warehouse"].storage_endpoint == bigquery_emulator.storage


START, END, BAD = "2023-12-23", "2023-12-25", "2023-12-25"  # 12-24: no games (an off day)


def _run(resources: dict, assets=RAW_AND_ANALYTICS, start=START, end=END, bad: str | None = BAD) -> dg.ExecuteInJobResult:
    faults = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[bad]) if bad else None
    resources["source"] = SimulatedLeagueSource(faults=faults or SimulatorFaults())
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    return dg.materialize(assets, resources=resources, tags=tags, raise_on_error=False)


def _both(monkeypatch, tmp_path, endpoint) -> tuple[dict, dict]:
    """Resources for DuckDB (local) and for production's binding on the emulator, in a fresh dataset prefix."""
    local = resources_for("local", warehouse_path=str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("GCP_PROJECT", PROJECT)
    monkeypatch.setenv("GCS_BUCKET", "models")
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", endpoint)
    monkeypatch.setenv("BIGQUERY_STORAGE_EMULATOR_HOST", endpoint.storage)  # table reads as on Google
    monkeypatch.setenv("NBA_PIPELINE_BIGQUERY_DATASET_PREFIX", f"run{uuid.uuid4().hex[:8]}_")
    monkeypatch.setenv("NBA_PIPELINE_SOURCE", "simulator")
    return local, resources_for("production")


def _readable(resources: dict, endpoint: str):
    """A warehouse to read what a run published (the bound one resolves GCP_PROJECT only inside a run)."""
    bound = resources["warehouse"]
    if isinstance(bound, BigQueryWarehouse):
        return BigQueryWarehouse(project=PROJECT, api_endpoint=endpoint, dataset_prefix=bound.dataset_prefix,
                                 storage_endpoint=bound.storage_endpoint)
    return bound


def _plain(value):
    return getattr(value, "value", value)


def _checks(result: dg.ExecuteInJobResult) -> list[tuple]:
    """Every check evaluation (run-wide and per date) with its metadata values, sorted."""
    rows = []
    for e in result.get_asset_check_evaluations():
        metadata = {k: _plain(v) for k, v in e.metadata.items()}
        rows.append((e.asset_key.to_user_string(), e.check_name, e.passed, repr(sorted(metadata.items()))))
    return sorted(rows)


def _published(warehouse, asset) -> pd.DataFrame:
    frame = warehouse.read(TableRef(str(asset.metadata_by_key[asset.key]["schema"]), asset.key.path[-1]), None)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_raw_and_analytics_on_bigquery_compute_the_same_checks_and_rows_as_on_duckdb(monkeypatch, tmp_path, bigquery_emulator):
    """An off day written first, then a range with an off day and a bad date, on both warehouses."""
    local, production = _both(monkeypatch, tmp_path, bigquery_emulator)

    # the case first: an off day as a table's very first write must create it, typed, for the next read
    for resources in (local, production):
        assert _run(resources, start="2023-12-24", end="2023-12-24", bad=None).success
    on_duckdb, on_bigquery = _run(local), _run(production)
    # the bad date fails player_game_summary's blocking checks on both: quarantined, and the other dates carry on
    assert on_duckdb.success and on_bigquery.success
    duck_checks, bq_checks = _checks(on_duckdb), _checks(on_bigquery)
    assert any(not passed for _, _, passed, _ in duck_checks)  # the bad date fails checks on both
    assert bq_checks == duck_checks
    print(f"{len(bq_checks)} check evaluations, {sum(not c[2] for c in bq_checks)} failed, equal on both warehouses")

    bigquery, duckdb = _readable(production, bigquery_emulator), _readable(local, bigquery_emulator)
    compared = {}
    for asset in RAW_AND_ANALYTICS:
        name = asset.key.path[-1]
        duck_rows, bq_rows = _published(duckdb, asset), _published(bigquery, asset)
        assert duck_rows.dtypes.to_dict() == bq_rows.dtypes.to_dict(), name
        pd.testing.assert_frame_equal(duck_rows, bq_rows, obj=name)
        duck_log = duckdb.publish_records(name, None).sort_values("game_date")
        bq_log = bigquery.publish_records(name, None).sort_values("game_date")
        assert duck_log[["game_date", "outcome", "rows"]].values.tolist() == bq_log[["game_date", "outcome", "rows"]].values.tolist(), name
        assert set(duck_log["game_date"]) == {"2023-12-23", "2023-12-24", "2023-12-25"}, name
        compared[name] = (len(bq_rows), dict(zip(bq_log["game_date"], bq_log["outcome"])))
    print(compared)
    summary = compared["player_game_summary"]
    assert summary[0] > 0 and summary[1] == {"2023-12-23": "published", "2023-12-24": "published", "2023-12-25": "quarantined"}
    quarantined = bigquery.read(TableRef("quarantine", "analytics__player_game_summary"), None)
    assert set(quarantined["game_date"].dt.strftime("%Y-%m-%d")) == {BAD}


# a column naming the run that wrote the row: the one thing two runs cannot share
RUN_COLUMNS = {"predicted_in_run"}


def test_every_phase_on_bigquery_publishes_the_same_tables_and_checks_as_on_duckdb(monkeypatch, tmp_path, bigquery_emulator):
    """Opening night to four weeks in (enough for the walk-forward model's first cutoff): raw to grading. Models
    are stored on local disk in both runs (no GCS emulator here)."""
    local, production = _both(monkeypatch, tmp_path, bigquery_emulator)
    for name, resources in (("duckdb", local), ("bigquery", production)):
        resources["model_io"] = ModelStore(base_dir=str(tmp_path / name / "models"))
    start, end = "2023-10-24", "2023-11-21"
    on_duckdb = _run(local, EVERY_PHASE, start, end, bad=None)
    on_bigquery = _run(production, EVERY_PHASE, start, end, bad=None)
    assert on_duckdb.success and on_bigquery.success
    assert _checks(on_bigquery) == _checks(on_duckdb)
    bigquery, duckdb = _readable(production, bigquery_emulator), _readable(local, bigquery_emulator)
    rows = {}
    for asset in EVERY_PHASE:
        if asset.partitions_def is None:  # the model: a pickle, not a table
            continue
        name = asset.key.path[-1]
        duck_rows, bq_rows = _published(duckdb, asset), _published(bigquery, asset)
        assert duck_rows.dtypes.to_dict() == bq_rows.dtypes.to_dict(), name
        keep = [c for c in duck_rows.columns if c not in RUN_COLUMNS]
        pd.testing.assert_frame_equal(
            duck_rows[keep].sort_values(keep).reset_index(drop=True), bq_rows[keep].sort_values(keep).reset_index(drop=True),
            obj=name,
        )
        rows[name] = len(bq_rows)
    print(rows)
    assert rows["points_prop_predictions"] > 0 and rows["prediction_grading"] > 0


def test_missing_credentials_fail_at_once_saying_what_to_set(monkeypatch, tmp_path):
    """Production on a machine without Google credentials: the first call fails by name, not with google-auth's
    traceback, and without waiting on a network: no name is looked up and no connection is tried (so nothing can be
    retried or time out) before the error."""
    import socket

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    tried = []

    def no_network(what):
        def refuse(*args, **kwargs):
            tried.append((what, args[1:] if what == "connect" else args[:2]))
            raise OSError(f"{what}: no network in this test")
        return refuse

    monkeypatch.setattr(socket, "getaddrinfo", no_network("getaddrinfo"))
    monkeypatch.setattr(socket.socket, "connect", no_network("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", no_network("connect_ex"))
    with pytest.raises(WarehouseError, match=r"cannot read analytics\.scores: no usable Google credentials .*missing-key\.json"
                       r".*GOOGLE_APPLICATION_CREDENTIALS"):
        BigQueryWarehouse(project=PROJECT).read(TableRef("analytics", "scores"), None)
    assert tried == []


def test_a_server_error_names_what_was_being_done_and_that_nothing_was_published(bigquery_emulator):
    """The staged rows vanish before the audit reads them back (another process dropped the staging dataset's
    table): the emulator's 404 becomes one line naming the table and what it leaves behind."""
    warehouse = BigQueryWarehouse(project=PROJECT, api_endpoint=bigquery_emulator, dataset_prefix=f"e{uuid.uuid4().hex[:8]}_")
    ref = TableRef("analytics", "scores")
    staging = warehouse.stage(ref, pd.DataFrame({"game_date": pd.to_datetime(["2024-01-14"]), "pts": [1]}), "run-1")
    warehouse.drop_staging(staging)
    with pytest.raises(WarehouseError) as failed:
        warehouse.read_staged(staging)
    message = str(failed.value)
    assert message.startswith(f"BigQuery could not read back the staged rows {staging} in project {PROJECT} at {bigquery_emulator}: 404")
    assert message.endswith("; nothing of this step was published") and "\n" not in message


SCRIPT = b"begin transaction"  # what only the publish's transaction sends
DAYS = pd.to_datetime(["2024-01-14", "2024-01-15", "2024-01-16"])


def _through_proxy(endpoint: str, mode: str, **timeouts) -> tuple[FaultyProxy, BigQueryWarehouse, BigQueryWarehouse]:
    """A warehouse whose requests pass the faulty proxy, and one that asks the emulator directly (the truth)."""
    proxy = FaultyProxy(endpoint, SCRIPT, mode)
    prefix = f"f{uuid.uuid4().hex[:8]}_"
    return (proxy, BigQueryWarehouse(project=PROJECT, api_endpoint=proxy.endpoint, dataset_prefix=prefix, **timeouts),
            BigQueryWarehouse(project=PROJECT, api_endpoint=endpoint, dataset_prefix=prefix))


def _publish_three_days(warehouse: BigQueryWarehouse, run: str, log=None) -> str:
    ref = TableRef("analytics", "scores")
    frame = pd.DataFrame({"game_date": DAYS.repeat(2), "player_id": [1, 2] * 3, "pts": pd.array([5] * 6, dtype="Int64")})
    outcomes = pd.DataFrame({"game_date": DAYS, "passed": [True, False, True], "rows": 2,
                             "failed_checks": ["", "pts_ok", ""], "checks": ""})
    staging = warehouse.stage(ref, frame, run)
    warehouse.publish(ref, staging, outcomes, asset="scores", run_id=run, code_version="v1", log=log)
    return staging


def test_a_publish_whose_answer_is_lost_after_it_committed_stands_and_says_so(bigquery_emulator, caplog):
    """The connection drops after the emulator ran the transaction: the job and the publish log say it committed,
    so the publish stands and the log names each date's outcome."""
    proxy, warehouse, truth = _through_proxy(bigquery_emulator, "drop_answer")
    run = str(uuid.uuid4())
    try:
        with caplog.at_level(logging.WARNING):
            _publish_three_days(warehouse, run)
    finally:
        proxy.close()
    assert proxy.fired.is_set()
    said = [r.getMessage() for r in caplog.records if "the publish of analytics.scores" in r.getMessage()]
    assert len(said) == 1 and "but it committed (verified: job publish_analytics__scores_" in said[0], said
    assert said[0].endswith("published by this run: 2024-01-14, 2024-01-16; quarantined by this run: 2024-01-15")
    assert len(truth.read(TableRef("analytics", "scores"), None)) == 4
    assert truth.staging_tables().empty


def test_a_publish_that_never_reached_bigquery_says_nothing_was_published_verified(bigquery_emulator):
    proxy, warehouse, truth = _through_proxy(bigquery_emulator, "drop_request")
    run = str(uuid.uuid4())
    try:
        with pytest.raises(WarehouseError) as failed:
            _publish_three_days(warehouse, run)
    finally:
        proxy.close()
    message = str(failed.value)
    assert message.startswith("the publish of analytics.scores (2024-01-14, 2024-01-15, 2024-01-16) failed (")
    assert re.search(rf"; nothing of this step was published \(verified: BigQuery has no job publish_analytics__scores_"
                     rf"{run.replace('-', '')[:12]}_[0-9a-f]{{8}}, and pipeline.publish_log records none of its dates for "
                     rf"run {run}\)$", message), message
    assert "rolled back" not in message and not isinstance(failed.value, PublishOutcomeUnknown)
    assert truth.publish_records("scores", None).empty and truth.read(TableRef("analytics", "scores"), None).empty
    assert truth.staging_tables().empty  # the failed publish's staging table is dropped


def test_a_publish_lost_to_a_stalled_bigquery_says_it_cannot_tell_and_keeps_its_staging(bigquery_emulator):
    """The endpoint stalls once the script is sent (the emulator runs it: it commits): the client gives up on its
    own short timeouts, cannot check either, and says so instead of "rolled back", which would be false here."""
    proxy, warehouse, truth = _through_proxy(
        bigquery_emulator, "stall", request_timeout_seconds=1, retry_deadline_seconds=2, job_timeout_seconds=2)
    run = str(uuid.uuid4())
    try:
        with pytest.raises(PublishOutcomeUnknown) as failed:
            _publish_three_days(warehouse, run)
    finally:
        proxy.close()
    message = str(failed.value)
    assert "BigQuery did not answer the check of what it committed either" in message and "rolled back" not in message
    assert f"pipeline.publish_log shows run {run} on them if it did" in message
    truly = truth.publish_records("scores", None)
    assert set(truly["run_id"]) == {run} and len(truly) == 3  # it did commit
    assert len(truth.staging_tables()) == 1  # left for the job that might still have been reading it
