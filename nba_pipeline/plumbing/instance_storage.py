"""The event-log storages the shipped yamls configure: `TunedSqliteEventLogStorage` (`dagster_home/dagster.yaml`:
Dagster's SQLite storage, one kept connection per shard file, batches stored as one) and `TunedPostgresEventLogStorage`
(`deploy/production/dagster.yaml`: Dagster's PostgreSQL storage, one kept connection per process, batches stored in
one transaction; built on first use, since dagster-postgres is a production dependency).

Why this module touches `dagster._core` (the second module allowed to, next to `nba_pipeline/plumbing/dagster_private.py`):
event-log storages are configured in dagster.yaml as a class to load, and Dagster has no public base class for one;
the only way to change how the SQLite storage connects is to subclass `SqliteEventLogStorage` and override its
private `_connect`. Everything else (schema, queries, shard layout: `history/runs/index.db` and one
`history/runs/<run_id>.db` per run) is Dagster's, unchanged, so an existing DAGSTER_HOME keeps working and the stock
class can open what this one wrote (and the other way round).

What changes, and why (dagster-io/dagster issue-style numbers are in docs/performance.md): the stock `_connect` creates a
new engine with `NullPool` for every statement and disposes it, so each stored event pays a connect, a commit with a
full fsync (`synchronous=FULL`, SQLite's default) and a close that checkpoints the WAL — ~11 ms per event here, and a
range run stores ~75 events per date. This class keeps one engine per shard file per process and sets
`PRAGMA synchronous=NORMAL` on its connections (the files are in WAL mode: Dagster sets `journal_mode=WAL` when it
creates each shard, and the mode is persistent in the file).

Durability: in WAL mode `synchronous=NORMAL` never corrupts a database and survives a killed process (kill -9, OOM):
a committed transaction is in the WAL file, which the next connection replays. Only on power loss or an OS crash may
the last transactions before it be lost (they were committed but not yet fsynced). The stock setting also survives
those.

Safety:
- threads: every use goes through the storage's `_db_lock` (as in the stock class), so a connection is used by one
  thread at a time; it is opened with `check_same_thread=False` because the thread may differ between uses.
- fork: the engines are per process id; a child forked with open engines drops (never closes) the parent's and opens
  its own.
- many shards (the webserver and the daemon read many runs): at most `max_open_shards` run shards are kept open, least
  recently used first out (closed when evicted); the index shard is always kept.
- shard set-up: a shard already stamped with an alembic revision is not handed to Dagster's `_initdb` (which would
  load the migration scripts to decide to do nothing).
- schema questions: Dagster asks `has_table` per stored check evaluation / asset event, each time through a new
  engine; a table found present is remembered (tables are only ever added, by `dagster instance migrate`).
- `dispose()` closes every kept connection (the instance's `dispose`, e.g. at the end of a CLI run).
- batches: Dagster hands a storage a batch of events (`store_event_batch`) when the process has
  `DAGSTER_EVENT_BATCH_SIZE` > 0 and the events were emitted as one batch: a range run's materialization-planned
  events, its per-partition materializations, and (`nba_pipeline.plumbing.dagster_private.log_check_evaluations`) its
  per-date check evaluations. Dagster's SQLite storage stores a batch one event at a time; this class stores it
  with one multi-row insert per shard and one index transaction (as Dagster's PostgreSQL storage does for
  materializations), writing exactly the rows `store_event` writes. Every batch is atomic: a process killed mid-batch
  leaves none of it (the dates it covered read *planned*, so they stay blocked). Since Dagster reads the batch size
  from the process environment, constructing this storage sets `DAGSTER_EVENT_BATCH_SIZE` (config
  `event_batch_size`, default 1000) unless the environment already sets it.
- live run logs: the stock watcher (the UI's run log stream) is told of new events when `<run>.db` changes, which the
  stock class causes by checkpointing on every close; with a kept connection new events sit in `<run>.db-wal` until a
  checkpoint, so the watcher here also listens to `<run>.db-wal`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from dagster import DagsterEventType, DagsterInvariantViolationError, EventLogEntry, Field, IntSource, StringSource
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData

__all__ = ["TunedSqliteEventLogStorage", "TunedPostgresEventLogStorage", "default_event_log_dir", "MAX_OPEN_SHARDS"]

MAX_OPEN_SHARDS = 16
SYNCHRONOUS = "NORMAL"
EVENT_BATCH_SIZE = 1000
BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"
# what store_event_batch writes itself; a batch holding anything else (run status events, ...) goes to Dagster's loop
_BATCHED_TYPES = {
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_OBSERVATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
}
_EVALUATION_KEY = ("asset_key", "check_name", "run_id", "partition")

# Engines inherited from a parent process through fork: the child must neither use nor close a parent's SQLite
# connection (closing runs a checkpoint and may unlink the parent's WAL), so they are kept referenced here, never
# garbage-collected, and never touched again.
_INHERITED_ENGINES: list[Engine] = []


def default_event_log_dir(dagster_home: str) -> str:
    """Where Dagster's default `storage` puts the event log shards of a DAGSTER_HOME (`<home>/history/runs`)."""
    return os.path.join(dagster_home, "history", "runs")


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    finally:
        cursor.close()


class TunedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event-log storage with one kept connection per shard file and `synchronous=NORMAL`.

    Config (dagster.yaml `event_log_storage`): `base_dir` (optional; default `<DAGSTER_HOME>/history/runs`, where the
    default storage keeps it, resolved from the instance's root directory, so a copied yaml follows its home),
    `max_open_shards` (optional, default 16) and `event_batch_size` (optional, default 1000; 0 stores every event
    on its own, as the stock class does)."""

    # nba_pipeline.plumbing.dagster_private.log_check_evaluations sends check evaluations as a batch only to a storage that
    # says it stores them as one (Dagster's own storages do not take check evaluations in a batch)
    stores_check_evaluation_batches = True

    def __init__(
        self,
        base_dir: str | None = None,
        inst_data: ConfigurableClassData | None = None,
        max_open_shards: int = MAX_OPEN_SHARDS,
        event_batch_size: int = EVENT_BATCH_SIZE,
    ):
        if max_open_shards < 1:
            raise ValueError(f"max_open_shards must be at least 1, got {max_open_shards}")
        _set_batch_size(event_batch_size)
        self._max_open_shards = max_open_shards
        self._pending_inst_data = inst_data
        self._inst_data = inst_data
        self._db_lock = threading.Lock()
        self._initialized_dbs: set[str] = set()
        self._obs = None
        self._tables_present: set = set()  # table names, (table, column) pairs
        self._watchers: defaultdict = defaultdict(dict)
        self._base_dir = None  # set by _init_storage, now or when the instance registers (base_dir from its home)
        self._pid = os.getpid()
        self._index_engine: Engine | None = None
        self._run_engines: OrderedDict[str, Engine] = OrderedDict()
        if base_dir is not None:
            self._init_storage(base_dir)
        else:
            super(SqliteEventLogStorage, self).__init__()  # the instance weakref, until register_instance

    def _init_storage(self, base_dir: str) -> None:
        SqliteEventLogStorage.__init__(self, base_dir, inst_data=self._pending_inst_data)

    def register_instance(self, instance: Any) -> None:
        if self._base_dir is None:
            self._init_storage(default_event_log_dir(instance.root_directory))
        super().register_instance(instance)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "base_dir": Field(StringSource, is_required=False),
            "max_open_shards": Field(IntSource, is_required=False, default_value=MAX_OPEN_SHARDS),
            "event_batch_size": Field(IntSource, is_required=False, default_value=EVENT_BATCH_SIZE),
        }

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> TunedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    # --- connections -------------------------------------------------------------------------------------------

    def _check_pid(self) -> None:
        pid = os.getpid()
        if pid == self._pid:
            return
        # A forked child: only the forking thread exists here, so a lock some other parent thread held is reset.
        self._db_lock = threading.Lock()
        _INHERITED_ENGINES.extend([e for e in [self._index_engine, *self._run_engines.values()] if e is not None])
        self._index_engine = None
        self._run_engines = OrderedDict()
        self._pid = pid

    def _new_engine(self, shard: str) -> Engine:
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            poolclass=QueuePool,
            # One kept connection; _initdb's schema inspection may check out a second while the first is held.
            pool_size=1,
            max_overflow=2,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _set_pragmas)
        return engine

    def _engine_for(self, shard: str) -> Engine:
        """The kept engine of `shard` (called with `_db_lock` held)."""
        if shard == INDEX_SHARD_NAME:
            if self._index_engine is None:
                self._index_engine = self._new_engine(shard)
            return self._index_engine
        engine = self._run_engines.get(shard)
        if engine is not None:
            self._run_engines.move_to_end(shard)
            return engine
        engine = self._run_engines[shard] = self._new_engine(shard)
        while len(self._run_engines) > self._max_open_shards:
            _, evicted = self._run_engines.popitem(last=False)
            evicted.dispose()  # not in use: every use holds _db_lock, which this thread holds
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if self._base_dir is None:
            raise RuntimeError("TunedSqliteEventLogStorage has no base_dir: configure one or register an instance")
        self._check_pid()
        with self._db_lock:
            engine = self._engine_for(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        # Dagster's _initdb loads alembic's migration scripts (~0.3 s per shard per process) to find out whether the
        # shard is new; it only acts when the shard has no stamped alembic revision (it never migrates). A stamped
        # shard is therefore skipped with one cheap query; anything else goes to Dagster's code unchanged.
        try:
            with engine.connect() as conn:
                stamped = conn.exec_driver_sql("SELECT version_num FROM alembic_version LIMIT 1").first()
        except db.exc.OperationalError:  # no such table: a new or pre-alembic shard
            stamped = None
        if stamped is None:
            super()._initdb(engine, for_index_shard=for_index_shard)

    def has_table(self, table_name: str) -> bool:
        # Dagster asks this on every stored check evaluation and asset event (schema feature flags), each time with a
        # new engine and a schema reflection (~4 ms); a table, once there, stays (migrations only add them), so a
        # present table is remembered. Asked inside index transactions too, so it must not take _db_lock.
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present.add(table_name)
        return present

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        # asked on every stored asset event, each time reflecting the asset_keys table (~1 ms); a column, once there,
        # stays (migrations only add them), as with tables above
        if ("asset_keys", column_name) in self._tables_present:
            return True
        present = super()._has_asset_key_col_on_connection(conn, column_name)
        if present:
            self._tables_present.add(("asset_keys", column_name))
        return present

    def open_shards(self) -> list[str]:
        """Shards with a kept engine in this process, index first, then run shards least recently used first."""
        return ([INDEX_SHARD_NAME] if self._index_engine is not None else []) + list(self._run_engines)

    def _close_all(self) -> None:
        with self._db_lock:
            for engine in [self._index_engine, *self._run_engines.values()]:
                if engine is not None:
                    engine.dispose()
            self._index_engine = None
            self._run_engines = OrderedDict()

    def dispose(self) -> None:
        if self._base_dir is not None:
            self._check_pid()
            self._close_all()
        super().dispose()

    def wipe(self) -> None:
        self._close_all()  # the run shard files are deleted: no connection may keep them open
        super().wipe()

    # --- batches ------------------------------------------------------------------------------------------------

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """The rows `store_event` writes for each event, written as one insert per shard and one index transaction."""
        events = list(events)
        if not _batchable(events):
            super().store_event_batch(events)
            return
        rows = [self._event_to_row(e) for e in events]
        run_id = events[0].run_id
        with self.run_connection(run_id) as conn:
            stored = _insert_events(conn, rows)
        try:
            self._store_index_rows(events, rows)
        except BaseException:
            # The two shards are two files, so not one transaction: when the index part fails, the run shard's rows are
            # taken back, so that Dagster's fallback (storing the batch again event by event) writes each event once.
            with self.run_connection(run_id) as conn:
                conn.execute(SqlEventLogStorageTable.delete().where(SqlEventLogStorageTable.c.id.in_(stored)))
            raise

    def _store_index_rows(self, events: list[EventLogEntry], rows: list[dict]) -> None:
        mirrored = [i for i, e in enumerate(events) if e.dagster_event_type in ASSET_EVENTS | ASSET_CHECK_EVENTS]
        if not mirrored:
            return
        with self.index_transaction() as conn:
            ids = dict(zip(mirrored, _insert_events(conn, [rows[i] for i in mirrored])))
            _store_index_rows(self, conn, events, rows, ids)

    # --- live run logs -----------------------------------------------------------------------------------------

    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        from watchdog.observers import Observer

        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        watchdog = _WalAwareWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))


class _WalAwareWatchdog(SqliteEventLogStorageWatchdog):
    """The stock watcher of one run's shard, also woken by writes to the shard's WAL file."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._paths = {self._log_path, self._log_path + "-wal"}
        self._patterns = sorted(self._paths)

    def on_modified(self, event: Any) -> None:
        if event.src_path in self._paths:
            self._process_log()


def _set_batch_size(event_batch_size: int) -> None:
    """Dagster reads the batch size from the process environment at every event: a storage that stores batches as
    one sets it from its config, unless the environment already does."""
    if event_batch_size < 0:
        raise ValueError(f"event_batch_size must be 0 or more, got {event_batch_size}")
    os.environ.setdefault(BATCH_ENV, str(event_batch_size))


def _insert_events(conn: Connection, rows: list[dict]) -> list[int]:
    """One multi-row insert of event rows; their storage ids, in the rows' order."""
    result = conn.execute(
        SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True), rows
    )
    return [int(r[0]) for r in result.fetchall()]


