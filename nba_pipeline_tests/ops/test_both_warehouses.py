"""The operating tools read what is published through the `Warehouse` interface only: the same data gives the same
`status --json`, `validate --json`, alert incidents and late-data verdict on DuckDB and on BigQuery (the real local
emulator), and a warehouse that cannot be reached is reported as such, never as missing dates.

One range (raw + analytics over five dates, one date's box scores with vendor game ids: quarantined) is run twice:
with the local binding on a SQLite instance, and with production's (the shipped PostgreSQL instance, BigQuery);
then the CLI runs against each, in its own environment, as an operator would."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from nba_pipeline.config import load_thresholds
from nba_pipeline.dates import EASTERN
from nba_pipeline.ops.alerts import AlertCursor, AlertWebhook, find_incidents
from nba_pipeline.ops.freshness import late_dates
from nba_pipeline.ops.report import build_report
from nba_pipeline.ops.validation import validate_range
from nba_pipeline.ops.verdict import CRITICAL, UNREACHABLE
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.sources import SimulatedLeagueSource
from nba_pipeline.warehouse.base import WarehouseUnreachable
from nba_pipeline.warehouse.bigquery_warehouse import BigQueryWarehouse
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline_tests.bigquery_emulator import PROJECT
from nba_pipeline_tests.conftest import RAW_AND_ANALYTICS
from nba_pipeline_tests.postgres import PG_URL_ENV, fresh_database, instance_home, persistent_instance

ROOT = Path(__file__).resolve().parents[2]
START, BAD, END = "2023-12-22", "2023-12-25", "2023-12-26"
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
# what differs by construction between two deployments: where things are, when the report was made, run ids
PLACE_AND_TIME = ("instance", "warehouse", "generated_at", "timings_seconds", "failed_runs", "in_progress", "dead_runs")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.local_temp(str(instance_home(home, "local")))


def _run(resources: dict, instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    resources["source"] = SimulatedLeagueSource(faults=FAULT)
    tags = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
    return dg.materialize(RAW_AND_ANALYTICS, resources=resources, tags=tags, raise_on_error=False, instance=instance)


@pytest.fixture(scope="module")
def deployments(tmp_path_factory, bigquery_emulator):
    with fresh_database() as url:
        yield _deployments(tmp_path_factory.mktemp("both"), bigquery_emulator, url)


def _deployments(root: Path, bigquery_emulator: str, pg_url: str) -> SimpleNamespace:
    """Local: a SQLite instance and the DuckDB file; production: the shipped PostgreSQL instance and BigQuery."""
    prefix = f"ops{uuid.uuid4().hex[:8]}_"
    production_env = {"NBA_PIPELINE_ENV": "production", "GCP_PROJECT": PROJECT, "GCS_BUCKET": "models",
                      "BIGQUERY_EMULATOR_HOST": bigquery_emulator, "NBA_PIPELINE_BIGQUERY_DATASET_PREFIX": prefix,
                      "NBA_PIPELINE_SOURCE": "simulator", PG_URL_ENV: pg_url}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in production_env.items():
            patch.setenv(key, value)
        production = resources_for("production")  # production's binding, as the code location makes it
    local = resources_for("local", warehouse_path=str(root / "warehouse.duckdb"))
    duck = SimpleNamespace(home=root / "duck", warehouse=DuckDBWarehouse(database=str(root / "warehouse.duckdb")),
                           env={"NBA_PIPELINE_ENV": "local", "NBA_PIPELINE_WAREHOUSE": str(root / "warehouse.duckdb")})
    bq = SimpleNamespace(home=root / "bq", env=production_env,
                         warehouse=BigQueryWarehouse(project=PROJECT, api_endpoint=bigquery_emulator, dataset_prefix=prefix))
    duck.instance = _instance(duck.home)
    for side, resources in ((duck, local), (bq, production)):
        with pytest.MonkeyPatch.context() as patch:
            for key, value in side.env.items():
                patch.setenv(key, value)
            if side is bq:
                bq.instance = persistent_instance(bq.home, "production")
            assert _run(resources, side.instance).success
    return SimpleNamespace(duck=duck, bq=bq)


def test_status_shows_a_quarantined_date_and_a_late_day_on_the_production_instance(deployments):
    """The morning after the range's last date + 1, nothing of that date published: late, beside the quarantine."""
    day = (dt.date.fromisoformat(END) + dt.timedelta(days=1)).isoformat()
    morning = dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(9), EASTERN).timestamp()
    reports = {name: build_report(getattr(deployments, name).instance, getattr(deployments, name).warehouse, START, day,
                                  now=morning) for name in ("duck", "bq")}
    on_bq = reports["bq"]
    assert on_bq.verdict == CRITICAL and on_bq.late["date"] == day and "player_game_summary" in on_bq.late["assets"]
    assert any(r.startswith("1 asset-date(s) failed a blocking check") and BAD in r for r in on_bq.reasons)
    assert any(r.startswith(f"yesterday's data is late: {day}") for r in on_bq.reasons)
    assert on_bq.reasons == reports["duck"].reasons and on_bq.late == reports["duck"].late
    before_deadline = morning - 2 * 3600  # 07:00 ET: not late yet
    assert build_report(deployments.bq.instance, deployments.bq.warehouse, START, day, now=before_deadline).late == {}


