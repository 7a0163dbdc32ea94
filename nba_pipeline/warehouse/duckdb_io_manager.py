"""DuckDB IO manager whose partition writes are atomic and whose reads keep nullable types.

Dagster's stock DuckDB pandas IO manager deletes a partition window and inserts the new rows as two separate
statements, skips empty frames (so an off-day first write creates no table) and inserts by column position.
Here the delete and insert share one transaction, empty frames still create the typed table, inserts match
columns by name, and a missing table is a clear error rather than an empty frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import (
    DuckDbClient,
    DuckDBIOManager,
    _get_cleanup_statement,
)

_NULLABLE_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


class MissingTableError(RuntimeError):
    """An input was requested from a table that no materialization has created yet."""


def _table_exists(connection, table_slice: TableSlice) -> bool:
    return bool(
        connection.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [table_slice.schema, table_slice.table],
        ).fetchall()[0][0]
    )


class TransactionalDuckDbClient(DuckDbClient):
    @staticmethod
    @contextmanager
    def connect(context, table_slice) -> Iterator:
        Path(context.resource_config["database"]).parent.mkdir(parents=True, exist_ok=True)
        with DuckDbClient.connect(context, table_slice) as conn:
            conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        if _table_exists(connection, table_slice):
            connection.execute(_get_cleanup_statement(table_slice)).fetchall()

    @staticmethod
    def ensure_schema_exists(context, table_slice: TableSlice, connection) -> None:
        connection.execute(f"create schema if not exists {table_slice.schema}").fetchall()


class NullablePandasTypeHandler(DbTypeHandler[pd.DataFrame]):
    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection):
        name = f"{table_slice.schema}.{table_slice.table}"
        connection.register("_partition_rows", obj)
        connection.execute(f"create table if not exists {name} as select * from _partition_rows limit 0").fetchall()
        connection.execute(f"insert into {name} by name select * from _partition_rows").fetchall()
        connection.unregister("_partition_rows")
        context.add_output_metadata(
            {
                "dagster/partition_row_count" if context.has_partition_key or context.has_asset_partitions else "dagster/row_count": len(obj),
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in obj.dtypes.items()]
                ),
            }
        )

    def load_input(self, context: dg.InputContext, table_slice: TableSlice, connection) -> pd.DataFrame:
        if not _table_exists(connection, table_slice):
            raise MissingTableError(
                f"{table_slice.schema}.{table_slice.table} does not exist yet: materialize {context.asset_key.to_user_string()} first"
            )
        table = connection.sql(DuckDbClient.get_select_statement(table_slice)).to_arrow_table()
        frame = table.to_pandas(types_mapper=_NULLABLE_TYPES.get)
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].astype("datetime64[ns]")
        return frame

    @property
    def supported_types(self) -> Sequence[type]:
        return [pd.DataFrame]


class DuckDBWarehouseIOManager(DuckDBIOManager):
    """DuckDB file warehouse; the schema of a table is its phase (raw, analytics, ...)."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [NullablePandasTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=TransactionalDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=pd.DataFrame,
            io_manager_name="DuckDBWarehouseIOManager",
        )
