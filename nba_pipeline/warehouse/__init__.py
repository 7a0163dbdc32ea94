"""Warehouse IO: where asset partitions are stored (DuckDB locally, BigQuery in production)."""

PARTITION_COLUMN = "game_date"


def stored_in(phase: str) -> dict[str, str]:
    """Asset metadata placing a table in its phase's schema (DuckDB) / dataset (BigQuery), replaced by game date."""
    return {"schema": phase, "partition_expr": PARTITION_COLUMN}
