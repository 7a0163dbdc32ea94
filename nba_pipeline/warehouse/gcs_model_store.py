"""Trained models in Google Cloud Storage for production, with their history: what `ModelStore` does on local disk.

Dagster's `GCSPickleIOManager` writes an unpartitioned asset to one object, so every retrain overwrote the last
model and no earlier one could be reloaded or compared. Here each run writes `<prefix>/<asset>/<run_id>.pickle`
and then `<prefix>/<asset>/LATEST` (the name of the newest), so a half-written upload is never what readers load
and every trained model stays. Loading goes through the gate, as every other read does. google-cloud-storage
(the `production` extra, via dagster-gcp) is imported only when a model is written or read.
"""

from __future__ import annotations

import pickle
from typing import Any

import dagster as dg
from pydantic import Field

from nba_pipeline.checks.gate import GatedLoader, assert_readable


class GCSModelStore(dg.ConfigurableIOManager, GatedLoader):
    """Models as pickles in a GCS bucket, one object per run (history kept), the latest named in `<asset>/LATEST`."""

    project: str = Field(description="GCP project of the bucket.")
    bucket: str = Field(description="Bucket holding one folder of model versions per asset.")
    prefix: str = Field("models", description="Folder inside the bucket.")
    api_endpoint: str | None = Field(None, description="A storage emulator's address (tests); None: Google's.")

    def _bucket(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        if self.api_endpoint:
            client = storage.Client(project=self.project, credentials=AnonymousCredentials(),
                                    client_options={"api_endpoint": self.api_endpoint})
        else:
            client = storage.Client(project=self.project)
        return client.bucket(self.bucket)

    def _folder(self, asset_key: dg.AssetKey) -> str:
        return f"{self.prefix.strip('/')}/{asset_key.path[-1]}"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        bucket, folder = self._bucket(), self._folder(context.asset_key)
        name = f"{context.run_id}.pickle"
        bucket.blob(f"{folder}/{name}").upload_from_string(pickle.dumps(obj), content_type="application/octet-stream")
        bucket.blob(f"{folder}/LATEST").upload_from_string(name, content_type="text/plain")  # only once the model is whole
        context.add_output_metadata({"path": f"gs://{self.bucket}/{folder}/{name}"})

    def load_input(self, context: dg.InputContext):
        assert_readable(context, [], None)  # a model has no per-date checks; its own step refuses bad training data
        bucket, folder = self._bucket(), self._folder(context.asset_key)
        latest = bucket.blob(f"{folder}/LATEST")
        if not latest.exists():
            raise dg.Failure(f"no trained {context.asset_key.to_user_string()} in gs://{self.bucket}/{folder}: materialize it first")
        name = latest.download_as_text().strip()
        return pickle.loads(bucket.blob(f"{folder}/{name}").download_as_bytes())
