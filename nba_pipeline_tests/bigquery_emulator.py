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


class FaultyProxy:
    """A TCP proxy in front of the emulator (a thread on a free port) that forwards everything until a request
    carrying `trigger` passes, then, by `mode`:
    - "drop_request": closes the client's connection without sending that request on (BigQuery never sees it);
    - "drop_answer": sends it on, waits for the emulator's answer (it has run the request), and closes the client's
      connection instead of passing the answer back: the client sees the connection drop;
    - "stall": sends it on and from then on passes nothing back to anyone, accepting new connections and ignoring
      them: the client waits until its own timeouts.
    Only the first triggering request is faulted (except "stall", which stalls everything after it)."""

    def __init__(self, upstream: str, trigger: bytes, mode: str):
        import threading

        self.upstream = upstream.removeprefix("http://").split(":")
        self.trigger, self.mode = trigger, mode
        self.fired = threading.Event()
        self.stalled = threading.Event()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.endpoint = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.stalled.is_set():
                self._held.append(client)  # accepted, never answered
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        import threading

        upstream = socket.create_connection((self.upstream[0], int(self.upstream[1])))
        dropped = threading.Event()

        def back() -> None:  # emulator -> client
            while True:
                try:
                    data = upstream.recv(65536)
                except OSError:
                    return
                if not data or self.stalled.is_set():
                    return
                if dropped.is_set():  # the answer to the faulted request: arrived, and not passed on
                    _hang_up(client, upstream)
                    return
                try:
                    client.sendall(data)
                except OSError:
                    return

        threading.Thread(target=back, daemon=True).start()
        tail = b""
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                _hang_up(upstream)
                return
            seen, tail = tail + data, (tail + data)[-len(self.trigger):]
            if not self.fired.is_set() and self.trigger in seen:
                self.fired.set()
                if self.mode == "drop_request":
                    _hang_up(client, upstream)
                    return
                if self.mode == "drop_answer":
                    dropped.set()
                else:
                    self.stalled.set()
                    self._held.append(client)
            upstream.sendall(data)

    def close(self) -> None:
        _hang_up(self._server, *self._held)


def _hang_up(*sockets: socket.socket) -> None:
    """shutdown, then close: a bare close leaves the connection open while another thread waits in recv on it."""
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
