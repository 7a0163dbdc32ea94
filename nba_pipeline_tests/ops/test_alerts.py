"""The alert sensor on a real instance and warehouse: one alert per incident (a log line, a POST to a real local
HTTP server), nothing repeated on later ticks, a new incident sends one more, a failing webhook is retried."""

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from nba_pipeline.ops.alerts import AlertCursor, AlertWebhook, alert_sensor
from nba_pipeline.checks import names
from nba_pipeline.clock import GameClock
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline.precompute.assets import player_composite_factors
from nba_pipeline.resources import resources_for
from nba_pipeline_tests.conftest import EVERY_PHASE, run_range
from nba_pipeline_tests.postgres import instance_home

START, BAD, END = "2021-10-19", "2021-10-22", "2021-10-25"
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
AFTER_THE_NIGHT = "2021-10-26T09:00:00"  # ET: yesterday (2021-10-25) is published, so nothing is late


class Webhook:
    """A real HTTP server on a free local port recording every POSTed JSON body; `status` is what it answers."""

    def __init__(self):
        self.bodies, self.status = [], 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.status == 200:
                    hook.bodies.append(body)
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """raw + analytics over a week on a persistent instance; vendor game ids in one date's box scores make
    player_game_summary fail three blocking checks on it and quarantine it; the other dates carry on (the run
    succeeds). Then a user insists on player_composite_factors for the last date, whose windows read the bad date:
    that run is refused and fails."""
    root = tmp_path_factory.mktemp("alerts")
    instance = dg.DagsterInstance.local_temp(str(instance_home(root / "home", "local")))  # configured as shipped
    warehouse = str(root / "warehouse.duckdb")
    result = run_range(warehouse, START, END, faults=FAULT, instance=instance)
    assert result.success
    refused = dg.materialize(EVERY_PHASE, selection=[player_composite_factors], partition_key=END, instance=instance,
                             resources=resources_for("local", warehouse_path=warehouse), raise_on_error=False)
    assert not refused.success
    yield instance, warehouse, result.run_id, refused.run_id
    instance.dispose()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def _tick(instance, warehouse, cursor=None, url=None, now=AFTER_THE_NIGHT, **alerts):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor,
        resources={"alerts": AlertWebhook(url=url, **alerts), "warehouse": DuckDBWarehouse(database=warehouse),
                   "clock": GameClock(frozen_at=now)},
    )
    reason = alert_sensor(context)
    return context.cursor, reason.skip_message


def _logged(capfd) -> str:
    """What the sensor's context.log wrote since the last call (Dagster's log handler writes to stderr)."""
    return capfd.readouterr().err


def _alert_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "ALERT [" in line]


def test_one_alert_per_incident_and_a_second_tick_sends_nothing(night, webhook, capfd):
    instance, warehouse, run_id, refused_id = night
    _logged(capfd)
    cursor, message = _tick(instance, warehouse, url=webhook.url)
    assert message.startswith("2 new incident(s), 2 webhook POST(s), 0 failed")
    by_kind = {b["kind"]: b for b in webhook.bodies}
    assert sorted(by_kind) == ["blocking_check_failed", "run_failed"] and len(webhook.bodies) == 2
    check = by_kind["blocking_check_failed"]
    # the per-date evaluations, the run-level ones and the quarantine record are one incident
    assert check["id"] == f"blocking_check_failed:{run_id}:player_game_summary" and check["dates"] == [BAD]
    assert {names.USAGE_RATE_POPULATED, names.AVG_QUALITY_SCORE, names.PRODUCTION_READY} <= set(check["checks"])
    assert by_kind["run_failed"]["run_id"] == refused_id and END in by_kind["run_failed"]["summary"]
    assert len(_alert_lines(_logged(capfd))) == 2

    _logged(capfd)
    cursor, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url)
    assert message.startswith("0 new incident(s), 0 webhook POST(s)") and len(webhook.bodies) == 2
    assert not _alert_lines(_logged(capfd))


def test_without_a_webhook_the_log_line_is_the_alert(night, capfd, monkeypatch):
    instance, warehouse, *_ = night
    monkeypatch.delenv("NBA_PIPELINE_ALERT_WEBHOOK_URL", raising=False)
    _logged(capfd)
    _, message = _tick(instance, warehouse)
    assert message.startswith("2 new incident(s), 0 webhook POST(s)")
    assert any("player_game_summary: blocking check(s)" in line and BAD in line for line in _alert_lines(_logged(capfd)))


def test_the_url_comes_from_the_environment_at_tick_time(night, webhook, monkeypatch):
    instance, warehouse, *_ = night
    monkeypatch.setenv("NBA_PIPELINE_ALERT_WEBHOOK_URL", webhook.url)
    _tick(instance, warehouse)
    assert len(webhook.bodies) == 2


