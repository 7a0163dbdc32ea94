"""Production's model store against a real local GCS server (gcp-storage-emulator, in process on a free port):
every retrain is kept, readers load the latest, a store without a model says so."""

from __future__ import annotations

import socket

import dagster as dg
import pytest
from gcp_storage_emulator.server import create_server

from nba_pipeline.warehouse.gcs_model_store import GCSModelStore

BUCKET = "nba-models"


@pytest.fixture(scope="module")
def gcs_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _job(store: GCSModelStore, value: int):
    @dg.asset(io_manager_key="model_io")
    def points_model() -> dict:
        return {"trained": value}

    @dg.asset
    def uses_model(points_model: dict) -> int:
        return points_model["trained"]

    return [points_model, uses_model], {"model_io": store}


def test_every_retrain_is_kept_and_readers_load_the_latest(gcs_endpoint):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    store = GCSModelStore(project="test", bucket=BUCKET, prefix="models", api_endpoint=gcs_endpoint)
    instance = dg.DagsterInstance.ephemeral()
    runs = []
    for value in (1, 2):
        assets, resources = _job(store, value)
        result = dg.materialize(assets, resources=resources, instance=instance)
        assert result.success
        assert result.output_for_node("uses_model") == value  # loaded back from the bucket: the model just trained
        runs.append(result.run_id)
    client = storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_endpoint})
    names = sorted(b.name for b in client.list_blobs(BUCKET, prefix="models/points_model/"))
    assert names == sorted([f"models/points_model/{r}.pickle" for r in runs] + ["models/points_model/LATEST"])
    assert client.bucket(BUCKET).blob("models/points_model/LATEST").download_as_text() == f"{runs[1]}.pickle"


def test_a_store_without_a_model_says_so(gcs_endpoint):
    store = GCSModelStore(project="test", bucket=BUCKET, prefix="empty", api_endpoint=gcs_endpoint)

    @dg.asset(io_manager_key="model_io")
    def points_model() -> dict:
        return {}

    @dg.asset(deps=[])
    def uses_model(points_model: dict) -> int:
        return 0

    result = dg.materialize([points_model.to_source_asset(), uses_model], resources={"model_io": store},
                            raise_on_error=False, instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data
    assert "no trained points_model in gs://nba-models/empty/points_model: materialize it first" in failure.description


def test_production_binds_the_store_to_a_storage_emulator_when_the_environment_names_one(monkeypatch, gcs_endpoint):
    from nba_pipeline.resources import resources_for

    monkeypatch.setenv("GCP_PROJECT", "test")
    monkeypatch.setenv("GCS_BUCKET", BUCKET)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    assert resources_for("production")["model_io"].api_endpoint is None  # Google's
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    store = resources_for("production")["model_io"]
    assert store.api_endpoint == gcs_endpoint
    assets, _ = _job(store, 7)
    assert dg.materialize(assets, resources={"model_io": store}).success
