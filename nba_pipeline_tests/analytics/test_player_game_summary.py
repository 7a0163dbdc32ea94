"""Who played: a DNP comment or zero minutes means the player did not; unknown minutes are left to the checks."""

import datetime as dt

import pandas as pd
import pytest

from nba_pipeline.analytics import checks
from nba_pipeline.analytics.player_game_summary import build_player_game_summary
from nba_pipeline.analytics.team_offense import build_team_offense
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs, to_check_result
from nba_pipeline.config import load_thresholds
from nba_pipeline.simulator import LeagueSimulator

DAY = dt.date(2024, 1, 15)


@pytest.fixture(scope="module")
def feeds() -> dict[str, pd.DataFrame]:
    sim = LeagueSimulator()
    return {feed: sim.fetch(feed, DAY, DAY) for feed in ("schedule", "team_boxscores", "player_boxscores", "shot_zones")}


def _summary(feeds, player_box: pd.DataFrame) -> pd.DataFrame:
    offense = build_team_offense(feeds["team_boxscores"], feeds["player_boxscores"], feeds["schedule"], 5)
    return build_player_game_summary(player_box, offense, feeds["shot_zones"], feeds["schedule"], 68)


def _bench_rows(box: pd.DataFrame, n: int) -> pd.Index:
    """`n` players who did not play (DNP comment), each in a different game."""
    dnp = box[box["comment"].fillna("") != ""]
    return dnp.drop_duplicates("game_id").index[:n]


def test_zero_minutes_without_a_comment_is_not_played(feeds):
    box = feeds["player_boxscores"].copy()
    zero = _bench_rows(box, 2)
    box.loc[zero, "comment"] = ""
    box.loc[zero, "minutes"] = ["0:00", "0"]
    box.loc[zero, [c for c in ("fgm", "fga", "fta", "tov", "pts") if c in box]] = 0
    summary = _summary(feeds, box).set_index(box.index)
    assert not summary.loc[zero, "played"].any()
    assert summary.loc[zero, "usage_rate"].isna().all() and not summary.loc[zero, "production_ready"].any()
    # the zero-minute rows do not drag usage_rate_populated or production_ready below their floors
    inputs = CheckInputs(frame=summary, dates=[pd.Timestamp(DAY)], thresholds=load_thresholds(), schedule=feeds["schedule"])
    for rule in checks.PLAYER_GAME_SUMMARY_RULES:
        assert to_check_result(rule, rule.evaluate(inputs), inputs.thresholds).passed, rule.name


def test_minutes_that_are_missing_or_unreadable_without_a_comment_count_as_played(feeds):
    box = feeds["player_boxscores"].copy()
    played = box.index[box["comment"].fillna("") == ""]
    unknown = box.loc[played].drop_duplicates("game_id").index[:2]
    box.loc[unknown, "minutes"] = [None, "DNP"]
    summary = _summary(feeds, box).set_index(box.index)
    assert summary.loc[unknown, "played"].all() and summary.loc[unknown, "minutes"].isna().all()
    assert (summary.loc[unknown, "quality_issues"].str.contains("minutes_missing")).all()
    inputs = CheckInputs(frame=summary, dates=[pd.Timestamp(DAY)], thresholds=load_thresholds(), schedule=feeds["schedule"])
    rule = next(r for r in checks.PLAYER_GAME_SUMMARY_RULES if r.name == names.MINUTES_POPULATED)
    verdicts = rule.evaluate(inputs)
    assert not verdicts["passed"].any()
    for game in summary.loc[unknown, "source_game_id"]:
        assert game in verdicts["detail"].iloc[0]


def test_a_dnp_comment_is_not_played_and_a_clock_without_one_is(feeds):
    box = feeds["player_boxscores"]
    summary = _summary(feeds, box).set_index(box.index)
    has_comment = box["comment"].fillna("") != ""
    assert has_comment.any() and (~has_comment).any()
    assert not summary.loc[has_comment, "played"].any()
    assert summary.loc[~has_comment, "played"].all()
    assert (summary.loc[has_comment, "dnp_reason"] == box.loc[has_comment, "comment"]).all()


def test_a_player_who_did_not_play_has_no_quality_score_and_his_own_tier(feeds):
    box = feeds["player_boxscores"]
    summary = _summary(feeds, box).set_index(box.index)
    dnp = summary[~summary["played"]]
    assert len(dnp) and dnp["quality_score"].isna().all() and (dnp["quality_tier"] == "not_played").all()
    assert not dnp["production_ready"].any()
    played = summary[summary["played"]]
    assert played["quality_score"].notna().all() and not (played["quality_tier"] == "not_played").any()


def test_a_usage_rate_above_100_is_kept_but_never_production_ready(feeds):
    """A few seconds on the floor and one shot: the reference formula gives more than 100 % of the team's plays."""
    box = feeds["player_boxscores"].copy()
    played = box.index[box["comment"].fillna("") == ""]
    cameo = box.loc[played].drop_duplicates("game_id").index[:2]
    box.loc[cameo, "minutes"] = "0:12"
    box.loc[cameo, ["fga", "fgm", "fg3a", "fg3m", "fta", "ftm", "pts", "tov"]] = [3, 0, 0, 0, 0, 0, 0, 1]
    summary = _summary(feeds, box).set_index(box.index)
    assert (summary.loc[cameo, "usage_rate"] > 100).all()  # the formula's value, unchanged
    assert not summary.loc[cameo, "production_ready"].any()
    assert (summary.loc[cameo, "quality_tier"] != "gold").all()
    assert summary.loc[cameo, "quality_issues"].str.contains("usage_rate_out_of_range").all()
    others = summary.drop(index=cameo)
    assert not others["quality_issues"].str.contains("usage_rate_out_of_range").any()
