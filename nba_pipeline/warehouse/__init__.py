"""Warehouse IO: where asset partitions are stored (DuckDB locally, BigQuery in production)."""

PARTITION_COLUMN = "game_date"
# Every step that reads or writes the warehouse claims a slot of this pool; dagster.yaml limits it to one, so two
# overlapping backfills never write a partition at the same time (and DuckDB's single writer is respected).
WAREHOUSE_POOL = "warehouse"


def stored_in(phase: str) -> dict[str, str]:
    """Asset metadata placing a table in its phase's schema (DuckDB) / dataset (BigQuery), replaced by game date."""
    return {"schema": phase, "partition_expr": PARTITION_COLUMN}