def test_a_failing_webhook_does_not_crash_the_sensor_and_is_retried(night, webhook, capfd):
    instance, warehouse, *_ = night
    _logged(capfd)
    webhook.status = 500
    cursor, message = _tick(instance, warehouse, url=webhook.url)
    assert message.startswith("2 new incident(s), 0 webhook POST(s), 2 failed (pending 2)")
    assert "webhook failed (HTTP Error 500" in _logged(capfd)
    down = f"http://127.0.0.1:{_free_port()}/alerts"  # nobody listens: connection refused
    cursor, message = _tick(instance, warehouse, cursor=cursor, url=down)
    assert "0 new incident(s), 0 webhook POST(s), 2 failed (pending 2)" in message
    _logged(capfd)
    webhook.status = 200
    cursor, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url)
    assert message.startswith("0 new incident(s), 2 webhook POST(s), 0 failed (pending 0)")
    assert sorted(b["kind"] for b in webhook.bodies) == ["blocking_check_failed", "run_failed"]
    assert not _alert_lines(_logged(capfd))  # logged once, when first seen
    assert AlertCursor.parse(cursor).pending == []
    _, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url)
    assert message.startswith("0 new incident(s), 0 webhook POST(s)") and len(webhook.bodies) == 2


def test_gives_up_after_max_attempts(night, webhook, capfd):
    instance, warehouse, *_ = night
    webhook.status = 500
    cursor, _ = _tick(instance, warehouse, url=webhook.url, max_attempts=2)
    cursor, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, max_attempts=2)
    assert message.endswith("(pending 0)") and "giving up" in _logged(capfd)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_new_incident_sends_one_more(night, webhook):
    """A run that stays STARTED past the limit is stuck: one alert, once."""
    instance, warehouse, *_ = night
    cursor, _ = _tick(instance, warehouse, url=webhook.url)
    assert len(webhook.bodies) == 2
    release = threading.Event()

    @dg.op
    def waits():
        assert release.wait(120)

    @dg.job
    def long_job():
        waits()

    worker = threading.Thread(target=lambda: long_job.execute_in_process(instance=instance))
    worker.start()
    try:
        deadline = time.time() + 60
        while not instance.get_runs(filters=dg.RunsFilter(job_name="long_job", statuses=[dg.DagsterRunStatus.STARTED])):
            assert time.time() < deadline, "the long run never started"
            time.sleep(0.2)
        run = instance.get_runs(filters=dg.RunsFilter(job_name="long_job"))[0]
        # within the limit: nothing; 4 hours later by the clock: stuck, once. The clock is the real one here (the
        # run started now), so the late-data incident of the real yesterday is left out: its own test covers it
        now = dt.datetime.now(dt.timezone.utc)
        cursor, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, now=now.isoformat(), late_data=False)
        assert message.startswith("0 new incident(s)")
        later = (now + dt.timedelta(hours=4)).isoformat()
        cursor, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, now=later, late_data=False)
        assert message.startswith("1 new incident(s), 1 webhook POST(s)")
        assert webhook.bodies[-1]["id"] == f"run_stuck:{run.run_id}" and "limit 180 min" in webhook.bodies[-1]["summary"]
        cursor, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, now=later, late_data=False)
        assert message.startswith("0 new incident(s)") and len(webhook.bodies) == 3
    finally:
        release.set()
        worker.join(60)


def test_yesterdays_data_late_is_an_incident_after_the_deadline(night, webhook):
    instance, warehouse, *_ = night
    cursor, _ = _tick(instance, warehouse, url=webhook.url)
    # 2021-10-23 at 07:59 ET: before the deadline nothing is late; at 08:00 yesterday's quarantined date is
    _, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, now="2021-10-23T07:59:00")
    assert message.startswith("0 new incident(s)")
    cursor, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, now="2021-10-23T08:00:00")
    assert message.startswith("1 new incident(s)")
    late = webhook.bodies[-1]
    assert late["id"] == f"late:{BAD}" and late["summary"].endswith("for player_game_summary")
    # a date never materialized at all: every post-game table is late
    _, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, now="2021-10-28T08:30:00")
    assert webhook.bodies[-1]["id"] == "late:2021-10-27" and "player_boxscores, team_boxscores" in webhook.bodies[-1]["summary"]
    # a history-only deployment does not expect yesterday
    _, message = _tick(instance, warehouse, cursor=cursor, url=webhook.url, now="2021-10-28T08:30:00", late_data=False)
    assert message.startswith("0 new incident(s)")
