"""The default source: the package's deterministic league simulator, with optional fault injection."""

from __future__ import annotations

import datetime as dt
import time
import difflib
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml
from pydantic import Field, ValidationError

from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults
from nba_pipeline.sources.base import NbaSource


class FaultsFileError(ValueError):
    """The fault-injection file is missing, unreadable or names a fault that does not exist."""


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

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.current_faults()  # a missing or misspelled faults file fails the run before any step starts

    def current_faults(self) -> SimulatorFaults:
        """`faults`, or the faults file's if one is set. A file that is set but missing, unreadable, or has a key
        SimulatorFaults does not know is an error: silently ignoring it would let checks 'pass' on faulty data."""
        if not self.faults_file:
            return self.faults
        path = Path(self.faults_file)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as err:
            raise FaultsFileError(
                f"faults file {path} (NBA_PIPELINE_FAULTS_FILE) cannot be read: {err.strerror}. Write an empty file "
                "for no faults, or unset the variable."
            ) from None
        except yaml.YAMLError as err:
            raise FaultsFileError(f"faults file {path} is not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise FaultsFileError(f"faults file {path}: expected a mapping of SimulatorFaults fields, got {type(data).__name__}")
        fields = SimulatorFaults.model_fields
        unknown = [key for key in data if key not in fields]
        if unknown:
            hints = {k: difflib.get_close_matches(k, fields, n=1) for k in unknown}
            named = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
            raise FaultsFileError(f"faults file {path}: unknown key(s) {named}; known: {', '.join(fields)}")
        try:
            return SimulatorFaults.model_validate(data)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise FaultsFileError(f"faults file {path}: {problems}") from None

    def fetch(self, feed: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        as_of = dt.datetime.fromisoformat(self.as_of) if self.as_of else None
        faults = self.current_faults()
        if faults.fetch_delay_seconds:
            time.sleep(faults.fetch_delay_seconds)
        return LeagueSimulator(seed=self.seed, faults=faults, as_of=as_of).fetch(feed, start, end)
