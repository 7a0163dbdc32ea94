"""The one partitions definition: a game date in US/Eastern. Every asset and check imports it from here."""

import dagster as dg

from nba_pipeline.game_date import FIRST_GAME_DATE, GAME_TIMEZONE  # noqa: F401  (re-exported: imported from here)

# end_offset=1: today's game date is a partition from its first minute (ET), so its slate is predicted before
# tip-off; by default the last partition would be yesterday.
game_date_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_GAME_DATE,
    timezone=GAME_TIMEZONE,
    end_offset=1,
)

# A regular season spans under 180 days, so a window of "the last N games this season" never reaches further back.
SEASON_LOOKBACK_DAYS = 200
season_history = dg.TimeWindowPartitionMapping(
    start_offset=-SEASON_LOOKBACK_DAYS, allow_nonexistent_upstream_partitions=True
)
"""Maps a game date to itself and the 200 days before it: the history its game-count windows read.

Declared on the input, so re-materializing an upstream date makes every later date that may read it stale."""
season_history_before = dg.TimeWindowPartitionMapping(
    start_offset=-SEASON_LOOKBACK_DAYS, end_offset=-1, allow_nonexistent_upstream_partitions=True
)
"""Maps a game date to the 200 days before it, the date itself excluded: the history a pre-game row reads.

A prediction for date D is made before D's games tip off, so nothing computed for D may read D's box scores."""
