"""One source per feed kind: `FeedRouter` serves each raw feed from the source bound to it (`resources.feed_sources`)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from nba_pipeline.sources.base import NbaSource


class FeedRouter(NbaSource):
    """Each field is the source of that feed; a feed's failure (missing credentials, a vendor down) fails only the
    asset that fetches it."""

    schedule: NbaSource
    player_boxscores: NbaSource
    team_boxscores: NbaSource
    shot_zones: NbaSource
    injury_report: NbaSource
    prop_lines: NbaSource
    referee_assignments: NbaSource

    def source_of(self, feed: str) -> NbaSource:
        if feed not in type(self).model_fields:
            raise ValueError(f"unknown feed {feed!r}")
        return getattr(self, feed)

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        return self.source_of(feed).fetch(feed, start, end)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        pass  # each nested source sets itself up