def _cli(side: SimpleNamespace, *args: str) -> subprocess.CompletedProcess:
    env = {"DAGSTER_HOME": str(side.home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **side.env}
    return subprocess.run([sys.executable, "-m", "nba_pipeline.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in PLACE_AND_TIME}


def test_status_json_is_the_same_on_both(deployments):
    duck = _cli(deployments.duck, "status", "--json")
    bq = _cli(deployments.bq, "status", "--json")
    on_duck, on_bq = json.loads(duck.stdout), json.loads(bq.stdout)
    assert on_duck["verdict"] == on_bq["verdict"] == CRITICAL, (on_duck["reasons"], on_bq["reasons"], bq.stderr[-2000:])
    assert duck.returncode == bq.returncode == 1  # CRITICAL: exit 1
    assert on_bq["warehouse"].startswith(f"bigquery:{PROJECT}") and on_duck["warehouse"].endswith("warehouse.duckdb")
    assert on_duck["range"] == {"start": START, "end": END}
    quarantined = [(r["asset"], r["game_date"]) for r in on_bq["not_published"] if r["state"] == "quarantined"]
    assert quarantined == [("player_game_summary", BAD)]
    assert any(r["populated_pct"] for r in on_bq["usage_rate_by_season"])
    assert _comparable(on_bq) == _comparable(on_duck)


def test_validate_json_is_the_same_on_both(deployments):
    for phase in ("raw", "analytics"):
        duck = _cli(deployments.duck, "validate", "--phase", phase, "--partition-range", f"{START}...{END}", "--json")
        bq = _cli(deployments.bq, "validate", "--phase", phase, "--partition-range", f"{START}...{END}", "--json")
        assert duck.returncode == bq.returncode, (phase, duck.stderr[-2000:], bq.stderr[-2000:])
        assert json.loads(bq.stdout) == json.loads(duck.stdout), phase
    verdicts = {m["measure"]: m["verdict"] for m in json.loads(bq.stdout)["measures"] if m["table"] == "player_game_summary"}
    assert verdicts["success_pct"] == "FAIL"  # the quarantined date, seen in BigQuery's publish log


def test_alert_incidents_and_late_data_are_the_same_on_both(deployments):
    found = {}
    for name in ("duck", "bq"):
        side = getattr(deployments, name)
        incidents = find_incidents(side.instance, side.warehouse, AlertCursor(), dt.datetime.now(dt.timezone.utc).timestamp(),
                                   AlertWebhook(lookback_hours=24))
        found[name] = sorted((i.kind, i.asset, tuple(i.dates), tuple(i.checks)) for i in incidents if i.kind != "run_failed")
    quarantines = [i for i in found["bq"] if i[0] == "blocking_check_failed" and BAD in i[2]]
    assert quarantines and quarantines[0][1] == "player_game_summary"
    assert found["bq"] == found["duck"]
    morning = dt.datetime.combine(dt.date.fromisoformat(END) + dt.timedelta(days=1), dt.time(9), EASTERN)
    late_duck, late_bq = late_dates(deployments.duck.warehouse, morning), late_dates(deployments.bq.warehouse, morning)
    assert late_bq == late_duck == (END, [])  # everything of the last date is published on both
    after_a_gap = morning + dt.timedelta(days=3)
    assert late_dates(deployments.bq.warehouse, after_a_gap) == late_dates(deployments.duck.warehouse, after_a_gap)
    assert late_dates(deployments.bq.warehouse, after_a_gap)[1]  # nothing published for the 27th: late


def test_a_warehouse_that_cannot_be_reached_is_reported_as_such(deployments, tmp_path):
    closed = f"http://127.0.0.1:{_free_port()}"
    # readers retry an unreachable BigQuery 15 s by default (what an operator waits): 1 s here, where nothing listens
    nowhere = [BigQueryWarehouse(project=PROJECT, api_endpoint=closed, read_retry_seconds=1),
               DuckDBWarehouse(database=str(tmp_path / "nowhere" / "warehouse.duckdb"))]
    for warehouse in nowhere:
        report = build_report(deployments.bq.instance, warehouse, START, END)
        assert report.verdict == UNREACHABLE and report.exit_code == 3, report.reasons
        assert report.dates.empty and report.assets.empty  # never "missing" dates
        with pytest.raises(WarehouseUnreachable):
            validate_range(warehouse, "analytics", START, END, load_thresholds())
        incidents = find_incidents(deployments.bq.instance, warehouse, AlertCursor(), dt.datetime.now().timestamp(),
                                   AlertWebhook(lookback_hours=24))
        assert [i.kind for i in incidents if i.kind == "warehouse_unreachable"] == ["warehouse_unreachable"]
    side = SimpleNamespace(home=deployments.bq.home, env={**deployments.bq.env, "BIGQUERY_EMULATOR_HOST": closed,
                                                          "NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS": "1"})
    out = _cli(side, "status")
    assert out.returncode == 3, out.stderr[-2000:]
    assert "VERDICT: UNREACHABLE" in out.stdout and "cannot reach BigQuery" in out.stdout
    assert "Dates per asset" not in out.stdout  # no date is reported at all, let alone missing
