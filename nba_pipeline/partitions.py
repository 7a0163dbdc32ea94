"""The one partitions definition: a game date in US/Eastern. Every asset and check imports it from here."""

import dagster as dg

FIRST_GAME_DATE = "2021-10-19"  # opening night of 2021-22
GAME_TIMEZONE = "America/New_York"

game_date_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_GAME_DATE,
    timezone=GAME_TIMEZONE,
)
