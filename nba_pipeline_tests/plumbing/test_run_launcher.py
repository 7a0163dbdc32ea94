"""The production run launcher's worker health check against a real code server (`dagster api grpc`): a STARTED run
the server is not executing is failed; nothing is failed on a silent server, a run without a server, or a run that
finished while the server was asked. (The container story, deploy/test_containers.py, kills a real one mid-run.)"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from nba_pipeline.plumbing.run_launcher import CodeServerRunLauncher
from nba_pipeline_tests.bigquery_emulator import _free_port

GRPC_INFO_TAG = ".dagster/grpc_info"  # what DefaultRunLauncher records on a run it launches: its code server


@pytest.fixture
def launcher():
    instance = dg.DagsterInstance.ephemeral()
    launcher = CodeServerRunLauncher()
    launcher.register_instance(instance)
    yield launcher, instance
    instance.dispose()


@pytest.fixture(scope="module")
def code_server(tmp_path_factory):
    """A real gRPC code server on a free port, serving a one-op job; yields its port."""
    folder = tmp_path_factory.mktemp("code_server")
    (folder / "defs.py").write_text(textwrap.dedent("""
        import dagster as dg

        @dg.op
        def nothing():
            pass

        @dg.job
        def tiny():
            nothing()

        defs = dg.Definitions(jobs=[tiny])
    """))
    port = _free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    process = subprocess.Popen([dagster, "api", "grpc", "--host", "127.0.0.1", "--port", str(port), "--python-file",
                                str(folder / "defs.py")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while subprocess.run([dagster, "api", "grpc-health-check", "--host", "127.0.0.1", "--port", str(port)],
                             capture_output=True).returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, "the code server did not come up"
            time.sleep(0.5)
        yield port
    finally:  # a gRPC server may take its time over a graceful stop (seen > 30 s under load): not under test here
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _started_run(instance: dg.DagsterInstance, port: int | None) -> dg.DagsterRun:
    tags = {GRPC_INFO_TAG: json.dumps({"host": "127.0.0.1", "port": port})} if port else {}
    return instance.add_run(dg.DagsterRun(job_name="tiny", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
                                          tags=tags))


def test_the_launcher_is_checked_by_run_monitoring(launcher):
    assert launcher[0].supports_check_run_worker_health


def test_a_started_run_its_code_server_is_not_executing_is_failed(launcher, code_server):
    launcher, instance = launcher
    health = launcher.check_run_worker_health(_started_run(instance, code_server))
    assert health.status.name == "FAILED" and "not executing it" in health.msg


def test_a_run_that_ended_while_the_server_was_asked_is_left_alone(launcher, code_server):
    launcher, instance = launcher
    run = _started_run(instance, code_server)
    instance.report_run_failed(run)  # what the run monitor read a moment ago is STARTED; the store says FAILURE now
    health = launcher.check_run_worker_health(run)
    assert health.status.name == "RUNNING" and "FAILURE now" in health.msg


def test_a_silent_code_server_or_none_fails_nothing(launcher):
    launcher, instance = launcher
    for port in (_free_port(), None):  # nothing listens there; a run with no code server recorded
        health = launcher.check_run_worker_health(_started_run(instance, port))
        assert health.status.name == "RUNNING" and "not answering" in health.msg, port
