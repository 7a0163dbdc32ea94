"""Production warehouse: the same write–audit–publish on BigQuery.

One dataset per phase (`raw`, `analytics`, ...), tables partitioned by `game_date`. A step loads its rows into
`staging.<schema>__<table>__<run>`; the audit reads them back; then one multi-statement transaction deletes the
passed dates and inserts them from staging, copies the failed dates to `quarantine.<schema>__<table>`, appends
to `pipeline.publish_log`, and — before any of that — `ASSERT`s that no date was last published by a newer code
version (the transaction aborts and nothing is written). DDL cannot run inside a BigQuery transaction, so
tables are created (empty, typed like the staging table) just before it.

Not exercised against BigQuery in this repository's tests yet (no Google account here): see the README.
"""

from __future__ import annotations

import json
from collections.abc import Collection

import pandas as pd
from pydantic import Field

from nba_pipeline.warehouse import PARTITION_COLUMN
from nba_pipeline.warehouse.base import (
    META,
    PUBLISHED,
    Log,
    MissingTableError,
    OlderCodeRefused,
    TableRef,
    Warehouse,
    to_frame,
)

_PUBLISH_LOG_SCHEMA = (
    "asset STRING, game_date DATE, run_id STRING, code_version STRING, outcome STRING, `rows` INT64, "
    "failed_checks STRING, checks STRING, recorded_at TIMESTAMP"
)


