"""The default source: the package's deterministic league simulator, with optional fault injection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import yaml
from pydantic import Field

from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults
from nba_pipeline.sources.base import NbaSource


class SimulatedLeagueSource(NbaSource):
    seed: int = Field(2021, description="Same seed, same league, same games.")
    faults: SimulatorFaults = Field(default_factory=SimulatorFaults)
    faults_file: str | None = Field(
        None,
        description="YAML of SimulatorFaults read at every fetch (overrides `faults`): switch a fault on or off "
        "for a running deployment, as a real feed breaks and gets fixed, without reloading code.",
    )
    as_of: str | None = Field(
        None, description="Eastern wall-clock time the feeds are read at (ISO); default now. Games final after it are absent."
    )

    def current_faults(self) -> SimulatorFaults:
        if not self.faults_file or not Path(self.faults_file).exists():
            return self.faults
        return SimulatorFaults.model_validate(yaml.safe_load(Path(self.faults_file).read_text()) or {})

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        as_of = dt.datetime.fromisoformat(self.as_of) if self.as_of else None
        return LeagueSimulator(seed=self.seed, faults=self.current_faults(), as_of=as_of).fetch(feed, start, end)
