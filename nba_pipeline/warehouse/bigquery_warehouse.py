"""Production warehouse: the same write–audit–publish on BigQuery.

One dataset per phase (`raw`, `analytics`, ...), tables partitioned by `game_date`, a DATE. A step's rows are loaded
into `staging.<schema>__<table>__<run>`, created first with a schema taken from the frame's own types (so an off
day's empty frame still makes a typed table, and nullable Int64/boolean/string, dates and naive timestamps come
back as they went in). The audit reads them back. Publishing then: DDL outside any transaction (BigQuery allows
none inside one) creates the phase table, its quarantine and the publish records if absent and adds new columns;
a query reads the asset's promoted code version (another version is refused, nothing written); then ONE
multi-statement transaction (promoting the version if this is the table's first publish) deletes the passed dates and inserts them from staging, copies the failed
dates to `quarantine.<schema>__<table>` and appends one row per date to `pipeline.publish_log`.

Every value in the transaction is an inlined, quoted literal rather than a query parameter: the local emulator the
tests run (`bqemulator`) does not bind parameters inside scripts. The promoted-version refusal is a query before the
transaction rather than an `ASSERT` inside it (no `ASSERT` in the emulator); the one-slot `warehouse` pool keeps a
second writer from publishing in between. `api_endpoint` points the client at an emulator (anonymous
credentials); `storage_endpoint` at its Storage Read API. What the emulator does and does not cover: docs/deployment.md.

A step's inputs and the audit's read-back are table reads: the BigQuery Storage Read API with the dates as a row
restriction (Arrow streams, no query job; billed as a storage read), as on Google. Against an emulator without
`storage_endpoint` they are queries answered over REST as JSON (the Storage Read API is not served there).

Every call has short bounded timeouts of its own (`request_timeout_seconds` a request, `retry_deadline_seconds` of
retries, `job_timeout_seconds` a job), not the Google client's ten minutes of retries. The transaction's script is
sent once under a known job id; if anything fails after it is sent, the job's state and `pipeline.publish_log` for
the run's dates decide what the failure says (committed, not committed, or that BigQuery cannot tell): a lost answer
never reads "rolled back" unless BigQuery confirms it.
"""

from __future__ import annotations

import io
import logging
import os
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from nba_pipeline.config.environment import seconds_from_environment
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
    PublishOutcomeUnknown,
    TableRef,
    UnpromotedCodeRefused,
    PUBLISH_LOG_COLUMNS,
    Warehouse,
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

READ_JOB_SECONDS = 120.0  # what a reader (status, validation, alerts) waits at most for its query job
READ_RETRY_SECONDS = 15.0  # how long a reader retries a BigQuery it cannot reach (NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS)

_PUBLISH_LOG_SCHEMA = (
    "asset STRING, game_date DATE, run_id STRING, code_version STRING, outcome STRING, `rows` INT64, "
    "failed_checks STRING, checks STRING, recorded_at DATETIME"
)
_CODE_VERSIONS_SCHEMA = "asset STRING, code_version STRING, first_seen_at DATETIME, first_run_id STRING"
_PROMOTIONS_SCHEMA = (
    "asset STRING, code_version STRING, previous_version STRING, promoted_at DATETIME, promoted_by STRING, note STRING"
)


