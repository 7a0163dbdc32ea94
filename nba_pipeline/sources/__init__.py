"""Sources as interchangeable resources: the simulator (default), the live NBA.com stats API, recorded responses."""

from nba_pipeline.sources.base import FeedNotAvailable, NbaSource
from nba_pipeline.sources.nba_stats import NbaStatsApiSource, RecordedNbaStatsSource
from nba_pipeline.sources.replay import SeasonReplaySource
from nba_pipeline.sources.simulated import SimulatedLeagueSource

__all__ = ["FeedNotAvailable", "NbaSource", "NbaStatsApiSource", "RecordedNbaStatsSource", "SeasonReplaySource", "SimulatedLeagueSource"]
