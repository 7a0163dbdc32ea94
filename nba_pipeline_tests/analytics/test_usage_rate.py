import datetime as dt
import json

import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.analytics.player_game_summary import (
    build_player_game_summary,
    usage_rate,
)
from nba_pipeline.analytics.team_offense import build_team_offense
from nba_pipeline.sources.nba_stats import parse_boxscore_traditional_v2
from nba_pipeline_tests.conftest import REAL_API


def test_usage_rate_matches_a_hand_computed_value():
    s = lambda v: pd.Series([v], dtype="Float64")  # noqa: E731
    # 100 * (10 + 0.44*5 + 2) * (240/5) / (30 * (85 + 0.44*20 + 12)) = 21.4745...
    got = usage_rate(s(10), s(5), s(2), s(30), s(240), s(85), s(20), s(12)).iloc[0]
    assert got == pytest.approx(100 * 14.2 * 48 / (30 * 105.8))
    assert got == pytest.approx(21.4745, abs=1e-4)


def test_usage_rate_is_na_without_minutes_or_team_totals():
    s = lambda v: pd.Series([v], dtype="Float64")  # noqa: E731
    assert pd.isna(usage_rate(s(10), s(5), s(2), s(0), s(240), s(85), s(20), s(12)).iloc[0])
    assert pd.isna(usage_rate(s(10), s(5), s(2), s(30), s(pd.NA), s(85), s(20), s(12)).iloc[0])


@pytest.fixture(scope="module")
def cle_chi():
    payload = json.loads((REAL_API / "BoxScoreTraditionalV2.json").read_text())
    players, teams = parse_boxscore_traditional_v2(payload, dt.date(2023, 1, 2))
    players = schemas.conform(players, schemas.PLAYER_BOXSCORES, "player_boxscores")
    teams = schemas.conform(teams, schemas.TEAM_BOXSCORES, "team_boxscores")
    schedule = pd.DataFrame(
        {"game_id": ["0022200552"], "game_date": pd.to_datetime(["2023-01-02"]), "home_team_id": [1610612739],
         "home_team": ["CLE"], "away_team_id": [1610612741], "away_team": ["CHI"], "game_status": ["Final"]}
    )
    offense = build_team_offense(teams, players, schedule, max_team_turnover_excess=5)
    summary = build_player_game_summary(players, offense, players.iloc[0:0].reindex(columns=list(schemas.SHOT_ZONES)), schedule, 68)
    return payload, offense, summary


def test_real_cle_chi_overtime_game_usage_follows_the_formula(cle_chi):
    payload, offense, summary = cle_chi
    headers = payload["resultSets"][1]["headers"]
    team = {r[headers.index("TEAM_ID")]: dict(zip(headers, r)) for r in payload["resultSets"][1]["rowSet"]}
    ph = payload["resultSets"][0]["headers"]
    checked = 0
    for row in payload["resultSets"][0]["rowSet"]:
        p = dict(zip(ph, row))
        got = summary.loc[summary["player_id"] == p["PLAYER_ID"], "usage_rate"].iloc[0]
        if not p["MIN"]:
            assert pd.isna(got)  # DNP
            continue
        mm, ss = p["MIN"].split(":")
        minutes = int(mm) + int(ss) / 60
        t = team[p["TEAM_ID"]]
        team_minutes = int(t["MIN"].split(":")[0])  # 265: one overtime
        expected = 100 * (p["FGA"] + 0.44 * p["FTA"] + p["TO"]) * (team_minutes / 5) / (
            minutes * (t["FGA"] + 0.44 * t["FTA"] + t["TO"])
        )
        assert got == pytest.approx(expected, rel=1e-9)
        checked += 1
    assert checked == 19
    derozan = summary.loc[summary["player_name"] == "DeMar DeRozan", "usage_rate"].iloc[0]
    assert derozan == pytest.approx(37.78, abs=0.01)


def test_real_game_is_production_ready_and_close_to_nba_com_usage(cle_chi):
    payload, offense, summary = cle_chi
    assert offense["production_ready"].all() and len(offense) == 2
    assert offense["team_minutes"].tolist() == [265.0, 265.0]
    played = summary[summary["played"]]
    assert played["production_ready"].all()
    usage_v3 = json.loads((REAL_API / "BoxScoreUsageV3.json").read_text())["boxScoreUsage"]
    nba = {
        p["personId"]: 100 * p["statistics"]["usagePercentage"]
        for side in ("homeTeam", "awayTeam") for p in usage_v3[side]["players"] if p["statistics"]["minutes"]
    }
    ours = played.set_index("player_id")["usage_rate"].astype(float)
    diff = (ours - pd.Series(nba)).dropna().abs()
    assert len(diff) == 19
    assert diff.mean() < 2.0  # NBA.com uses on-court team totals; SOURCES.md notes ~0.7 points on average


def test_real_overtime_game_has_valid_team_minutes(cle_chi):
    from nba_pipeline.analytics.checks import TEAM_OFFENSE_RULES
    from nba_pipeline.checks import names
    from nba_pipeline.checks.rules import CheckInputs
    from nba_pipeline.config import load_thresholds

    _, offense, _ = cle_chi
    # NBA.com's player clocks add up to within a second of the team's 265 player-minutes
    assert (offense["player_minutes_sum"] - 265).abs().max() < 1 / 30
    rule = next(r for r in TEAM_OFFENSE_RULES if r.name == names.TEAM_MINUTES_VALID)
    verdicts = rule.evaluate(CheckInputs(frame=offense, dates=[pd.Timestamp("2023-01-02")], thresholds=load_thresholds()))
    assert verdicts["passed"].all() and verdicts["value"].iloc[0] == 0
