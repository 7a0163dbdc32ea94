"""A real local BigQuery emulator (`bqemulator`, from PyPI: DuckDB + SQLGlot behind BigQuery's REST API) as a
server process on a free port, for the tests that run the BigQuery warehouse.

`python -m nba_pipeline_tests.bigquery_emulator start …` is the emulator's own CLI with one change: it loads
DuckDB's spatial extension at start-up (for GEOGRAPHY), which it would download from the internet; no table of
this project has a GEOGRAPHY column, so the load is skipped and the emulator runs offline. And one more: query results
are encoded as REST rows a column at a time (`rows_by_column`), not a cell at a time through the emulator's type
dispatch: the same JSON, measured equal on every type the warehouse stages (test_bigquery_emulator.py), for what was
a fifth of the emulator's CPU in the production game day. And a third: each distinct SQL statement is parsed once
(`parsing_once`), where the emulator parsed it again in each of its rewriters.
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

import pyarrow as pa
import pyarrow.compute as pc
import requests

from nba_pipeline_tests.tiers import heavy

PROJECT = "nba-pipeline-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Endpoint(str):
    """The emulator's REST endpoint (http://127.0.0.1:PORT), with `storage`: its Storage Read API's host:port."""

    storage: str


@heavy("the BigQuery emulator")
@contextmanager
def running_emulator(log_file: Path, startup_timeout: float = 60.0) -> Iterator[Endpoint]:
    """Start the emulator in its own process group, wait until its REST API answers, yield its endpoint; the group
    is killed on exit."""
    rest, grpc = _free_port(), _free_port()
    endpoint = Endpoint(f"http://127.0.0.1:{rest}")
    endpoint.storage = f"127.0.0.1:{grpc}"
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


def _column_cells(column: pa.ChunkedArray, field: pa.Field) -> list | None:
    """A column's REST cells (strings, None for NULL) as the emulator's `_format_bq_value` gives them, for the types
    the warehouse stages; None for any other type or a field carrying RANGE / GEOGRAPHY metadata (the emulator's
    own encoder then)."""
    kind = field.type
    if field.metadata:
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.to_pylist()
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_date(kind):
        return pc.cast(column, pa.string()).to_pylist()  # "12", "true"/"false", "YYYY-MM-DD": str(), as the emulator
    if pa.types.is_floating(kind):
        return [None if v is None else str(v) for v in column.to_pylist()]  # Python's repr of the float, as the emulator
    if pa.types.is_timestamp(kind) and kind.tz is not None:  # TIMESTAMP: microseconds since the epoch
        micros = pc.cast(column.cast(pa.timestamp("us", tz=kind.tz), safe=False), pa.int64())
        return pc.cast(micros, pa.string()).to_pylist()
    if pa.types.is_timestamp(kind):  # DATETIME: ISO 8601 with a T, the fraction only when there is one
        return [None if v is None else v.isoformat() for v in column.to_pylist()]
    return None


def rows_by_column(table: pa.Table, offset: int = 0, limit: int | None = None) -> list[dict]:
    """bqemulator's `arrow_table_to_bq_rows`, a column at a time: `{"f": [{"v": cell}, ...]}` per row."""
    from bqemulator.storage.arrow_bridge import _format_bq_value

    if table.num_rows == 0 or table.num_columns == 0:
        return []
    if limit is not None:
        table = table.slice(offset, limit)
    elif offset > 0:
        table = table.slice(offset)
    columns = []
    for field, column in zip(table.schema, table.columns):
        cells = _column_cells(column, field)
        if cells is None:
            cells = [_format_bq_value(v, field.type, field=field) for v in column.to_pylist()]
        columns.append(cells)
    return [{"f": [{"v": cell} for cell in row]} for row in zip(*columns)]


def parsing_once(parse_one, size: int = 4096):
    """`sqlglot.parse_one`, each distinct statement parsed once: a copy of the tree parsed before (the emulator
    parses one statement a dozen times, in each of its rewriters and checks: half its CPU). A copy, so a caller
    that changes its tree changes no other's; errors are raised anew on every call (not kept); the oldest trees
    are forgotten past `size`."""
    parsed: dict = {}

    def parse_once(sql, read=None, dialect=None, into=None, **opts):
        if opts or not isinstance(sql, str):
            return parse_one(sql, read=read, dialect=dialect, into=into, **opts)
        key = (sql, read, dialect, into)
        try:
            tree = parsed.get(key)
        except TypeError:  # an unhashable dialect object: parsed every time
            return parse_one(sql, read=read, dialect=dialect, into=into)
        if tree is None:
            tree = parse_one(sql, read=read, dialect=dialect, into=into)  # an error is raised, and nothing kept
            if len(parsed) >= size:
                parsed.pop(next(iter(parsed)), None)  # the oldest (pop: another request thread may have taken it)
            parsed[key] = tree
        return tree.copy()  # the kept tree never leaves

    return parse_once


def main() -> int:
    import sqlglot
    from bqemulator.api.routes import jobs, tabledata
    from bqemulator.cli import main as emulator_main
    from bqemulator.storage import arrow_bridge, engine

    engine.DuckDBEngine._load_spatial = lambda self: None  # offline: GEOGRAPHY is not used by any table here
    for module in (arrow_bridge, jobs, tabledata):  # the routes imported the name: replaced where it is called
        module.arrow_table_to_bq_rows = rows_by_column
    sqlglot.parse_one = parsing_once(sqlglot.parse_one)  # every caller reads it as `sqlglot.parse_one`
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