def _batchable(events: Sequence[EventLogEntry]) -> bool:
    """One run's asset and check events only: what the batch stores write themselves (an empty batch is not)."""
    return bool(events) and (len({e.run_id for e in events}) == 1 and all(e.is_dagster_event for e in events)
            and {e.dagster_event_type for e in events} <= _BATCHED_TYPES)


def _store_index_rows(storage: Any, conn: Connection, events: list[EventLogEntry], rows: list[dict], ids: dict[int, int]) -> None:
    """Everything but the event rows themselves that `store_event` writes for a batch's events whose index ids are
    `ids` (position in `events` -> storage id): asset event tags, the asset key table, the check executions."""
    assets = [i for i in ids if events[i].dagster_event_type in ASSET_EVENTS]
    if assets:
        storage._store_asset_event_tags(conn, [events[i] for i in assets], [ids[i] for i in assets])
        # the asset key table keeps the last event of each kind per asset (as Dagster's PostgreSQL batch does)
        last: dict[tuple, int] = {}
        for i in assets:
            last[(events[i].dagster_event.asset_key, events[i].dagster_event_type)] = i
        for i in sorted(last.values()):
            storage._store_asset_event(conn, events[i], ids[i])
    _store_check_rows(conn, events, rows, ids)


def _store_check_rows(conn: Connection, events: list[EventLogEntry], rows: list[dict], ids: dict[int, int]) -> None:
    """The asset_check_executions rows of a batch's check events: one per planned (check, partition), and each
    evaluation updating the row its run planned (or inserted, when nothing was planned), as store_event does."""
    planned, evaluated = [], []
    for i, event in enumerate(events):
        if i not in ids:
            continue
        data = event.dagster_event.event_specific_data
        if event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            keys = data.partitions_subset.get_partition_keys() if data.partitions_subset else [None]
            planned += [
                dict(asset_key=data.asset_key.to_string(), check_name=data.check_name, partition=key,
                     run_id=event.run_id, execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                     evaluation_event=rows[i]["event"], evaluation_event_timestamp=rows[i]["timestamp"],
                     evaluation_event_storage_id=ids[i])
                for key in keys
            ]
        elif event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            target = data.target_materialization_data
            evaluated.append(dict(
                asset_key=data.asset_key.to_string(), check_name=data.check_name, run_id=event.run_id,
                partition=data.partition,
                execution_status=(AssetCheckExecutionRecordStatus.SUCCEEDED.value if data.passed
                                  else AssetCheckExecutionRecordStatus.FAILED.value),
                evaluation_event=rows[i]["event"], evaluation_event_timestamp=rows[i]["timestamp"],
                evaluation_event_storage_id=ids[i],
                materialization_event_storage_id=target.storage_id if target else None,
            ))
    if planned:
        conn.execute(AssetCheckExecutionsTable.insert(), planned)
    if not evaluated:
        return
    table = AssetCheckExecutionsTable
    # How many rows each evaluation's (asset, check, run, partition) has, in one query rather than one UPDATE's
    # rowcount per evaluation (a range run's batch holds a thousand): the updates change no key column, so the
    # counts hold through them. Then the same outcome as store_event's, row by row: more than one row is an error
    # (nothing of the batch is written: one transaction), one is updated, none is inserted.
    key = [getattr(table.c, k) for k in _EVALUATION_KEY]
    present = db.select(*key, db.func.count()).where(
        table.c.run_id.in_(sorted({row["run_id"] for row in evaluated})),
        table.c.asset_key.in_(sorted({row["asset_key"] for row in evaluated})),
        table.c.check_name.in_(sorted({row["check_name"] for row in evaluated})),
    ).group_by(*key)
    counts = {tuple(found[:-1]): found[-1] for found in conn.execute(present)}
    where = [getattr(table.c, k) == db.bindparam(f"k_{k}") for k in _EVALUATION_KEY if k != "partition"]
    values = {k: db.bindparam(f"v_{k}") for k in evaluated[0] if k not in _EVALUATION_KEY[:3]}
    updates: dict[bool, list[dict]] = {True: [], False: []}  # by whether the row has a partition
    missing = []
    for row in evaluated:
        rows_now = counts.get(tuple(row[k] for k in _EVALUATION_KEY), 0)
        if rows_now > 1:
            raise DagsterInvariantViolationError(
                f"Updated {rows_now} rows for asset check evaluation {row['asset_key']} {row['check_name']} "
                "as a result of duplicate AssetCheckPlanned events."
            )
        if rows_now == 0:
            missing.append(row)  # no planned row (as store_event: 0 is not normally expected)
            continue
        params = {f"k_{k}": row[k] for k in _EVALUATION_KEY} | {f"v_{k}": v for k, v in row.items() if k in values}
        updates[row["partition"] is not None].append(params)
    if updates[True]:  # in the batch's order: a (check, partition) evaluated twice keeps the last, as row by row
        conn.execute(table.update().where(*where, table.c.partition == db.bindparam("k_partition")).values(**values), updates[True])
    if updates[False]:
        conn.execute(table.update().where(*where, table.c.partition.is_(None)).values(**values), updates[False])
    if missing:
        conn.execute(table.insert(), missing)


