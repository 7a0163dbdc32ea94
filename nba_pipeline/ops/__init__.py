"""Operating the platform: what is published and why not (status, its text, JSON and HTML), range validation,
alerts, freshness and crash recovery. Everything here reads the warehouse through the `Warehouse` interface (the
same on DuckDB and BigQuery) and the Dagster instance; nothing here defines a table."""
