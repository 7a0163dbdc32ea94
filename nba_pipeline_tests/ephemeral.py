"""Dagster's ephemeral instance in the tests, with its in-memory event log's connection kept.

`dg.materialize` without an instance (and `DagsterInstance.ephemeral()`) keeps the event log in an in-memory SQLite
database and opens a new connection for every read and write, running two PRAGMAs on each (`NullPool`): in the
in-process tests that was ~5 % of their CPU (34,012 connections in `test_materialize.py` and `test_gating.py`). The
tests keep one connection per instance and thread instead. The statements and transactions are Dagster's own, under
Dagster's own lock; only the connection is reused (`test_ephemeral.py` compares the events stored both ways).
Dagster's private API (`dagster._core.storage.event_log.in_memory`): the class has no public hook for its pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.storage.event_log.in_memory import InMemoryEventLogStorage

_STOCK_CONNECT = InMemoryEventLogStorage._connect


@contextmanager
def _kept_connect(self: Any) -> Iterator[Any]:
    with self._db_lock:
        local = self.__dict__.setdefault("_kept_connections", threading.local())
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = self._engine.connect()
            with conn.begin():  # what the stock _connect runs on each new connection, once per connection here
                conn.execute(db.text("PRAGMA journal_mode=WAL;")).close()
                conn.execute(db.text("PRAGMA foreign_keys=ON;")).close()
            local.conn = conn
        with conn.begin():
            yield conn


def keep_connections(keep: bool = True) -> None:
    """Install (or, with keep=False, remove) the kept connection for every ephemeral instance of this process."""
    InMemoryEventLogStorage._connect = _kept_connect if keep else _STOCK_CONNECT
