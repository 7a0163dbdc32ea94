"""A deterministic league simulator: the default data source, realistic enough that every threshold means something.

Everything is generated one whole season at a time from the seed (and cached), so a single date sliced from a
season is identical whether it is fetched alone or inside a multi-year range.
"""

from nba_pipeline.simulator.faults import SimulatorFaults
from nba_pipeline.simulator.feeds import FEEDS, LeagueSimulator

__all__ = ["FEEDS", "LeagueSimulator", "SimulatorFaults"]
