"""Sources as interchangeable resources: the simulator (default), the live NBA.com stats API, recorded responses."""

from nba_pipeline.sources.base import FeedNotAvailable, NbaSource
from nba_pipeline.sources.game_logs import GameLogFilesSource
from nba_pipeline.sources.injury_report import NbaInjuryReportSource
from nba_pipeline.sources.nba_stats import NbaStatsApiSource, RecordedNbaStatsSource
from nba_pipeline.sources.odds_api import OddsApiSource
from nba_pipeline.sources.replay import SeasonReplaySource
from nba_pipeline.sources.simulated import SimulatedLeagueSource

__all__ = ["FeedNotAvailable", "GameLogFilesSource", "NbaInjuryReportSource", "NbaSource", "OddsApiSource", "NbaStatsApiSource", "RecordedNbaStatsSource", "SeasonReplaySource", "SimulatedLeagueSource"]
