"""The game-date constants, without Dagster: `nba_pipeline.dates` (and so `nba-pipeline`'s argument checks) needs them
before any run starts, and importing Dagster for two strings cost the CLI ~1.5 s before it could launch the run."""

FIRST_GAME_DATE = "2021-10-19"  # opening night of 2021-22
GAME_TIMEZONE = "America/New_York"