def bigquery_type(kind: pa.DataType) -> tuple[str, str]:
    """(BigQuery type, mode) for an Arrow type, as google-cloud-bigquery's own dataframe upload maps them: naive
    timestamps are DATETIME, zoned ones TIMESTAMP; a column of nothing but nulls is STRING."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        inner, _ = bigquery_type(kind.value_type)
        return inner, "REPEATED"
    if pa.types.is_boolean(kind):
        return "BOOL", "NULLABLE"
    if pa.types.is_integer(kind):
        return "INT64", "NULLABLE"
    if pa.types.is_floating(kind):
        return "FLOAT64", "NULLABLE"
    if pa.types.is_decimal(kind):
        return "NUMERIC", "NULLABLE"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return "STRING", "NULLABLE"
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "BYTES", "NULLABLE"
    if pa.types.is_date(kind):
        return "DATE", "NULLABLE"
    if pa.types.is_timestamp(kind):
        return ("TIMESTAMP" if kind.tz else "DATETIME"), "NULLABLE"
    if pa.types.is_time(kind):
        return "TIME", "NULLABLE"
    raise WarehouseError(f"no BigQuery type for the Arrow type {kind}: convert that column before staging it")


def arrow_rows(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow, timestamps in microseconds (BigQuery's precision) and null-only columns as strings."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            fields.append(pa.field(f.name, pa.timestamp("us", tz=f.type.tz)))
        elif pa.types.is_null(f.type):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    return table.cast(pa.schema(fields), safe=False)


def literal(value: Any) -> str:
    """A GoogleSQL literal: inlined into scripts, which the emulator cannot bind parameters in."""
    if value is None:
        return "NULL"
    if isinstance(value, pd.Timestamp):
        stamp = value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value
        return f"DATETIME '{stamp:%Y-%m-%d %H:%M:%S.%f}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{text}'"


def date_literals(dates: Collection[Any]) -> str:
    """`DATE '…', …` of `dates`."""
    return ", ".join(f"DATE '{pd.Timestamp(d):%Y-%m-%d}'" for d in dates)


def date_list(dates: Collection[Any]) -> str:
    """`[DATE '…', …]` (typed even when empty) of `dates`."""
    return f"ARRAY<DATE>[{date_literals(dates)}]"


class BigQueryWarehouse(Warehouse):
    """BigQuery datasets per phase, their publish records, staging and quarantine."""

    project: str = Field(description="GCP project holding one dataset per phase.")
    location: str = Field("US", description="BigQuery location of the datasets.")
    api_endpoint: str | None = Field(
        None, description="REST endpoint of a BigQuery emulator (http://host:port); None: Google's, with its credentials."
    )
    storage_endpoint: str | None = Field(
        None, description="host:port of a BigQuery emulator's Storage Read API (gRPC, no TLS); None with `api_endpoint` "
        "set: table reads are queries over REST instead."
    )
    dataset_prefix: str = Field("", description="Prefix of every dataset name (several environments in one project).")
    request_timeout_seconds: float = Field(
        30, description="How long one request to BigQuery may take (the Google client's default: none of its own)."
    )
    retry_deadline_seconds: float = Field(
        60, description="How long a request that failed transiently (connection lost, 429, 5xx) is retried in all "
        "(the Google client's default: 600 s)."
    )
    job_timeout_seconds: float = Field(
        900, description="How long to wait for one query or load job to finish (a backfill's publish is one job)."
    )
    read_retry_seconds: float = Field(
        READ_RETRY_SECONDS, gt=0, description="How long a reader (status, validation, alerts) retries a BigQuery it cannot reach before "
        "reporting it unreachable."
    )

    # -- client -------------------------------------------------------------------------------------------------
    def _client(self):
        from google.cloud import bigquery

        if not self.api_endpoint:
            return bigquery.Client(project=self.project, location=self.location)
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=self.project, location=self.location, credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.api_endpoint),
        )

    @contextmanager
    def _explained(self, doing: str, after: str = "") -> Iterator[None]:
        """Google's errors as a WarehouseError saying what was being done, why it failed and what to do; `after`
        says what the failure leaves behind."""
        from google.api_core import exceptions as api
        from google.auth import exceptions as auth
        import requests

        where = f"project {self.project}" + (f" at {self.api_endpoint}" if self.api_endpoint else "")
        tail = f"; {after}" if after else ""
        try:
            yield
        except WarehouseError:
            raise
        except auth.GoogleAuthError as err:
            raise WarehouseUnreachable(
                f"cannot {doing}: no usable Google credentials ({err}). Set GOOGLE_APPLICATION_CREDENTIALS to a "
                f"service-account key file or run `gcloud auth application-default login`{tail}"
            ) from None
        except (api.Forbidden, api.Unauthorized) as err:
            raise WarehouseError(
                f"BigQuery refused to {doing} in {where}: {_first_line(err.message)}. The credentials need the BigQuery "
                f"Data Editor and BigQuery Job User roles on the project{tail}"
            ) from None
        except (api.TooManyRequests, api.ServerError) as err:
            raise WarehouseError(
                f"BigQuery could not {doing} in {where} for now ({err.code}: {_first_line(err.message)}); re-run the "
                f"step{tail}"
            ) from None
        except api.GoogleAPICallError as err:
            raise WarehouseError(f"BigQuery could not {doing} in {where}: {err.code} {_first_line(err.message)}{tail}") from None
        except (api.RetryError, requests.exceptions.ConnectionError, requests.exceptions.Timeout, TimeoutError) as err:
            raise WarehouseUnreachable(f"cannot reach BigQuery ({where}) to {doing}: {_first_line(str(err))}{tail}") from None

    def _dataset(self, schema: str) -> str:
        return f"{self.dataset_prefix}{schema}"

    def _id(self, schema: str, table: str) -> str:
        return f"`{self.project}.{self._dataset(schema)}.{table}`"

    def _rpc(self) -> dict[str, Any]:
        """retry and timeout of one API call: short and bounded, not the Google client's 600 s of retries."""
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        return {"retry": DEFAULT_RETRY.with_deadline(self.retry_deadline_seconds), "timeout": self.request_timeout_seconds}

    def _insert_timeout(self) -> float:
        # an emulator runs a query inside the request that submits it; BigQuery only queues it
        return max(self.job_timeout_seconds, self.request_timeout_seconds) if self.api_endpoint else self.request_timeout_seconds

    def _query(self, client, sql: str, params: list | None = None):
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=params or [])
        # job_retry=None: a failed job fails the step (re-runnable), instead of the client resubmitting it for 10 min
        job = client.query(sql, job_config=config, job_retry=None, retry=self._rpc()["retry"], timeout=self._insert_timeout())
        return job.result(retry=self._rpc()["retry"], timeout=self.job_timeout_seconds, job_retry=None)

    def _arrow(self, client, sql: str, params: list | None = None) -> pa.Table:
        return self._query(client, sql, params).to_arrow(create_bqstorage_client=not self.api_endpoint)

    @property
    def _storage_reads(self) -> bool:
        """Table reads through the Storage Read API: always on Google, on an emulator that serves it."""
        return not self.api_endpoint or bool(self.storage_endpoint)

    def _read_client(self):
        from google.cloud import bigquery_storage_v1 as storage

        if not self.api_endpoint:
            return storage.BigQueryReadClient()
        import grpc
        from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

        unlimited = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]  # as Google's channel
        channel = grpc.insecure_channel(self.storage_endpoint, options=unlimited)
        return storage.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))

    def _read_table(self, schema: str, table: str, restriction: str | None = None) -> pa.Table:
        """Every column of the table's rows that `restriction` (a filter on its columns) keeps, as one read
        session of one Arrow stream."""
        from google.cloud import bigquery_storage_v1 as storage

        client = self._read_client()
        options = storage.types.ReadSession.TableReadOptions(row_restriction=restriction or "")
        session = client.create_read_session(
            parent=f"projects/{self.project}", max_stream_count=1, **self._rpc(),
            read_session=storage.types.ReadSession(
                table=f"projects/{self.project}/datasets/{self._dataset(schema)}/tables/{table}",
                data_format=storage.types.DataFormat.ARROW, read_options=options,
            ),
        )
        arrow_schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
        batches = [  # no row kept: no stream
            pa.ipc.read_record_batch(pa.py_buffer(answer.arrow_record_batch.serialized_record_batch), arrow_schema)
            for stream in session.streams for answer in client.read_rows(stream.name, timeout=self.job_timeout_seconds)
        ]
        plain = pa.schema([field.remove_metadata() for field in arrow_schema])
        return pa.Table.from_batches(batches, arrow_schema).cast(plain)

    def _ensure_dataset(self, client, schema: str) -> None:
        client.create_dataset(f"{self.project}.{self._dataset(schema)}", exists_ok=True, **self._rpc())

    # -- write, audit, publish ------------------------------------------------------------------------------------
    def stage(self, ref: TableRef, frame: pd.DataFrame, run_id: str, log: Log = None) -> str:
        """A staging table typed like the frame (created even for no rows), then the rows loaded as Parquet."""
        with self._explained(f"stage the rows of {ref.name}", NOT_PUBLISHED):
            return self._stage(ref, frame, run_id)

    def _stage(self, ref: TableRef, frame: pd.DataFrame, run_id: str) -> str:
        from google.cloud import bigquery

        client = self._client()
        self._ensure_dataset(client, "staging")
        staging = f"{ref.flat}__{run_prefix(run_id)}"
        table_id = f"{self.project}.{self._dataset('staging')}.{staging}"
        rows = arrow_rows(dated(frame))
        schema = [bigquery.SchemaField(f.name, *bigquery_type(f.type)) for f in rows.schema]
        client.delete_table(table_id, not_found_ok=True, **self._rpc())
        client.create_table(bigquery.Table(table_id, schema=schema), **self._rpc())
        if rows.num_rows:
            buffer = io.BytesIO()
            pq.write_table(rows, buffer)
            buffer.seek(0)
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.PARQUET, schema=schema, write_disposition="WRITE_TRUNCATE"
            )
            upload = {"retry": self._rpc()["retry"], "timeout": self.job_timeout_seconds}
            client.load_table_from_file(buffer, table_id, job_config=config, timeout=self.job_timeout_seconds).result(**upload)
        return staging

    def read_staged(self, staging: str, log: Log = None) -> pd.DataFrame:
        with self._explained(f"read back the staged rows {staging}", NOT_PUBLISHED):
            if self._storage_reads:
                return to_frame(self._read_table("staging", staging))
            return to_frame(self._arrow(self._client(), f"select * from {self._id('staging', staging)}"))

    def drop_staging(self, staging: str, log: Log = None) -> None:
        with self._explained(f"drop the staging table {staging}"):
            self._client().delete_table(f"{self.project}.{self._dataset('staging')}.{staging}", not_found_ok=True, **self._rpc())

    def staging_tables(self, log: Log = None) -> pd.DataFrame:
        """The tables of the staging dataset; rows from each table's metadata (no query, nothing billed)."""
        from google.api_core.exceptions import NotFound

        with self._explained("list the staging tables"):
            client = self._client()
            try:
                names = staging_names(t.table_id for t in client.list_tables(f"{self.project}.{self._dataset('staging')}", **self._rpc()))
            except NotFound:
                names = staging_names([])
            rows = [client.get_table(f"{self.project}.{self._dataset('staging')}.{t}", **self._rpc()).num_rows or 0 for t in names["table"]]
        return names.assign(rows=pd.Series(rows, index=names.index, dtype="int64"))[STAGING_COLUMNS]

    def _prepare(self, client, ref: TableRef, staging: str) -> None:
        """DDL, which BigQuery runs outside transactions: the tables if absent, new columns added (NULL for the
        rows already there)."""
        for schema in (ref.schema, "quarantine", META):
            self._ensure_dataset(client, schema)
        target, quarantine, source = self._id(ref.schema, ref.table), self._id("quarantine", ref.flat), self._id("staging", staging)
        self._query(client, f"""
            create table if not exists {target} partition by {PARTITION_COLUMN} as select * from {source} limit 0;
            create table if not exists {quarantine} as
                select *, '' as _run_id, datetime(current_timestamp()) as _quarantined_at from {source} limit 0;
            create table if not exists {self._id(META, 'publish_log')} ({_PUBLISH_LOG_SCHEMA});
            create table if not exists {self._id(META, 'code_versions')} ({_CODE_VERSIONS_SCHEMA});
            create table if not exists {self._id(META, 'promotions')} ({_PROMOTIONS_SCHEMA});
        """)
        staged = client.get_table(f"{self.project}.{self._dataset('staging')}.{staging}", **self._rpc()).schema
        for schema, table in ((ref.schema, ref.table), ("quarantine", ref.flat)):
            fields = client.get_table(f"{self.project}.{self._dataset(schema)}.{table}", **self._rpc()).schema
            if _type_name(next(f for f in staged if f.name == PARTITION_COLUMN)) == "DATE":
                fields = self._dates_from_datetimes(client, schema, table, fields, partitioned=schema == ref.schema)
            changed = changed_types(
                {f.name: _type_name(f) for f in fields}, {f.name: _type_name(f) for f in staged}, _WIDENING,
                lambda column: self._arrow(client, f"select count(`{column}`) as n from {source}").column("n")[0].as_py() > 0,
            )
            if changed:
                raise ColumnTypeChanged(column_type_message(f"{schema}.{table}", changed))
            have = {f.name for f in fields}
            new = [f for f in staged if f.name not in have]
            if new:  # DDL, not a schema patch: the emulator applies only DDL to its stored rows
                added = ", ".join(
                    f"add column if not exists `{f.name}` " + (f"ARRAY<{f.field_type}>" if f.mode == "REPEATED" else f.field_type)
                    for f in new
                )
                self._query(client, f"alter table {self._id(schema, table)} {added}")

    def _dates_from_datetimes(self, client, schema: str, table: str, fields, *, partitioned: bool):
        """A table published before game_date was staged as a DATE holds it as a midnight DATETIME: BigQuery cannot
        retype a column in place, so the table is rebuilt once with the column as a DATE (partitioned by it), when
        every value is a midnight (else it is left, and the step is refused by name). The fields it has then."""
        kind = next((_type_name(f) for f in fields if f.name == PARTITION_COLUMN), None)
        if kind not in ("DATETIME", "TIMESTAMP"):
            return fields
        name, column = self._id(schema, table), PARTITION_COLUMN
        off = self._arrow(client, f"select count(*) as n from {name} where {column} != cast(cast({column} as date) as {kind})")
        if off.column("n")[0].as_py():
            return fields
        self._query(client, f"""
            create or replace table {name} {f"partition by {column}" if partitioned else ""} as
            select * replace (cast({column} as date) as {column}) from {name}
        """)
        return client.get_table(f"{self.project}.{self._dataset(schema)}.{table}").schema

    def _ensure_meta(self, client) -> None:
        self._ensure_dataset(client, META)
        self._query(client, f"""
            create table if not exists {self._id(META, 'publish_log')} ({_PUBLISH_LOG_SCHEMA});
            create table if not exists {self._id(META, 'code_versions')} ({_CODE_VERSIONS_SCHEMA});
            create table if not exists {self._id(META, 'promotions')} ({_PROMOTIONS_SCHEMA});
        """)

    def _promotion_state(self, client, asset: str) -> tuple[dict | None, int, int]:
        """The asset's current promotion (None if none), how many promotions it had, how many publish records."""
        a = literal(asset)
        rows = self._arrow(client, f"""
            select p.code_version, p.promoted_at, p.promoted_by,
                   (select count(*) from {self._id(META, 'promotions')} where asset = {a}) as promotions,
                   (select count(*) from {self._id(META, 'publish_log')} where asset = {a}) as records
            from (select 1) left join (
                select code_version, promoted_at, promoted_by from {self._id(META, 'promotions')} where asset = {a}
                order by promoted_at desc limit 1) p on true
        """).to_pylist()[0]
        current = None if rows["code_version"] is None else {k: rows[k] for k in ("code_version", "promoted_at", "promoted_by")}
        return current, int(rows["promotions"]), int(rows["records"])

    def _promotion_sql(self, asset: str, version: str, previous: str | None, promoted_by: str, note: str, so_far: int) -> str:
        """Statements recording one promotion (history) and the legacy `code_versions` row that makes checkouts
        from before promotions refuse by their own rule (`base.legacy_first_seen`)."""
        a, v = literal(asset), literal(version)
        return f"""
            insert into {self._id(META, 'promotions')} (asset, code_version, previous_version, promoted_at, promoted_by, note)
              values ({a}, {v}, {literal(previous)}, datetime(current_timestamp()), {literal(promoted_by)}, {literal(note)});
            delete from {self._id(META, 'code_versions')} where asset = {a} and code_version = {v};
            insert into {self._id(META, 'code_versions')} (asset, code_version, first_seen_at, first_run_id)
              values ({a}, {v}, DATETIME '{legacy_first_seen(so_far):%Y-%m-%d %H:%M:%S}', 'promoted');
        """

    def promotions(self, log: Log = None) -> pd.DataFrame:
        with self._explained("read the promotions"):
            client = self._client()
            self._ensure_meta(client)
            frame = self._arrow(
                client, f"select {', '.join(PROMOTION_COLUMNS)} from {self._id(META, 'promotions')} order by promoted_at"
            ).to_pandas()
        return frame.reindex(columns=PROMOTION_COLUMNS)

    def promote(self, versions, promoted_by: str, note: str = "", log: Log = None) -> pd.DataFrame:
        rows, statements = [], []
        with self._explained("record the promotion"):
            client = self._client()
            self._ensure_meta(client)
            for asset, version in sorted(versions.items()):
                current, so_far, _ = self._promotion_state(client, asset)
                previous = None if current is None else current["code_version"]
                if previous != version:
                    statements.append(self._promotion_sql(asset, version, previous, promoted_by, note, so_far))
                stale = self._arrow(client, f"""
                    select count(*) as n from (
                      select code_version from {self._id(META, 'publish_log')}
                      where asset = {literal(asset)} and outcome = '{PUBLISHED}'
                      qualify row_number() over (partition by game_date order by recorded_at desc) = 1
                    ) where code_version != {literal(version)}
                """).column("n")[0].as_py()
                rows.append((asset, previous, version, previous != version, int(stale)))
            if statements:
                self._query(client, "begin transaction;" + "".join(statements) + "commit transaction;")
        return pd.DataFrame(rows, columns=["asset", "previous_version", "code_version", "changed", "stale_dates"])

    def publish(self, ref, staging, outcomes, *, asset, run_id, code_version, log: Log = None) -> None:
        """Refuse unless `code_version` is the promoted version of `asset`; else one transaction: the passed dates
        replaced, the failed ones quarantined, every date recorded (and the version promoted on a first publish).

        A failure before the transaction's script is sent publishes nothing. A failure once it is sent (a lost
        answer, a timeout, an error) is checked against BigQuery itself: the script's job and `pipeline.publish_log`
        say whether it committed. Committed: the publish stands (logged). Not committed: `WarehouseError` saying so.
        Not verifiable (BigQuery unreachable, the job still running): `PublishOutcomeUnknown`, naming the job and the
        dates to look up. A failed publish's staging table is dropped, except when the job may still read it."""
        log = log or logging.getLogger(__name__)
        days = sorted(to_datetime(outcomes["game_date"]).dt.strftime("%Y-%m-%d"))
        job_id = f"publish_{ref.flat}_{run_prefix(run_id)}_{uuid.uuid4().hex[:8]}"
        try:
            with self._explained(f"publish {ref.name} ({len(outcomes)} date(s))", NOT_PUBLISHED):
                client, script = self._publish_script(ref, staging, outcomes, asset=asset, run_id=run_id, code_version=code_version)
            self._run_publish(client, script, job_id, ref, asset, run_id, days, log)
        except PublishOutcomeUnknown:
            raise
        except WarehouseError:
            self._drop_failed_staging(staging, ref, log)
            raise
        try:
            self.drop_staging(staging, log)
        except WarehouseError as err:  # published and recorded: a left-behind staging table is only clutter
            log.warning(f"{ref.name} is published; {err}")

    def _drop_failed_staging(self, staging: str, ref: TableRef, log) -> None:
        """Best effort, one request without retries (the failure may be that BigQuery cannot be reached)."""
        try:
            with self._explained(f"drop the staging table {staging}"):
                self._client().delete_table(f"{self.project}.{self._dataset('staging')}.{staging}", not_found_ok=True,
                                            retry=None, timeout=self.request_timeout_seconds)
            log.info(f"the publish of {ref.name} failed: its staging table {staging} is dropped")
        except WarehouseError as err:
            log.warning(f"the publish of {ref.name} failed and its staging table stays (`nba-pipeline recover` drops it): {err}")

    def _publish_script(self, ref, staging, outcomes, *, asset, run_id, code_version) -> tuple[Any, str]:
        client = self._client()
        self._prepare(client, ref, staging)
        promoted, so_far, records_before = self._promotion_state(client, asset)
        first = ""
        if promoted is None and records_before:
            raise UnpromotedCodeRefused(unpromoted_message(asset, code_version, None))
        if promoted is None:
            first = self._promotion_sql(asset, code_version, None, f"{FIRST_PUBLISH} (run {run_id[:8]})", "", so_far)
        elif promoted["code_version"] != code_version:
            raise UnpromotedCodeRefused(unpromoted_message(asset, code_version, promoted))
        days = to_datetime(outcomes["game_date"])
        passed, failed = list(days[outcomes["passed"].to_numpy()]), list(days[~outcomes["passed"].to_numpy()])
        records = pd.DataFrame({
            "game_date": days.dt.strftime("%Y-%m-%d"),
            "outcome": outcomes["passed"].map({True: PUBLISHED, False: QUARANTINED}),
            "rows": outcomes["rows"].astype(int),
            "failed_checks": outcomes["failed_checks"].astype(str),
            "checks": outcomes["checks"].astype(str),
        }).to_json(orient="records")
        target, quarantine, source = self._id(ref.schema, ref.table), self._id("quarantine", ref.flat), self._id("staging", staging)
        log_table = self._id(META, "publish_log")
        a, v, r = literal(asset), literal(code_version), literal(run_id)
        staged = client.get_table(f"{self.project}.{self._dataset('staging')}.{staging}", **self._rpc()).schema
        columns = ", ".join(f"`{f.name}`" for f in staged)
        date_of = f"cast({PARTITION_COLUMN} as date)"
        return client, f"""
            begin transaction;{first}
            delete from {target} where {date_of} in unnest({date_list(passed)});
            insert into {target} ({columns}) select {columns} from {source} where {date_of} in unnest({date_list(passed)});
            insert into {quarantine} ({columns}, _run_id, _quarantined_at)
              select {columns}, {r}, datetime(current_timestamp()) from {source} where {date_of} in unnest({date_list(failed)});
            insert into {log_table} (asset, game_date, run_id, code_version, outcome, `rows`, failed_checks, checks, recorded_at)
              select {a}, date(json_value(j, '$.game_date')), {r}, {v}, json_value(j, '$.outcome'),
                     cast(json_value(j, '$.rows') as int64), json_value(j, '$.failed_checks'), json_value(j, '$.checks'),
                     datetime(current_timestamp())
              from unnest(json_query_array({literal(records)})) j;
            commit transaction;
        """

    def _run_publish(self, client, script: str, job_id: str, ref, asset, run_id, days: list[str], log) -> None:
        """The transaction's script as job `job_id`, sent once (a resend could not tell its own commit from
        another's); any failure after sending is verified against BigQuery before anything is said about it."""
        from google.cloud import bigquery

        try:
            job = client.query(script, job_config=bigquery.QueryJobConfig(), job_id=job_id, job_retry=None, retry=None,
                               timeout=self._insert_timeout())
            job.result(retry=self._rpc()["retry"], timeout=self.job_timeout_seconds, job_retry=None)
            return
        except Exception as err:  # noqa: BLE001 - whatever it was, what BigQuery holds decides what is said
            failure = _first_line(getattr(err, "message", None) or str(err) or type(err).__name__)
        what = f"the publish of {ref.name} ({_dates_text(days)}) failed ({failure})"
        try:
            state, error, records = self._publish_outcome(job_id, asset, run_id, days)
        except Exception as err:  # noqa: BLE001 - the check itself could not reach BigQuery
            raise PublishOutcomeUnknown(
                f"{what}, and BigQuery did not answer the check of what it committed either "
                f"({_first_line(getattr(err, 'message', None) or str(err) or type(err).__name__)}): it cannot tell "
                f"whether job {job_id} published anything. It commits all of these dates or none; "
                f"pipeline.publish_log shows run {run_id} on them if it did. Re-running the step is safe (a publish "
                "replaces its dates)."
            ) from None
        mine = {d: outcome for d, (run, outcome) in records.items() if run == run_id}
        recorded = "; ".join(
            f"{kind} by this run: {_dates_text([d for d in days if mine.get(d) == kind])}"
            for kind in (PUBLISHED, QUARANTINED) if any(mine.get(d) == kind for d in days)
        )
        missing = [d for d in days if d not in mine]
        if state == "DONE" and error is None and not missing:
            log.warning(f"{what}, but it committed (verified: job {job_id} is done and pipeline.publish_log records "
                        f"every date of it): {recorded}")
            return
        if state in ("PENDING", "RUNNING"):
            raise PublishOutcomeUnknown(
                f"{what}; its job {job_id} is still running in BigQuery: it will commit all of these dates or none "
                f"(pipeline.publish_log shows run {run_id} on them if it did). Re-running the step is safe (a publish "
                "replaces its dates)."
            )
        why = (f"job {job_id} ended in error: {_first_line(error.get('message', ''))}" if error else
               f"BigQuery has no job {job_id}" if state is None else f"job {job_id} is done")
        if not mine:
            raise WarehouseError(
                f"{what}; {NOT_PUBLISHED} (verified: {why}, and pipeline.publish_log records none of its dates for "
                f"run {run_id})"
            )
        raise WarehouseError(
            f"{what}; {why}. pipeline.publish_log records {recorded}; not by this run: {_dates_text(missing)}. "
            "Re-run the step to publish every date."
        )

    def _publish_outcome(self, job_id: str, asset: str, run_id: str, days: list[str]):
        """(job state or None if BigQuery has no such job, its error or None, date -> (run, outcome) of each
        date's latest publish record), asked with one request's timeout each; a running job is waited for as long."""
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        quick = {"retry": DEFAULT_RETRY.with_deadline(self.request_timeout_seconds), "timeout": self.request_timeout_seconds}
        client = self._client()
        job = None
        for ask in range(2):  # a job BigQuery has just queued can be missing from a first look-up
            try:
                job = client.get_job(job_id, **quick)
                break
            except NotFound:
                if not ask:
                    time.sleep(2)
        if job is not None and job.state != "DONE":
            try:
                job.result(timeout=self.request_timeout_seconds, job_retry=None, **{"retry": quick["retry"]})
            except Exception:  # noqa: BLE001 - its state is read again below
                pass
            job.reload(**quick)
        rows = client.query(
            f"""
            select format_date('%Y-%m-%d', game_date) as game_date, run_id, outcome
            from {self._id(META, 'publish_log')} where asset = {literal(asset)} and game_date in unnest({date_list(days)})
            qualify row_number() over (partition by game_date order by recorded_at desc) = 1
            """,
            job_config=bigquery.QueryJobConfig(), job_retry=None, **quick,
        ).result(job_retry=None, **quick).to_arrow(create_bqstorage_client=False).to_pylist()
        records = {r["game_date"]: (r["run_id"], r["outcome"]) for r in rows}
        return (None, None, records) if job is None else (job.state, job.error_result, records)

    # -- reading --------------------------------------------------------------------------------------------------
    def read(self, ref: TableRef, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        """Published rows of `dates` (all dates when None)."""
        from google.api_core.exceptions import NotFound

        with self._explained(f"read {ref.name}"):
            try:
                if self._storage_reads:
                    restriction = None if dates is None else (  # a row restriction takes no array: an IN list
                        f"{PARTITION_COLUMN} in ({date_literals(sorted(dates))})" if dates else "false")
                    return to_frame(self._read_table(ref.schema, ref.table, restriction))
                query = f"select * from {self._id(ref.schema, ref.table)}"
                if dates is not None:
                    query += f" where cast({PARTITION_COLUMN} as date) in unnest({date_list(sorted(dates))})"
                return to_frame(self._arrow(self._client(), query))
            except NotFound:
                raise MissingTableError(f"{ref.name} does not exist yet: materialize {ref.table} first") from None

    def publish_records(self, asset: str, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        """Per date, the latest publish or quarantine record of `asset` (game_date as YYYY-MM-DD)."""
        from google.api_core.exceptions import NotFound

        query = f"""
            select format_date('%Y-%m-%d', game_date) as game_date, run_id, code_version, outcome, `rows`, recorded_at
            from {self._id(META, 'publish_log')} where asset = {literal(asset)}
            qualify row_number() over (partition by game_date order by recorded_at desc) = 1
        """
        with self._explained(f"read the publish records of {asset}"):
            try:
                frame = self._arrow(self._client(), query).to_pandas()
            except NotFound:
                frame = pd.DataFrame(columns=["game_date", "run_id", "code_version", "outcome", "rows", "recorded_at"])
        return frame if dates is None else frame[frame["game_date"].isin(set(dates))].reset_index(drop=True)

    def unrecorded_dates(self, ref: TableRef, asset: str, log: Log = None) -> list[str]:
        """Dates with rows in the table but no publish record: written by something other than a publish."""
        from google.api_core.exceptions import NotFound

        query = f"""
            select distinct format_date('%Y-%m-%d', cast({PARTITION_COLUMN} as date)) as d from {self._id(ref.schema, ref.table)}
            where cast({PARTITION_COLUMN} as date) not in (
              select game_date from {self._id(META, 'publish_log')} where asset = {literal(asset)} and outcome = '{PUBLISHED}')
            order by d
        """
        with self._explained(f"compare {ref.name} with its publish records"):
            try:
                return self._arrow(self._client(), query).column("d").to_pylist()
            except NotFound:
                return []

    # -- what readers read: the published tables and the publish log, filtered in BigQuery -----------------------
    def where(self) -> str:
        return f"bigquery:{self.project}" + (f" at {self.api_endpoint}" if self.api_endpoint else "") + (
            f" (datasets {self.dataset_prefix}*)" if self.dataset_prefix else "")

    def publish_log(self, start=None, end=None, *, recorded_after=None, latest=True, log: Log = None) -> pd.DataFrame:
        from google.api_core.exceptions import NotFound

        where = ["true"]
        if start is not None:
            where.append(f"game_date >= date {literal(str(start))}")
        if end is not None:
            where.append(f"game_date <= date {literal(str(end))}")
        if recorded_after is not None:
            where.append(f"recorded_at > datetime {literal(recorded_after.replace(tzinfo=None).isoformat(sep=' '))}")
        newest = "qualify row_number() over (partition by asset, game_date order by recorded_at desc) = 1" if latest else ""
        query = (f"select {', '.join(f'`{c}`' for c in PUBLISH_LOG_COLUMNS)} from {self._id(META, 'publish_log')} "
                 f"where {' and '.join(where)} {newest}")
        with self._explained("read the publish log"):
            try:
                frame = self._read(query).to_pandas()
            except NotFound:
                frame = pd.DataFrame(columns=PUBLISH_LOG_COLUMNS)
        return publish_log_frame(frame)

    def _read(self, sql: str) -> pa.Table:
        """A reader's query: a few seconds of retries, not the client's ten minutes, so an unreachable warehouse is
        reported as such while the operator waits."""
        from google.cloud.bigquery.retry import DEFAULT_RETRY

        retry = DEFAULT_RETRY.with_deadline(self.read_retry_seconds)
        job = self._client().query(sql, job_retry=None, retry=retry, timeout=self.read_retry_seconds)
        return job.result(retry=retry, timeout=READ_JOB_SECONDS).to_arrow(create_bqstorage_client=not self.api_endpoint)

    def read_published(self, ref: TableRef, start: str, end: str, columns=None, log: Log = None) -> pd.DataFrame:
        from google.api_core.exceptions import NotFound

        wanted = ", ".join(f"`{c}`" for c in columns) if columns else "*"
        query = (f"select {wanted} from {self._id(ref.schema, ref.table)} "
                 f"where date({PARTITION_COLUMN}) between date {literal(str(start))} and date {literal(str(end))}")
        with self._explained(f"read {ref.name}"):
            try:
                return to_frame(self._read(query))
            except NotFound:
                return pd.DataFrame(columns=list(columns or []))


_CANONICAL = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}  # the API's legacy names, as SQL's
_WIDENING = {("INT64", "FLOAT64")}  # (staged, published) pairs BigQuery inserts without changing a value


def _type_name(field) -> str:
    kind = _CANONICAL.get(field.field_type, field.field_type)
    return f"ARRAY<{kind}>" if field.mode == "REPEATED" else kind


def _dates_text(days: list[str]) -> str:
    """A list of dates for a message: all of them up to six, else the first, the last and how many."""
    if not days:
        return "none"
    if len(days) <= 6:
        return ", ".join(days)
    return f"{len(days)} dates {days[0]}..{days[-1]}"


def _first_line(message: str) -> str:
    """A Google error's first line: the emulator appends the SQL engine's whole trace after it."""
    return (message or "").strip().splitlines()[0] if (message or "").strip() else "no message"


def bigquery_warehouse_from_environment() -> BigQueryWarehouse:
    """Production's binding: project `GCP_PROJECT` (read when a run starts); `BIGQUERY_EMULATOR_HOST` (host:port or
    a URL), if set, points it at an emulator instead of Google, and `BIGQUERY_STORAGE_EMULATOR_HOST` (host:port) at
    the emulator's Storage Read API (unset: its table reads are REST queries); `NBA_PIPELINE_BIGQUERY_DATASET_PREFIX` prefixes the
    datasets (default none: `raw`, `analytics`, …); `NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS` is how long a reader
    retries an unreachable BigQuery (default 15)."""
    emulator = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if emulator and not emulator.startswith(("http://", "https://")):
        emulator = f"http://{emulator}"
    return BigQueryWarehouse(
        project=dg.EnvVar("GCP_PROJECT"), location=os.environ.get("NBA_PIPELINE_BIGQUERY_LOCATION", "US"),
        api_endpoint=emulator or None, storage_endpoint=(os.environ.get("BIGQUERY_STORAGE_EMULATOR_HOST") or None) if emulator else None,
        dataset_prefix=os.environ.get("NBA_PIPELINE_BIGQUERY_DATASET_PREFIX", ""),
        read_retry_seconds=seconds_from_environment("NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS", READ_RETRY_SECONDS),
    )
