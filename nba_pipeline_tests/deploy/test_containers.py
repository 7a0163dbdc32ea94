"""The deployment as a team runs it (deploy/: Containerfile, pod.yaml, up): the code server, the webserver and the
daemon as three containers of the project's image, against a PostgreSQL instance and BigQuery (the local emulator),
configured from the environment only.

The story: `deploy/up` brings it up (one command); a partition backfill is launched through the webserver's GraphQL;
while its run is inside a step, holding the `warehouse` slot, the code-server container is killed with `podman kill`
(its run worker dies with it) and is started again. Run monitoring, in the daemon container, marks
the dead run FAILURE (`nba_pipeline.plumbing.run_launcher` asks the new code server, which is not executing it) and frees its
slot; the same backfill launched again completes and publishes to BigQuery; `nba-pipeline status`, run inside the
code-server container, reports the failed run, and the alert sensor POSTs it to a webhook.

Needs podman, runc and debootstrap (`.ci/prerequisites` installs them): without them this FAILS, it never skips.
The image is built by `deploy/up` from cached layers (the first build on a machine takes minutes: base image and
pip install; later ones seconds), so it always runs the code under test. Everything it starts — the pod, the
database, the emulator, the webhook — is removed in a finally, also when it fails. Bring-up and story durations go
to the progress lines (stderr).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import requests
import yaml

from nba_pipeline.warehouse import WAREHOUSE_POOL
from nba_pipeline.warehouse.bigquery_warehouse import BigQueryWarehouse
from nba_pipeline_tests.bigquery_emulator import PROJECT, _free_port, running_emulator
from nba_pipeline_tests.dagster_dev import LAUNCH_BACKFILL
from nba_pipeline_tests.postgres import PG_URL_ENV, PRODUCTION_YAML, fresh_database, instance_home
from nba_pipeline_tests.progress import progress

ROOT = Path(__file__).resolve().parents[2]
RAW = ["schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines"]
ANALYTICS = ["team_offense_game_summary", "team_defense_game_summary", "player_game_summary"]
DATES = [d.strftime("%Y-%m-%d") for d in pd.date_range("2023-11-01", "2023-11-07")]
TOOLS = ("podman", "runc", "debootstrap")
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def _require_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the container story needs {', '.join(missing)}: run .ci/prerequisites (it installs them); "
                    "this test fails rather than skips", pytrace=False)


def _poll(probe, timeout: float, what: str, interval: float = 1.0, on_timeout=lambda: ""):
    started, said = time.monotonic(), time.monotonic()
    while True:
        value = probe()
        if value:
            progress(f"  {what}: after {time.monotonic() - started:.1f} s")
            return value
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s\n{on_timeout()}")
        if time.monotonic() - said >= 30:
            said = time.monotonic()
            progress(f"  still waiting for {what} ({said - started:.0f} s)")
        time.sleep(interval)


class _Webhook:
    """An alert webhook on a free local port: keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def _container_state(name: str) -> tuple[bool, str, int]:
    """(running, started at, restart count) of a container."""
    running, started, restarts = _podman(
        "inspect", "--format", "{{.State.Running}}|{{.State.StartedAt}}|{{.RestartCount}}", name).strip().split("|")
    return running == "true", started, int(restarts)


def _logs(pod: str) -> str:
    return "\n".join(f"--- {pod}-{role} ---\n" + _podman("logs", "--tail", "40", f"{pod}-{role}", check=False)
                     for role in ("code-server", "webserver", "daemon"))


def _step_failures(instance: dg.DagsterInstance, runs) -> str:
    """What failed in `runs`, step by step, with the error's message: the story's failure says why, not only that."""
    lines = []
    for run in runs:
        if run.status == dg.DagsterRunStatus.SUCCESS:
            continue
        lines.append(f"run {run.run_id[:8]} {run.status.value}")
        for record in instance.all_logs(run.run_id, of_type={dg.DagsterEventType.STEP_FAILURE,
                                                             dg.DagsterEventType.RUN_FAILURE}):
            error = getattr(record.dagster_event.event_specific_data, "error", None)
            cause = error.cause if error is not None and error.cause is not None else error
            lines.append(f"  {record.dagster_event.step_key or 'run'}: {record.message}"
                         + (f" — {cause.cls_name}: {cause.message.strip()[:300]}" if cause is not None else ""))
    return "\n".join(lines) or "no run failed"