def _postgres_base() -> type:
    from dagster_postgres.event_log.event_log import PostgresEventLogStorage  # the `production` extra

    return PostgresEventLogStorage


def __getattr__(name: str) -> Any:
    # dagster-postgres is a production dependency: the class is built when first asked for (dagster.yaml names it)
    if name == "TunedPostgresEventLogStorage":
        cls = _tuned_postgres_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


def _tuned_postgres_class() -> type:
    from dagster_postgres.utils import create_pg_engine, pg_config, pg_url_from_config
    from dagster_postgres.utils import get_token_provider_from_config  # type: ignore[attr-defined]

    base = _postgres_base()

    class TunedPostgresEventLogStorage(base):  # type: ignore[misc, valid-type]
        """Dagster's PostgreSQL event-log storage with one kept connection per process (as Dagster itself keeps one for
        the webserver, `optimize_for_webserver`) instead of a new connection per statement, and a range run's
        batches (planned events, materializations, per-date check evaluations) stored in one transaction each.
        Config: Dagster's postgres event-log config, plus `event_batch_size` (default 1000; 0: event by event)."""

        stores_check_evaluation_batches = True

        def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data: Any = None,
                     token_provider: Any = None, event_batch_size: int = EVENT_BATCH_SIZE):
            _set_batch_size(event_batch_size)
            self._pooled_pid: int | None = None  # before Dagster's __init__, which already connects
            super().__init__(postgres_url, should_autocreate_tables, inst_data=inst_data, token_provider=token_provider)

        @classmethod
        def config_type(cls) -> Any:
            config = dict(pg_config())
            config["event_batch_size"] = Field(IntSource, is_required=False, default_value=EVENT_BATCH_SIZE)
            return config

        @classmethod
        def from_config_value(cls, inst_data: Any, config_value: Any) -> Any:
            return cls(
                inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
                should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                token_provider=get_token_provider_from_config(config_value),
                event_batch_size=config_value.get("event_batch_size", EVENT_BATCH_SIZE),
            )

        def _connect(self) -> Any:
            pid = os.getpid()
            if self._pooled_pid != pid:
                # one kept connection per process; a forked child leaves its parent's alone and opens its own
                if self._pooled_pid is not None:
                    self._engine.dispose(close=False)
                self._engine = create_pg_engine(
                    self.postgres_url, self._token_provider, isolation_level="AUTOCOMMIT", pool_size=1,
                    max_overflow=8, pool_recycle=3600, pool_pre_ping=True,
                )
                self._pooled_pid = pid
            return super()._connect()

        def optimize_for_webserver(self, statement_timeout: int, pool_recycle: int, max_overflow: int) -> None:
            super().optimize_for_webserver(statement_timeout, pool_recycle, max_overflow)
            self._pooled_pid = os.getpid()  # the webserver's own pooled engine, with its statement timeout

        def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
            events = list(events)
            if not _batchable(events):
                super().store_event_batch(events)
                return
            rows = [self._event_to_row(e) for e in events]
            with self.index_transaction() as conn:  # one database: the whole batch is one transaction
                ids = dict(enumerate(_insert_events(conn, rows)))
                mirrored = {i: ids[i] for i, e in enumerate(events) if e.dagster_event_type in ASSET_EVENTS | ASSET_CHECK_EVENTS}
                _store_index_rows(self, conn, events, rows, mirrored)

    TunedPostgresEventLogStorage.__module__ = __name__
    TunedPostgresEventLogStorage.__qualname__ = "TunedPostgresEventLogStorage"
    return TunedPostgresEventLogStorage
