"""nba_pipeline: NBA player-props data platform as daily-partitioned Dagster assets."""
