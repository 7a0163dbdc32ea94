"""The embedded warehouse: one DuckDB file, written only through write–audit–publish.

A step's rows go to a staging table first (`staging.<schema>__<table>__<run>`); its rules are evaluated on the
staged rows; then one transaction replaces, in the phase's schema, only the dates that passed every blocking
check, copies the failed dates' rows to `quarantine.<schema>__<table>` (published rows of those dates stay as
they were), appends one row per date to `pipeline.publish_log` (run, code version, outcome, check verdicts) and
drops the staging table. A crash anywhere leaves either the old published rows or the new ones, never a mix.

The publish record lives with the data, so anyone — and the gate — can tell which run published a date.
Readers never touch this file: after each publish the table is exported to a Parquet read copy, one file per
calendar month of game dates (`<read_copy_dir>/<schema>/<table>/YYYY-MM.parquet`; the quarantine likewise under
`quarantine/<schema>__<table>/`, the publish log under `pipeline/publish_log/`), each replaced atomically, which a
notebook, BI tool or the `duckdb` CLI reads with a glob (`…/<table>/*.parquet`) and can hold open for as long as it
likes. A publish rewrites only the months whose publish records changed since their file was written (each file
carries the count of its month's records and the table's columns in its Parquet metadata), so a day's publish
writes a month per table whatever the history, and a copy a killed export left behind is caught up by the next
publish. `read_copy_source` is the one place that knows this layout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from pydantic import Field

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.warehouse import PARTITION_COLUMN
from nba_pipeline.warehouse.base import (
    META,
    NOT_PUBLISHED,
    PUBLISHED,
    QUARANTINED,
    STAGING_COLUMNS,
    ColumnTypeChanged,
    Log,
    FIRST_PUBLISH,
    PROMOTION_COLUMNS,
    MissingTableError,
    TableRef,
    UnpromotedCodeRefused,
    Warehouse,
    PUBLISH_LOG_COLUMNS,
    WarehouseBusy,
    WarehouseError,
    WarehouseUnreachable,
    publish_log_frame,
    changed_types,
    dated,
    column_type_message,
    legacy_first_seen,
    run_prefix,
    staging_names,
    to_frame,
    unpromoted_message,
)

_LOCK_HOLDER = re.compile(r"PID (\d+)")
HOUSEKEEPING_LOCK_SECONDS = 2.0  # how long a sweep (`nba-pipeline recover`) waits for a step holding the file
_META_DDL = f"""
create schema if not exists {META};
create table if not exists {META}.publish_log (
    asset varchar, game_date date, run_id varchar, code_version varchar, outcome varchar,
    rows bigint, failed_checks varchar, checks varchar, recorded_at timestamp
);
create table if not exists {META}.code_versions (
    asset varchar, code_version varchar, first_seen_at timestamp, first_run_id varchar
);
create table if not exists {META}.promotions (
    asset varchar, code_version varchar, previous_version varchar, promoted_at timestamp, promoted_by varchar,
    note varchar
);
"""


_SESSIONS = threading.local()  # per thread: database path -> the connection of the session in progress
_HELD = threading.local()  # per thread: database path -> (step, connection) a kept session left for its step


class DuckDBWarehouse(Warehouse):
    """The DuckDB warehouse file, its publish records and its Parquet read copy."""

    database: str = Field(description="Path of the DuckDB file (created with its folder if absent).")
    read_copy_dir: str | None = Field(
        None, description="Where readers find Parquet copies of published tables; default: `published/` beside the file."
    )
    lock_timeout_seconds: float = Field(
        300, description="How long a step waits for another process holding the file before failing (logged while waiting)."
    )

    # -- connections -------------------------------------------------------------------------------------------
    @contextmanager
    def session(self, log: Log = None, *, step: str | None = None, keep: bool = False) -> Iterator[None]:
        """Every `connect` inside shares one connection, closed when the session ends: a step's stage, audit read
        and publish, or an input's publish records and rows, open the file once instead of once each (~40 ms an
        open on a four-season file: the catalog is read, and a close checkpoints).

        With `keep`, a session that ends without error leaves its connection to the next session of the same
        `step` in this thread: a step's inputs and then its body (`tables.published_table`, which does not keep
        it) share one. Only within one step, which holds the warehouse pool slot: a session of any other step, or
        of none, closes a connection left by another step first, so none is ever kept from one step to the next."""
        if _SESSIONS.__dict__.get(self.database) is not None:
            yield
            return
        held_step, conn = _HELD.__dict__.pop(self.database, (None, None))
        if conn is not None and (step is None or held_step != step):
            conn.close()  # left by a step that did not reach its body (it failed): not this step's to reuse
            conn = None
        if conn is None:
            conn = self._connect_new(log)
        _SESSIONS.__dict__[self.database] = conn
        kept = False
        try:
            yield
            kept = keep and step is not None
        finally:
            _SESSIONS.__dict__.pop(self.database, None)
            if kept:
                _HELD.__dict__[self.database] = (step, conn)
            else:
                conn.close()

    @contextmanager
    def connect(self, log: Log = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection (the session's, inside `session`)."""
        current = _SESSIONS.__dict__.get(self.database)
        if current is not None:
            yield current
            return
        with self._open(log) as conn:
            yield conn

    @contextmanager
    def _open(self, log: Log = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A new read-write connection, closed at the end."""
        conn = self._connect_new(log)
        try:
            yield conn
        finally:
            conn.close()

    def _connect_new(self, log: Log = None) -> duckdb.DuckDBPyConnection:
        """A new read-write connection; waits (and says who holds the lock) while another process has the file."""
        path = Path(self.database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WarehouseError(f"cannot create the warehouse folder {path.parent}: {err}") from None
        log = log or logging.getLogger(__name__)
        started, delay = time.monotonic(), 0.2
        while True:
            try:
                conn = duckdb.connect(str(path))
                break
            except duckdb.IOException as err:
                message = str(err)
                if "lock" not in message.lower():
                    raise WarehouseError(f"cannot open the warehouse {path} read-write: {message}") from None
                waited = time.monotonic() - started
                holder = _holder(message)
                if waited >= self.lock_timeout_seconds:
                    raise WarehouseBusy(
                        f"the warehouse {path} is locked by {holder} for {waited:.0f} s (limit {self.lock_timeout_seconds:.0f} s). "
                        "Readers should read the Parquet read copy, not the DuckDB file; stop that process and re-run."
                    ) from None
                log.warning(f"waiting for the warehouse lock on {path}: held by {holder}; waited {waited:.0f} s so far")
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        try:
            conn.execute(_META_DDL)
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def read_copy_root(self) -> Path:
        return Path(self.read_copy_dir) if self.read_copy_dir else Path(self.database).parent / "published"

    def read_copy_source(self, schema: str, table: str) -> str | None:
        """What DuckDB's `read_parquet(...)` takes to read the read copy of `schema.table` (a quoted path, or a
        list of them), or None when it has never been published: every reader of the read copy goes through it,
        so the copy's layout is this class's alone. A partitioned table: the glob of its month files
        (`'<root>/<schema>/<table>/*.parquet'`); the promotions, and a table last exported by a version before the
        partitioned copy: its one file (`'<root>/<schema>/<table>.parquet'`)."""
        folder = self.read_copy_root / schema / table
        if any(folder.glob("*.parquet")):
            return _quoted(folder / "*.parquet")
        single = self.read_copy_root / schema / f"{table}.parquet"
        return _quoted(single) if single.exists() else None

    # -- write, audit, publish -----------------------------------------------------------------------------------
    def stage(self, ref: TableRef, frame: pd.DataFrame, run_id: str, log: Log = None) -> str:
        """Write the step's rows to a staging table (durable; nothing a reader or the gate sees)."""
        staging = f"staging.{ref.flat}__{run_prefix(run_id)}"
        frame = dated(frame)
        with self.connect(log) as conn:
            try:
                conn.execute("create schema if not exists staging")
                conn.register("_step_rows", frame)
                conn.execute(f"create or replace table {staging} as select * from _step_rows")
            except duckdb.Error as err:
                raise WarehouseError(f"DuckDB could not stage the rows of {ref.name}: {err}; {NOT_PUBLISHED}") from None
            finally:
                conn.unregister("_step_rows")
        return staging

    def read_staged(self, staging: str, log: Log = None) -> pd.DataFrame:
        with self.connect(log) as conn:
            return to_frame(conn.sql(f"select * from {staging}").to_arrow_table())

    def publish(
        self,
        ref: TableRef,
        staging: str,
        outcomes: pd.DataFrame,
        *,
        asset: str,
        run_id: str,
        code_version: str,
        log: Log = None,
    ) -> None:
        """In one transaction: replace the passed dates, quarantine the failed ones, record every date.

        `outcomes`: one row per date of the step — game_date, passed, rows, failed_checks, checks (a summary).
        Refuses (and writes nothing) unless `code_version` is the promoted version of `asset`."""
        log = log or logging.getLogger(__name__)
        record = outcomes.assign(
            asset=asset,
            run_id=run_id,
            code_version=code_version,
            outcome=outcomes["passed"].map({True: PUBLISHED, False: QUARANTINED}),
            game_date=to_datetime(outcomes["game_date"]).dt.date,
        )
        with self.connect(log) as conn:
            conn.begin()
            try:
                self._refuse_unpromoted(conn, asset, code_version, run_id)
                conn.register("_outcomes", record)
                conn.execute("create schema if not exists quarantine")
                conn.execute(f"create schema if not exists {ref.schema}")
                conn.execute(f"create table if not exists {ref.name} as select * from {staging} limit 0")
                _reconcile_columns(conn, ref.name, staging)
                quarantine = f"quarantine.{ref.flat}"
                conn.execute(
                    f"create table if not exists {quarantine} as select *, ''::varchar as _run_id, "
                    f"now()::timestamp as _quarantined_at from {staging} limit 0"
                )
                _reconcile_columns(conn, quarantine, staging)
                passed = "(select game_date from _outcomes where passed)"
                failed = "(select game_date from _outcomes where not passed)"
                conn.execute(f"delete from {ref.name} where cast({PARTITION_COLUMN} as date) in {passed}")
                conn.execute(
                    f"insert into {ref.name} by name select * from {staging} where cast({PARTITION_COLUMN} as date) in {passed}"
                )
                conn.execute(
                    f"insert into {quarantine} by name select *, ? as _run_id, now()::timestamp as _quarantined_at "
                    f"from {staging} where cast({PARTITION_COLUMN} as date) in {failed}",
                    [run_id],
                )
                conn.execute(
                    f"insert into {META}.publish_log select asset, game_date, run_id, code_version, outcome, rows, "
                    "failed_checks, checks, now()::timestamp from _outcomes"
                )
                conn.execute(f"drop table {staging}")
                conn.unregister("_outcomes")
            except duckdb.Error as err:
                conn.rollback()
                raise WarehouseError(f"DuckDB could not publish {ref.name}: {err}; {NOT_PUBLISHED} (rolled back)") from None
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            try:
                self._export_read_copy(conn, ref, asset, log)
            except (duckdb.Error, OSError) as err:
                raise WarehouseError(
                    f"{ref.name} is published in {self.database}, but its Parquet read copy under {self.read_copy_root} "
                    f"could not be written: {err}. Readers of the copy see the previous publish until the table's next "
                    "publish catches it up; re-run this step once the cause is fixed."
                ) from None

    def drop_staging(self, staging: str, log: Log = None) -> None:
        with self.connect(log) as conn:
            conn.execute(f"drop table if exists {staging}")

    def _refuse_unpromoted(self, conn, asset: str, code_version: str, run_id: str) -> None:
        """Inside the publish transaction: only the promoted version publishes; a table's very first publish
        promotes its own version (there is nothing another version could lose)."""
        promoted = _current_promotion(conn, asset)
        if promoted is None:
            if conn.execute(f"select count(*) from {META}.publish_log where asset = ?", [asset]).fetchall()[0][0]:
                raise UnpromotedCodeRefused(unpromoted_message(asset, code_version, None))
            _record_promotion(conn, asset, code_version, None, f"{FIRST_PUBLISH} (run {run_id[:8]})", "")
        elif promoted["code_version"] != code_version:
            raise UnpromotedCodeRefused(unpromoted_message(asset, code_version, promoted))

    def staging_tables(self, log: Log = None) -> pd.DataFrame:
        with self.connect(log) as conn:
            names = staging_names(
                r[0] for r in conn.execute(
                    "select table_name from information_schema.tables where table_schema = 'staging'").fetchall()
            )
            if names.empty:
                return pd.DataFrame(columns=STAGING_COLUMNS).astype({"rows": "int64"})
            counts = " union all ".join(f"select '{t}' as t, count(*) as n from staging.{t}" for t in names["table"])
            rows = dict(conn.execute(counts).fetchall())
        return names.assign(rows=names["table"].map(rows).astype("int64"), table="staging." + names["table"])

    def for_housekeeping(self) -> "DuckDBWarehouse | None":
        """The same file, waiting HOUSEKEEPING_LOCK_SECONDS (not `lock_timeout_seconds`) for a step that holds it;
        None if the file does not exist (a sweep does not create it)."""
        if not Path(self.database).exists():
            return None
        return DuckDBWarehouse(
            database=self.database, read_copy_dir=self.read_copy_dir,
            lock_timeout_seconds=min(self.lock_timeout_seconds, HOUSEKEEPING_LOCK_SECONDS),
        )

    # -- promotion ------------------------------------------------------------------------------------------------
    def promotions(self, log: Log = None) -> pd.DataFrame:
        with self.connect(log) as conn:
            return conn.execute(
                f"select {', '.join(PROMOTION_COLUMNS)} from {META}.promotions order by promoted_at"
            ).fetchdf()

    def promote(self, versions, promoted_by: str, note: str = "", log: Log = None) -> pd.DataFrame:
        rows = []
        with self.connect(log) as conn:
            conn.begin()
            try:
                for asset, version in sorted(versions.items()):
                    current = _current_promotion(conn, asset)
                    previous = None if current is None else current["code_version"]
                    if previous != version:
                        _record_promotion(conn, asset, version, previous, promoted_by, note)
                    stale = conn.execute(
                        f"""
                        select count(*) from (
                            select code_version from {META}.publish_log where asset = ? and outcome = '{PUBLISHED}'
                            qualify row_number() over (partition by game_date order by recorded_at desc) = 1
                        ) where code_version != ?
                        """,
                        [asset, version],
                    ).fetchall()[0][0]
                    rows.append((asset, previous, version, previous != version, int(stale)))
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            self._export_meta_copy(conn)
        return pd.DataFrame(rows, columns=["asset", "previous_version", "code_version", "changed", "stale_dates"])

    def _export_meta_copy(self, conn) -> None:
        target = self.read_copy_root / META / "promotions.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        conn.execute(f"copy (select * from {META}.promotions) to '{tmp}' (format parquet)")
        os.replace(tmp, target)

    def _export_read_copy(self, conn, ref: TableRef, asset: str, log: Log) -> None:
        """Bring the month files of the table, its quarantine and the publish log up to date: a month whose file is
        missing, or whose file was written before its latest publish records (or with other columns), is rewritten
        atomically (open readers keep the file they opened); the others are left as they are. A month's version
        is the count of its publish records (append-only): the table's counts its published dates, the
        quarantine's its quarantined ones, the log's every record."""
        versions = conn.execute(
            f"""
            select strftime(cast(game_date as date), '%Y-%m') as month, count(*) as records,
                   count(*) filter (where asset = $asset and outcome = '{PUBLISHED}') as published,
                   count(*) filter (where asset = $asset and outcome = '{QUARANTINED}') as quarantined,
                   bool_or(asset = $asset) as of_asset
            from {META}.publish_log where game_date is not null group by month
            """,
            {"asset": asset},
        ).fetchdf()
        ours = versions[versions["of_asset"]]
        self._export_months(conn, ref.name, self.read_copy_root / ref.schema / ref.table,
                            dict(zip(ours["month"], ours["published"])))
        self._export_months(conn, f"quarantine.{ref.flat}", self.read_copy_root / "quarantine" / ref.flat,
                            dict(zip(ours["month"], ours["quarantined"])))
        self._export_months(conn, f"{META}.publish_log", self.read_copy_root / META / "publish_log",
                            dict(zip(versions["month"], versions["records"])))

    def _export_months(self, conn, table: str, folder: Path, counts: dict[str, int]) -> None:
        """One table's month files: the stale or missing ones written, those of months with no record removed. A
        first partitioned export builds the folder beside it and renames it into place (readers never see it
        half-written), then removes the single-file copy of the layout before."""
        columns = conn.execute(f"select column_name, column_type from (describe {table})").fetchall()
        shape = hashlib.sha256(repr(columns).encode()).hexdigest()[:16]
        wanted = {month: f"{int(count)}:{shape}" for month, count in counts.items()}
        fresh = not folder.exists()
        target = folder.with_name(f".{folder.name}.{os.getpid()}.tmp") if fresh else folder
        for leftover in folder.parent.glob(f".{folder.name}.*.tmp"):  # a killed export's (one writer holds the file)
            shutil.rmtree(leftover, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        for leftover in target.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        have = {} if fresh else _copy_versions(conn, target)
        date = f"cast({PARTITION_COLUMN} as date)"
        for month, version in sorted(wanted.items()):
            if have.get(month) == version:
                continue
            start = pd.Timestamp(f"{month}-01")
            end = start + pd.offsets.MonthBegin(1)
            path = target / f"{month}.parquet"
            tmp = target / f".{path.name}.{os.getpid()}.tmp"
            conn.execute(
                f"copy (select * from {table} where {date} >= date '{start:%Y-%m-%d}' and {date} < date '{end:%Y-%m-%d}') "
                f"to {_quoted(tmp)} (format parquet, kv_metadata {{{_VERSION_KEY}: '{version}'}})"
            )
            os.replace(tmp, path)
        for path in target.glob("*.parquet"):
            if path.stem not in wanted:
                path.unlink(missing_ok=True)
        if fresh:
            os.rename(target, folder)
            (folder.parent / f"{folder.name}.parquet").unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------------------------------
    def read(self, ref: TableRef, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        """Published rows of `dates` (all dates when None)."""
        with self.connect(log) as conn:
            if not _exists(conn, ref):
                raise MissingTableError(f"{ref.name} does not exist yet: materialize {ref.table} first")
            if dates is None:
                return to_frame(conn.sql(f"select * from {ref.name}").to_arrow_table())
            wanted = pd.DataFrame({"game_date": to_datetime(sorted(dates)).date})
            conn.register("_wanted", wanted)
            rows = conn.sql(
                f"select * from {ref.name} where cast({PARTITION_COLUMN} as date) in (select game_date from _wanted)"
            ).to_arrow_table()
            conn.unregister("_wanted")
            return to_frame(rows)

    def unrecorded_dates(self, ref: TableRef, asset: str, log: Log = None) -> list[str]:
        """Dates with rows in the table but no publish record: written by something other than a publish."""
        with self.connect(log) as conn:
            if not _exists(conn, ref):
                return []
            rows = conn.execute(
                f"""
                select distinct strftime(cast({PARTITION_COLUMN} as date), '%Y-%m-%d') as d from {ref.name}
                where cast({PARTITION_COLUMN} as date) not in (
                    select game_date from {META}.publish_log where asset = ? and outcome = '{PUBLISHED}')
                order by d
                """,
                [asset],
            ).fetchall()
        return [r[0] for r in rows]

    def publish_records(self, asset: str, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        """Per date, the latest publish or quarantine record of `asset` (game_date as YYYY-MM-DD)."""
        with self.connect(log) as conn:
            frame = conn.execute(
                f"""
                select strftime(game_date, '%Y-%m-%d') as game_date, run_id, code_version, outcome, rows, recorded_at
                from {META}.publish_log where asset = ?
                qualify row_number() over (partition by game_date order by recorded_at desc) = 1
                """,
                [asset],
            ).fetchdf()
        return frame if dates is None else frame[frame["game_date"].isin(set(dates))].reset_index(drop=True)

    # -- what readers read: the Parquet read copy, never the file a writer may hold ------------------------------
    def where(self) -> str:
        return str(self.database)

    def _reachable(self) -> None:
        if not Path(self.database).exists() and not self.read_copy_root.exists():
            raise WarehouseUnreachable(
                f"no DuckDB warehouse at {self.database} (nor a read copy at {self.read_copy_root}): nothing was "
                f"ever materialized there, or the path is wrong (--warehouse, NBA_PIPELINE_WAREHOUSE)")

    @contextmanager
    def _reading(self, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
        self._reachable()
        try:
            with duckdb.connect() as conn:
                yield conn
        except (duckdb.IOException, OSError) as err:
            raise WarehouseUnreachable(f"cannot read the read copy of {what} under {self.read_copy_root}: "
                                       f"{str(err).splitlines()[0]}") from None

    def publish_log(self, start=None, end=None, *, recorded_after=None, latest=True, log: Log = None) -> pd.DataFrame:
        with self._reading("the publish log") as conn:
            source = self.read_copy_source(META, "publish_log")
            if source is None:
                return publish_log_frame(pd.DataFrame(columns=PUBLISH_LOG_COLUMNS))
            where, params = ["true"], []
            if start is not None:
                where.append("cast(game_date as date) >= cast(? as date)")
                params.append(start)
            if end is not None:
                where.append("cast(game_date as date) <= cast(? as date)")
                params.append(end)
            if recorded_after is not None:
                where.append("recorded_at > cast(? as timestamp)")
                params.append(recorded_after.isoformat())
            newest = ("qualify row_number() over (partition by asset, cast(game_date as date) "
                      "order by recorded_at desc) = 1") if latest else ""
            frame = conn.execute(
                f"select {', '.join(PUBLISH_LOG_COLUMNS)} from read_parquet({source}, union_by_name = true) "
                f"where {' and '.join(where)} {newest}", params,
            ).fetchdf()
        return publish_log_frame(frame)

    def read_published(self, ref: TableRef, start: str, end: str, columns=None, log: Log = None) -> pd.DataFrame:
        with self._reading(ref.name) as conn:
            source = self.read_copy_source(ref.schema, ref.table)
            if source is None:
                return pd.DataFrame(columns=list(columns or []))
            wanted = ", ".join(f'"{c}"' for c in columns) if columns else "*"
            rows = conn.sql(
                f"select {wanted} from read_parquet({source}, union_by_name = true) "
                f"where cast({PARTITION_COLUMN} as date) between cast($start as date) and cast($end as date)",
                params={"start": start, "end": end},
            ).to_arrow_table()
        return to_frame(rows)


def _current_promotion(conn, asset: str) -> dict | None:
    row = conn.execute(
        f"select code_version, promoted_at, promoted_by from {META}.promotions where asset = ? "
        "order by promoted_at desc limit 1",
        [asset],
    ).fetchall()
    return dict(zip(("code_version", "promoted_at", "promoted_by"), row[0])) if row else None


def _record_promotion(conn, asset: str, version: str, previous: str | None, promoted_by: str, note: str) -> None:
    """One promotion row (history), and the legacy `code_versions` row that makes pre-promotion checkouts refuse."""
    so_far = conn.execute(f"select count(*) from {META}.promotions where asset = ?", [asset]).fetchall()[0][0]
    conn.execute(
        f"insert into {META}.promotions values (?, ?, ?, now()::timestamp, ?, ?)", [asset, version, previous, promoted_by, note]
    )
    conn.execute(f"delete from {META}.code_versions where asset = ? and code_version = ?", [asset, version])
    conn.execute(
        f"insert into {META}.code_versions values (?, ?, ?, 'promoted')",
        [asset, version, legacy_first_seen(so_far)],
    )


def _exists(conn, ref: TableRef) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [ref.schema, ref.table]
        ).fetchall()[0][0]
    )


_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")
_TIMESTAMPS = ("TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP", "TIMESTAMP_NS")  # naive, of any precision: the same instants here
# (staged, published) pairs DuckDB casts without changing a value
_WIDENING = (
    {(a, b) for i, a in enumerate(_INTEGERS) for b in _INTEGERS[i + 1:]}
    | {(i, "DOUBLE") for i in _INTEGERS} | {("FLOAT", "DOUBLE")}
    | {(a, b) for a in _TIMESTAMPS for b in _TIMESTAMPS}
)


def _reconcile_columns(conn, target: str, staging: str) -> None:
    """A new code version may add columns (older published rows get NULLs in them); it may not retype one."""
    have = dict(conn.execute(f"select column_name, column_type from (describe {target})").fetchall())
    staged = dict(conn.execute(f"select column_name, column_type from (describe {staging})").fetchall())
    if have.get(PARTITION_COLUMN) in _TIMESTAMPS and staged.get(PARTITION_COLUMN) == "DATE":
        have[PARTITION_COLUMN] = _dates_from_timestamps(conn, target, have[PARTITION_COLUMN])
    changed = changed_types(
        have, staged, _WIDENING,
        lambda column: conn.execute(f'select count("{column}") from {staging}').fetchone()[0] > 0,
    )
    if changed:
        raise ColumnTypeChanged(column_type_message(target, changed))
    for name, kind in staged.items():
        if name not in have:
            conn.execute(f'alter table {target} add column "{name}" {kind}')


def _dates_from_timestamps(conn, target: str, kind: str) -> str:
    """A table published before game_date was staged as a DATE holds it as a midnight TIMESTAMP: retype the column
    once, inside the publish transaction, when every value is a midnight (else leave it: the step is refused by name)."""
    column = PARTITION_COLUMN
    if conn.execute(f"select count(*) from {target} where {column} <> cast({column} as date)").fetchone()[0]:
        return kind
    conn.execute(f"alter table {target} alter column {column} set data type date")
    return "DATE"


_VERSION_KEY = "nba_pipeline_version"  # Parquet key-value metadata of a month file: "<records>:<columns digest>"


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _copy_versions(conn, folder: Path) -> dict[str, str]:
    """Month -> the version its file was written at (from the files' footers); a file that cannot be read has none
    (it is rewritten)."""
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return {}
    try:
        rows = conn.execute(
            "select file_name, value::varchar from parquet_kv_metadata(?) where key::varchar = ?",
            [[str(f) for f in files], _VERSION_KEY],
        ).fetchall()
    except duckdb.Error:
        return {}
    return {Path(name).stem: value for name, value in rows}


def _holder(message: str) -> str:
    match = _LOCK_HOLDER.search(message)
    if not match:
        return "another process"
    pid = match.group(1)
    try:
        command = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().split())
    except OSError:
        command = ""
    return f"PID {pid}" + (f" ({command[:120]})" if command else "")
