"""The source contract: a feed for an inclusive range of Eastern game dates, in the raw table's schema."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod

import dagster as dg
import pandas as pd

from nba_pipeline import schemas


class FeedNotAvailable(RuntimeError):
    """The bound source does not provide this feed."""


class NbaSource(dg.ConfigurableResource, ABC):
    """Every implementation returns frames with the columns of `schemas.RAW_SCHEMAS[feed]`; `fetch_conformed` casts
    them, naming the cells it cannot read in the `unreadable` column (`schemas.conform_raw`)."""

    @abstractmethod
    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame: ...

    def fetch_conformed(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        if end < start:
            raise ValueError(f"empty date range {start}..{end}")
        return schemas.conform_raw(self.fetch(feed, start, end), feed)


class MissingCredentials(RuntimeError):
    """A feed's source has no credentials: the message names the environment variable to set."""