class BigQueryWarehouse(Warehouse):
    project: str = Field(description="GCP project holding one dataset per phase.")
    location: str = Field("US", description="BigQuery location of the datasets.")

    def _client(self):
        from google.cloud import bigquery

        return bigquery.Client(project=self.project, location=self.location)

    def _id(self, dataset: str, table: str) -> str:
        return f"`{self.project}.{dataset}.{table}`"

    def _ensure_dataset(self, client, dataset: str) -> None:
        client.create_dataset(f"{self.project}.{dataset}", exists_ok=True)

    def stage(self, ref: TableRef, frame: pd.DataFrame, run_id: str, log: Log = None) -> str:
        from google.cloud import bigquery

        client = self._client()
        self._ensure_dataset(client, "staging")
        staging = f"{ref.flat}__{run_id.replace('-', '')[:12]}"
        job = client.load_table_from_dataframe(
            frame,
            f"{self.project}.staging.{staging}",
            job_config=bigquery.LoadJobConfig(write_disposition="WRITE_TRUNCATE"),
        )
        job.result()
        return staging

    def read_staged(self, staging: str, log: Log = None) -> pd.DataFrame:
        return to_frame(self._client().query(f"select * from {self._id('staging', staging)}").to_arrow())

    def drop_staging(self, staging: str, log: Log = None) -> None:
        self._client().delete_table(f"{self.project}.staging.{staging}", not_found_ok=True)

    def publish(self, ref, staging, outcomes, *, asset, run_id, code_version, run_created_at, log: Log = None) -> None:
        from google.cloud import bigquery

        client = self._client()
        for dataset in (ref.schema, "quarantine", META):
            self._ensure_dataset(client, dataset)
        target, quarantine = self._id(ref.schema, ref.table), self._id("quarantine", ref.flat)
        source = self._id("staging", staging)
        log_table, versions = self._id(META, "publish_log"), self._id(META, "code_versions")
        client.query(
            f"""
            create table if not exists {target} partition by date({PARTITION_COLUMN}) as select * from {source} limit 0;
            create table if not exists {quarantine} as
                select *, '' as _run_id, current_timestamp() as _quarantined_at from {source} limit 0;
            create table if not exists {log_table} ({_PUBLISH_LOG_SCHEMA});
            create table if not exists {versions} (asset STRING, code_version STRING, first_seen_at TIMESTAMP, first_run_id STRING);
            """
        ).result()
        passed = [d.date() for d in pd.to_datetime(outcomes.loc[outcomes["passed"], "game_date"])]
        failed = [d.date() for d in pd.to_datetime(outcomes.loc[~outcomes["passed"], "game_date"])]
        records = [
            {"game_date": f"{pd.Timestamp(r.game_date):%Y-%m-%d}", "outcome": "published" if r.passed else "quarantined",
             "rows": int(r.rows), "failed_checks": r.failed_checks, "checks": r.checks}
            for r in outcomes.itertuples()
        ]
        script = f"""
        begin transaction;
        merge {versions} v using (select @asset as asset, @version as code_version, @created as created, @run as run) n
          on v.asset = n.asset and v.code_version = n.code_version
          when matched and v.first_seen_at > n.created then update set first_seen_at = n.created, first_run_id = n.run
          when not matched then insert values (n.asset, n.code_version, n.created, n.run);
        assert not exists (
          select 1 from (
            select code_version from {log_table}
            where asset = @asset and outcome = '{PUBLISHED}' and game_date in unnest(@all_dates)
            qualify row_number() over (partition by game_date order by recorded_at desc) = 1
          ) l join {versions} v on v.asset = @asset and v.code_version = l.code_version
          where v.first_seen_at > (select first_seen_at from {versions} where asset = @asset and code_version = @version)
        ) as 'OLDER_CODE: dates of this asset were published by a newer code version';
        delete from {target} where date({PARTITION_COLUMN}) in unnest(@passed);
        insert into {target} select * from {source} where date({PARTITION_COLUMN}) in unnest(@passed);
        insert into {quarantine} select *, @run, current_timestamp() from {source}
          where date({PARTITION_COLUMN}) in unnest(@failed);
        insert into {log_table}
          select @asset, date(json_value(r, '$.game_date')), @run, @version, json_value(r, '$.outcome'),
                 cast(json_value(r, '$.rows') as int64), json_value(r, '$.failed_checks'), json_value(r, '$.checks'),
                 current_timestamp()
          from unnest(json_query_array(@records)) r;
        commit transaction;
        """
        params = [
            bigquery.ScalarQueryParameter("asset", "STRING", asset),
            bigquery.ScalarQueryParameter("version", "STRING", code_version),
            bigquery.ScalarQueryParameter("run", "STRING", run_id),
            bigquery.ScalarQueryParameter("created", "TIMESTAMP", pd.Timestamp(run_created_at).to_pydatetime()),
            bigquery.ArrayQueryParameter("all_dates", "DATE", passed + failed),
            bigquery.ArrayQueryParameter("passed", "DATE", passed),
            bigquery.ArrayQueryParameter("failed", "DATE", failed),
            bigquery.ScalarQueryParameter("records", "STRING", json.dumps(records)),
        ]
        try:
            client.query(script, job_config=bigquery.QueryJobConfig(query_parameters=params)).result()
        except Exception as err:  # the ASSERT's message comes back inside a BadRequest
            if "OLDER_CODE" in str(err):
                raise OlderCodeRefused(
                    f"refusing to publish {asset} with code version {code_version}: dates of it were published by a "
                    "newer code version. Old code never overwrites new: re-run with the current code."
                ) from None
            raise
        self.drop_staging(staging, log)

    def read(self, ref: TableRef, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        query, params = f"select * from {self._id(ref.schema, ref.table)}", []
        if dates is not None:
            query += f" where date({PARTITION_COLUMN}) in unnest(@dates)"
            params = [bigquery.ArrayQueryParameter("dates", "DATE", [pd.Timestamp(d).date() for d in dates])]
        try:
            rows = self._client().query(query, job_config=bigquery.QueryJobConfig(query_parameters=params)).to_arrow()
        except NotFound:
            raise MissingTableError(f"{ref.name} does not exist yet: materialize {ref.table} first") from None
        return to_frame(rows)

    def publish_records(self, asset: str, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        query = f"""
            select format_date('%Y-%m-%d', game_date) as game_date, run_id, code_version, outcome, `rows`, recorded_at
            from {self._id(META, 'publish_log')} where asset = @asset
            qualify row_number() over (partition by game_date order by recorded_at desc) = 1
        """
        config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("asset", "STRING", asset)])
        try:
            frame = self._client().query(query, job_config=config).to_dataframe()
        except NotFound:
            frame = pd.DataFrame(columns=["game_date", "run_id", "code_version", "outcome", "rows", "recorded_at"])
        return frame if dates is None else frame[frame["game_date"].isin(set(dates))].reset_index(drop=True)

    def unrecorded_dates(self, ref: TableRef, asset: str, log: Log = None) -> list[str]:
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        query = f"""
            select distinct format_date('%Y-%m-%d', date({PARTITION_COLUMN})) as d from {self._id(ref.schema, ref.table)}
            where date({PARTITION_COLUMN}) not in (
              select game_date from {self._id(META, 'publish_log')} where asset = @asset and outcome = '{PUBLISHED}')
            order by d
        """
        config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("asset", "STRING", asset)])
        try:
            return [r.d for r in self._client().query(query, job_config=config).result()]
        except NotFound:
            return []
