"""Warehouse IO: where asset partitions are stored (DuckDB locally, BigQuery in production)."""

PARTITION_COLUMN = "game_date"
# Every step that reads or writes the warehouse claims a slot of this pool; dagster.yaml limits it to one, so two
# overlapping backfills never write a partition at the same time (and DuckDB's single writer is respected).
WAREHOUSE_POOL = "warehouse"
# An op tag of the steps whose body ends the warehouse session their inputs began (`tables.published_table`): their
# inputs' loads and their write-audit-publish share one connection (`Warehouse.session(keep=...)`).
STEP_SESSION_TAG = "nba_pipeline/warehouse_session"


def step_session_key(run_id: str, op_name: str) -> str:
    return f"{run_id}/{op_name}"


def stored_in(phase: str) -> dict[str, str]:
    """Asset metadata placing a table in its phase's schema (DuckDB) / dataset (BigQuery), replaced by game date."""
    return {"schema": phase, "partition_expr": PARTITION_COLUMN}
