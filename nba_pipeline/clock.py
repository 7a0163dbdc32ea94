"""The time the day's schedules and sensors act on: the real clock, or one a test (or a replay) controls."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from pydantic import Field

from nba_pipeline.dates import EASTERN


class GameClock(dg.ConfigurableResource):
    frozen_at: str | None = Field(
        None, description="ISO time the clock shows (Eastern when it has no zone); default: the real time."
    )

    def now(self) -> dt.datetime:
        """An aware datetime."""
        if self.frozen_at is None:
            return dt.datetime.now(dt.timezone.utc)
        moment = dt.datetime.fromisoformat(self.frozen_at)
        return moment if moment.tzinfo else moment.replace(tzinfo=EASTERN)