def _step_in_progress(instance: dg.DagsterInstance, run_id: str) -> str | None:
    started, ended = [], set()
    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    for record in instance.all_logs(run_id, of_type=kinds):
        event = record.dagster_event
        (started.append if event.event_type == dg.DagsterEventType.STEP_START else ended.add)(event.step_key)
    return next((step for step in started if step not in ended), None)


def test_the_deployment_survives_a_killed_code_server(tmp_path, monkeypatch):
    _require_tools()
    story_started = time.monotonic()
    suffix = uuid.uuid4().hex[:8]
    pod = f"nba-pipeline-story-{suffix}"
    webhook = _Webhook()
    try:
        with fresh_database("nba_pipeline_deploy") as pg_url, running_emulator(tmp_path / "emulator.log") as endpoint:
            monkeypatch.setenv(PG_URL_ENV, pg_url)
            web_port = _free_port()
            env = {
                **os.environ,
                "NBA_PIPELINE_POD": pod,
                "DAGSTER_PG_URL": pg_url,
                "GCP_PROJECT": PROJECT,
                "GCS_BUCKET": "models",  # the story's assets write no model
                "BIGQUERY_EMULATOR_HOST": endpoint,
                "NBA_PIPELINE_BIGQUERY_DATASET_PREFIX": f"story{suffix}_",
                "NBA_PIPELINE_SOURCE": "simulator",
                # the game day's schedules act on the real clock: off, so the story's runs are the ones it launches
                "NBA_PIPELINE_GAME_DAY": "off",
                "NBA_PIPELINE_ALERT_WEBHOOK_URL": webhook.url,
                "DAGSTER_WEBSERVER_PORT": str(web_port),
                "DAGSTER_CODE_SERVER_PORT": str(_free_port()),
            }
            try:
                _story(tmp_path, pod, env, webhook, endpoint)
            finally:
                down = subprocess.run([str(ROOT / "deploy" / "down")], env=env, capture_output=True, text=True, timeout=120)
                assert down.returncode == 0, down.stderr
                assert pod not in _podman("pod", "ps", "--format", "{{.Name}}")
    finally:
        webhook.close()
        progress(f"container story: {time.monotonic() - story_started:.0f} s in all")


