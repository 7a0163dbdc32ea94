"""What operators read from the warehouse, through the `Warehouse` interface only (DuckDB: its Parquet read copy,
never the file a writer holds; BigQuery: the publish log and phase datasets, the date filter in the query), so
status, validation, alerts and freshness say the same of the same data on either."""

from __future__ import annotations

import os

import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.warehouse.base import TableRef, Warehouse

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
PLAYER_GAME_SUMMARY = TableRef("analytics", "player_game_summary")


def warehouse_path(explicit: str | None = None) -> str:
    """The DuckDB warehouse the local deployment writes: --warehouse, else NBA_PIPELINE_WAREHOUSE, else the default
    (`resources.DEFAULT_WAREHOUSE`, repeated here so the operating tools do not import the cloud clients; a test
    checks it)."""
    return explicit or os.environ.get("NBA_PIPELINE_WAREHOUSE", DEFAULT_WAREHOUSE)


def as_warehouse(warehouse: Warehouse | str | os.PathLike) -> Warehouse:
    """`warehouse` itself, or the local DuckDB warehouse at a path."""
    if isinstance(warehouse, Warehouse):
        return warehouse
    from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse

    return DuckDBWarehouse(database=str(warehouse))


def reader_for(explicit_path: str | None = None) -> Warehouse:
    """The warehouse of this environment (NBA_PIPELINE_ENV), ready to read: locally the DuckDB file
    (`warehouse_path`), in production BigQuery as the environment names it (`GCP_PROJECT`, …). A missing variable
    is a ValueError naming it."""
    import dagster as dg

    from nba_pipeline.resources import warehouse_for

    deployment = os.environ.get("NBA_PIPELINE_ENV", "local")
    if deployment == "local":
        from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(database=warehouse_path(explicit_path))
    try:
        return warehouse_for(deployment).process_config_and_initialize()
    except dg.DagsterError as err:
        raise ValueError(f"cannot set up the {deployment} warehouse: {' '.join(str(err).split())}") from None


def usage_rate_by_season(warehouse: Warehouse, start: str, end: str) -> pd.DataFrame:
    """Per season: players who played, how many have a usage_rate, the share, and the worst date's share (the
    population of the `usage_rate_populated` check, over the published rows themselves)."""
    columns = ["season", "dates", "players_played", "usage_populated", "populated_pct", "min_date_pct"]
    rows = warehouse.read_published(PLAYER_GAME_SUMMARY, start, end, columns=["game_date", "played", "usage_rate"])
    rows = rows[rows["played"].fillna(False).astype(bool)] if not rows.empty else rows
    if rows.empty:
        return pd.DataFrame(columns=columns)
    day = to_datetime(rows["game_date"]).dt.normalize()
    per_date = pd.DataFrame({"game_date": day, "populated": rows["usage_rate"].notna()}).groupby("game_date").agg(
        played=("populated", "size"), populated=("populated", "sum")).reset_index()
    per_date["season"] = season_labels(per_date["game_date"]).fillna("off-season")
    per_date["pct"] = 100.0 * per_date["populated"] / per_date["played"]
    out = per_date.groupby("season").agg(
        dates=("game_date", "size"), players_played=("played", "sum"), usage_populated=("populated", "sum"),
        min_date_pct=("pct", "min"),
    ).reset_index()
    out["populated_pct"] = (100.0 * out["usage_populated"] / out["players_played"]).round(2)
    out["min_date_pct"] = out["min_date_pct"].round(2)
    out[["dates", "players_played", "usage_populated"]] = out[["dates", "players_played", "usage_populated"]].astype(int)
    return out[columns]
