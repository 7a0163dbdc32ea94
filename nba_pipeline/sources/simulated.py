"""The default source: the package's deterministic league simulator, with optional fault injection."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pydantic import Field

from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults
from nba_pipeline.sources.base import NbaSource


class SimulatedLeagueSource(NbaSource):
    seed: int = Field(2021, description="Same seed, same league, same games.")
    faults: SimulatorFaults = Field(default_factory=SimulatorFaults)
    as_of: str | None = Field(
        None, description="Eastern wall-clock time the feeds are read at (ISO); default now. Games final after it are absent."
    )

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        as_of = dt.datetime.fromisoformat(self.as_of) if self.as_of else None
        return LeagueSimulator(seed=self.seed, faults=self.faults, as_of=as_of).fetch(feed, start, end)