def _story(tmp_path: Path, pod: str, env: dict, webhook: _Webhook, endpoint: str) -> None:
    code_server = f"{pod}-code-server"

    # 1. one command brings it up: the image (cached layers), then the pod; it returns once the webserver answers
    progress(f"deploy/up: pod {pod} (a first build on this machine takes minutes: base image + pip install)")
    started = time.monotonic()
    up = subprocess.run([str(ROOT / "deploy" / "up")], env=env, capture_output=True, text=True, timeout=1800)
    assert up.returncode == 0, f"deploy/up failed:\n{up.stderr[-4000:]}"
    url = up.stdout.strip().splitlines()[-1]
    progress(f"bring-up (build + pod + webserver answering): {time.monotonic() - started:.0f} s; UI {url}")
    containers = _podman("ps", "--filter", f"pod={pod}", "--format", "{{.Names}}").split()
    assert {f"{pod}-{role}" for role in ("code-server", "webserver", "daemon")} <= set(containers), containers

    instance = dg.DagsterInstance.from_config(str(instance_home(tmp_path / "home", "production")))
    monitoring = yaml.safe_load(PRODUCTION_YAML.read_text())["run_monitoring"]

    def launch() -> str:
        params = {"partitionNames": DATES, "assetSelection": [{"path": [a]} for a in RAW + ANALYTICS]}
        reply = requests.post(f"{url}/graphql", json={"query": LAUNCH_BACKFILL, "variables": {"params": params}},
                              timeout=120).json()
        data = reply["data"]["launchPartitionBackfill"]
        assert data["__typename"] == "LaunchBackfillSuccess", data
        progress(f"backfill {data['backfillId']} launched through GraphQL: {DATES[0]}..{DATES[-1]}")
        return data["backfillId"]

    def backfill_status(backfill_id: str):
        backfill = instance.get_backfill(backfill_id)
        return backfill.status.value if backfill and backfill.status.value in FINISHED else None

    # 2. a backfill through the webserver; wait until its run is inside a step, holding the warehouse slot
    first = launch()

    def run_in_a_step():
        for run in instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": first})):
            if run.status == dg.DagsterRunStatus.STARTED and (step := _step_in_progress(instance, run.run_id)) \
                    and run.run_id in instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids:
                return run.run_id, step
        return None

    killed, step = _poll(run_in_a_step, 600, "a run of the backfill inside a step", interval=0.2,
                         on_timeout=lambda: _logs(pod))
    _, started_at, _ = _container_state(code_server)

    # 3. kill the code server's container mid-run: its run worker (a subprocess) dies with it
    _podman("kill", code_server)
    progress(f"podman kill {code_server} while run {killed[:8]} was in step {step}")
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.STARTED  # nobody has noticed yet
    assert killed in instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids

    # 4. bring it back: a new code-server process (podman restarts a container whose process dies on its own,
    # restartPolicy: Always, but not one a user stopped with `podman kill`)
    assert not _container_state(code_server)[0]
    _podman("start", code_server)
    running, now_started, _ = _container_state(code_server)
    assert running and now_started != started_at
    progress(f"podman start {code_server}")

    # 5. run monitoring (daemon container) fails the dead run: the new code server is not executing it
    _poll(lambda: instance.get_run_by_id(killed).is_finished, 300, f"run monitoring to fail run {killed[:8]}",
          on_timeout=lambda: _logs(pod))
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
    messages = [r.message or "" for r in instance.all_logs(killed)]
    assert any("its code server is not executing it" in m for m in messages), messages[-10:]
    progress(f"run {killed[:8]} marked FAILURE by run monitoring")

    # ...and frees the slot it held, free_slots_after_run_end_seconds after the run ended
    _poll(lambda: killed not in instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids, 120,
          f"run monitoring to free run {killed[:8]}'s warehouse slot", on_timeout=lambda: _logs(pod))
    assert time.time() >= instance.get_run_record_by_id(killed).end_time + monitoring["free_slots_after_run_end_seconds"]
    assert _poll(lambda: backfill_status(first), 300, f"backfill {first} to end") in ("COMPLETED_FAILED", "FAILED")

    # 6. the same backfill again completes, every run of it successful
    second = launch()
    ended = _poll(lambda: backfill_status(second), 900, f"backfill {second} to complete", on_timeout=lambda: _logs(pod))
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": second}))
    assert ended in ("COMPLETED", "COMPLETED_SUCCESS"), _step_failures(instance, runs)
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), _step_failures(instance, runs)
    assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids == set()

    # the rows are in BigQuery: every date of the range published (or quarantined) by the second backfill's runs
    warehouse = BigQueryWarehouse(project=PROJECT, api_endpoint=endpoint,
                                  dataset_prefix=env["NBA_PIPELINE_BIGQUERY_DATASET_PREFIX"])
    latest = warehouse.publish_records("player_game_summary", DATES)  # the latest record per date
    assert sorted(latest["game_date"]) == DATES
    assert set(latest["run_id"]) <= {r.run_id for r in runs}
    assert set(latest["outcome"]) <= {"published", "quarantined"} and "published" in set(latest["outcome"])

    # 7. `nba-pipeline status`, as a team reads it: inside the code-server container, on the same instance and the
    # production warehouse (BigQuery's publish log, through the Warehouse interface)
    status = subprocess.run(["podman", "exec", code_server, "nba-pipeline", "status", "--partition-range",
                             f"{DATES[0]}...{DATES[-1]}", "--select", "raw,analytics", "--json"],
                            capture_output=True, text=True, timeout=300)
    print(status.stdout[-5000:])  # shown with -s, or when the story fails
    assert status.returncode in (0, 1), status.stderr[-3000:]  # a verdict (HEALTHY/WARNING 0, CRITICAL 1), not a crash
    report = json.loads(status.stdout)
    assert report["warehouse"].startswith(f"bigquery:{PROJECT}"), report["warehouse"]
    assert killed in {r["run_id"] for r in report["failed_runs"]}
    counts = {row["asset"]: row for row in report["assets"]}
    for asset in RAW + ANALYTICS:  # every date published (or quarantined) by the second backfill: none missing
        assert counts[asset]["published"] + counts[asset]["quarantined"] == len(DATES), (asset, counts[asset])
    assert counts["player_game_summary"]["published"] == int((latest["outcome"] == "published").sum())
    progress("nba-pipeline status (in the code-server container) reports the failed run and the dates published in BigQuery")

    # 8. the alert sensor (daemon container, every 60 s) POSTed the failed run to the webhook
    def alerted():
        return next((a for a in webhook.received if a.get("kind") == "run_failed" and a.get("run_id") == killed), None)

    alert = _poll(alerted, 300, f"the alert sensor to report run {killed[:8]}", on_timeout=lambda: _logs(pod))
    assert alert["id"] == f"run_failed:{killed}" and killed[:8] in alert["summary"]
