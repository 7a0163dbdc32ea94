"""A real `dagster dev` (webserver + daemon) on a temporary DAGSTER_HOME with a shipped dagster.yaml, driven the
way users drive it: backfills launched through the webserver's GraphQL API, the daemon doing the rest.

`instance_kind` picks the yaml: "local" (dagster_home/dagster.yaml, SQLite) or "production"
(deploy/production/dagster.yaml, PostgreSQL at DAGSTER_PG_URL: take the `postgres_url` fixture, a fresh database)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import requests
import yaml

from nba_pipeline.plumbing.dagster_private import backfills_in_progress
from nba_pipeline_tests.postgres import PG_URL_ENV, instance_home
from nba_pipeline_tests.progress import progress
from nba_pipeline_tests.tiers import heavy

__all__ = ["DagsterDev", "progress", "start_dagster_dev", "stop_dagster_dev"]

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
  }
}
"""
SENSOR_TICKS = """
query($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 5) { status timestamp error { message } } } }
    ... on PythonError { message }
  }
}
"""
AUTOMATION_SENSOR = "keep_downstream_in_step"  # nba_pipeline.plumbing.automation.automation_sensor
FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
POLL_SECONDS = 1.0  # how often a wait looks at the state it waits for
# the daemon's loops in a test's dagster dev (daemon_clock/sitecustomize.py), and the run queue's: Dagster's 30 s / 5 s
# between backfill iterations, sensor evaluations and dequeues are what a story waited for, step after step
DAEMON_LOOP_SECONDS = 1
DAEMON_CLOCK = Path(__file__).resolve().parent / "daemon_clock"
ACTIVE_RUNS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@heavy("dagster dev", guard=False)
@dataclass
class DagsterDev:
    home: Path
    warehouse: Path
    faults_file: Path
    url: str
    process: subprocess.Popen
    log: Path

    @property
    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def launch_backfill(self, assets: Iterable[str], partitions: list[str]) -> str:
        assets = list(assets)
        progress(f"launching a backfill through GraphQL: {len(assets)} asset(s), {partitions[0]}..{partitions[-1]}")
        params = {"partitionNames": partitions, "assetSelection": [{"path": [a]} for a in assets]}
        reply = requests.post(f"{self.url}/graphql", json={"query": LAUNCH_BACKFILL, "variables": {"params": params}}, timeout=60)
        data = reply.json()["data"]["launchPartitionBackfill"]
        assert data["__typename"] == "LaunchBackfillSuccess", data
        return data["backfillId"]

    def automation_ticked(self, after: float = 0.0) -> bool:
        """The automation sensor has finished a tick (evaluated, skipped or requested runs) that began after `after`
        (epoch seconds), as the UI's sensor page shows it; a failed tick is an error here, not something to wait out."""
        selector = {"repositoryLocationName": "nba_pipeline", "repositoryName": "__repository__", "sensorName": AUTOMATION_SENSOR}
        reply = requests.post(f"{self.url}/graphql", json={"query": SENSOR_TICKS, "variables": {"selector": selector}}, timeout=60)
        sensor = reply.json()["data"]["sensorOrError"]
        assert sensor["__typename"] == "Sensor", sensor
        ticks = sensor["sensorState"]["ticks"]
        failed = [t["error"]["message"] for t in ticks if t["status"] == "FAILURE" and t["error"]]
        assert not failed, f"{AUTOMATION_SENSOR} failed a tick: {failed[0][:2000]}"
        return any(t["status"] in ("SUCCESS", "SKIPPED") and t["timestamp"] > after for t in ticks)

    def wait_for_backfill(self, backfill_id: str, timeout: float = 300) -> str:
        def status():
            backfill = self.instance.get_backfill(backfill_id)
            return backfill.status.value if backfill and backfill.status.value in FINISHED_BACKFILL else None

        return self.wait_until(status, timeout, f"backfill {backfill_id}")

    def activity(self) -> str:
        """Runs in progress and the steps they are in, in a few words."""
        instance = self.instance
        busy = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_RUNS))
        if not busy:
            return "no run queued or in progress"
        parts = []
        for run in busy[:3]:
            steps = [s.step_key for s in instance.get_run_step_stats(run.run_id) if s.end_time is None]
            parts.append(f"run {run.run_id[:8]} {run.status.value.lower()}" + (f" in {', '.join(steps)}" if steps else ""))
        return "; ".join(parts) + (f" (+{len(busy) - 3} more)" if len(busy) > 3 else "")

    def wait_until_quiet(self, done: Callable[[dg.DagsterInstance], bool], timeout: float = 300) -> None:
        """Until `done` holds, no run is queued or running, and an automation tick that began after that finished
        without starting one (automation has seen the final state and has nothing left to do)."""
        quiet_since = None
        started = time.monotonic()
        deadline, said = started + timeout, started
        while time.monotonic() < deadline:
            if time.monotonic() - said >= 30:
                said = time.monotonic()
                progress(f"  waiting for automation to settle: {said - started:.0f} s of {timeout:.0f}; {self.activity()}")
            instance = self.instance
            if self._idle(instance) and done(instance):
                quiet_since = quiet_since or time.time()
                # a tick that requested runs created them before it finished: they show as active on the next look
                if self.automation_ticked(after=quiet_since) and self._idle(instance):
                    return
            else:
                quiet_since = None
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"automation did not settle in {timeout} s; see {self.log}:\n{self.log.read_text()[-3000:]}")

    @staticmethod
    def _idle(instance: dg.DagsterInstance) -> bool:
        """No run queued or running and no backfill the daemon is still working on (it may yet launch runs)."""
        return not instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_RUNS)) and not backfills_in_progress(instance)

    def wait_until(self, probe: Callable[[], object], timeout: float, what: str):
        started = time.monotonic()
        deadline, said = started + timeout, started
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            if time.monotonic() - said >= 30:
                said = time.monotonic()
                progress(f"  still waiting for {what}: {said - started:.0f} s of {timeout:.0f}; {self.activity()}")
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{what} did not finish in {timeout} s; see {self.log}:\n{self.log.read_text()[-3000:]}")

    def run_worker_pid(self, run_id: str) -> int | None:
        """The pid of the process executing `run_id` (the code server logs "Started process for run (pid: N).")."""
        for record in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            data = record.dagster_event.engine_event_data if record.dagster_event else None
            if data and "pid" in data.metadata:
                return int(data.metadata["pid"].value)
        return None

    def kill_run_worker(self, run_id: str) -> int:
        """`kill -9` the run worker of `run_id` (only ever a process of this dagster dev's process group)."""
        pid = self.run_worker_pid(run_id)
        assert pid, f"run {run_id} logged no worker pid"
        assert os.getpgid(pid) == self.process.pid, f"pid {pid} is not a process of this dagster dev"
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        progress(f"kill -9 run worker of {run_id[:8]}: pid {pid} ({command[:100]})")
        os.kill(pid, signal.SIGKILL)
        return pid


