"""A real local BigQuery emulator (`bqemulator`, from PyPI: DuckDB + SQLGlot behind BigQuery's REST API) as a
server process on a free port, for the tests that run the BigQuery warehouse.

`python -m nba_pipeline_tests.bigquery_emulator start …` is the emulator's own CLI with one change: it loads
DuckDB's spatial extension at start-up (for GEOGRAPHY), which it would download from the internet; no table of
this project has a GEOGRAPHY column, so the load is skipped and the emulator runs offline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from nba_pipeline_tests.tiers import heavy

PROJECT = "nba-pipeline-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@heavy("the BigQuery emulator")
@contextmanager
def running_emulator(log_file: Path, startup_timeout: float = 60.0) -> Iterator[str]:
    """Start the emulator in its own process group, wait until its REST API answers, yield its endpoint
    (http://127.0.0.1:PORT); the group is killed on exit."""
    rest, grpc = _free_port(), _free_port()
    endpoint = f"http://127.0.0.1:{rest}"
    with open(log_file, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nba_pipeline_tests.bigquery_emulator", "start", "--rest-port", str(rest),
             "--grpc-port", str(grpc), "--project", PROJECT, "--ephemeral", "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=Path(__file__).resolve().parents[1],
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the BigQuery emulator exited with {process.returncode}: {log_file.read_text()[-2000:]}")
            try:
                requests.get(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the BigQuery emulator did not answer on {endpoint} in {startup_timeout:.0f} s") from None
                time.sleep(0.3)
        yield endpoint
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass


def main() -> int:
    from bqemulator.cli import main as emulator_main
    from bqemulator.storage import engine

    engine.DuckDBEngine._load_spatial = lambda self: None  # offline: GEOGRAPHY is not used by any table here
    return emulator_main()


if __name__ == "__main__":
    sys.exit(main())