def _quicken_run_queue(yaml_file: Path) -> None:
    config = yaml.safe_load(yaml_file.read_text())
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator", config["run_coordinator"]
    config["run_coordinator"].setdefault("config", {})["dequeue_interval_seconds"] = DAEMON_LOOP_SECONDS
    yaml_file.write_text(yaml.safe_dump(config, sort_keys=False))


@heavy("dagster dev")
def start_dagster_dev(workdir: Path, automation_interval_seconds: int = 5, instance_kind: str = "local") -> DagsterDev:
    if instance_kind == "production":
        assert os.environ.get(PG_URL_ENV), f"the production instance reads {PG_URL_ENV}: use the postgres_url fixture"
    home = instance_home(workdir / "dagster_home", instance_kind)  # a shipped instance config, as it ships,
    _quicken_run_queue(home / "dagster.yaml")  # but for the run queue's dequeue interval
    port = _free_port()
    dev = DagsterDev(
        home=home,
        warehouse=workdir / "warehouse.duckdb",
        faults_file=workdir / "faults.yaml",
        url=f"http://127.0.0.1:{port}",
        process=None,  # type: ignore[arg-type]
        log=workdir / "dagster_dev.log",
    )
    dev.faults_file.write_text("{}\n")  # no faults until a test writes some (a set but missing file is an error)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NBA_PIPELINE_WAREHOUSE": str(dev.warehouse),
        "NBA_PIPELINE_FAULTS_FILE": str(dev.faults_file),
        "NBA_PIPELINE_AUTOMATION_INTERVAL_SECONDS": str(automation_interval_seconds),
        # the game day's schedules and sensors act on the real clock (today is a simulated game day): off here, so
        # a story's runs are exactly the ones it launches, whatever time of day the tests run
        "NBA_PIPELINE_GAME_DAY": "off",
        "NBA_PIPELINE_TEST_DAEMON_LOOP_SECONDS": str(DAEMON_LOOP_SECONDS),
        "PYTHONPATH": os.pathsep.join(p for p in (str(DAEMON_CLOCK), os.environ.get("PYTHONPATH")) if p),
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    progress(f"starting dagster dev (webserver + daemon, {instance_kind} instance) on {dev.url}; log {dev.log}")
    dev.process = subprocess.Popen(
        [dagster, "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=dev.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )

    def ready():
        try:
            reply = requests.post(f"{dev.url}/graphql", json={"query": "{ version }"}, timeout=5)
            return reply.ok and "version" in reply.json().get("data", {})
        except requests.RequestException:
            return False

    dev.wait_until(ready, 120, "dagster dev start-up")
    # the automation sensor's first tick records its baseline: what a story launches before it would not count as new
    dev.wait_until(dev.automation_ticked, automation_interval_seconds + 120, f"the first finished tick of {AUTOMATION_SENSOR}")
    return dev


def stop_dagster_dev(dev: DagsterDev) -> None:
    """Stop the webserver, the daemon and their run workers (one process group); safe to call twice."""
    if dev.process.poll() is not None:
        return
    os.killpg(dev.process.pid, signal.SIGTERM)
    try:
        dev.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(dev.process.pid, signal.SIGKILL)
        dev.process.wait()
