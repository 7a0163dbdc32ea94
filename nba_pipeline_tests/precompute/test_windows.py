"""Game-count windows against hand-computed values and against a plain-Python reference."""

import numpy as np
import pandas as pd
import pytest

from nba_pipeline.precompute.windows import game_windows

SIZES = {"l5": 5, "l7": 7, "l10": 10}


def _games() -> pd.DataFrame:
    """Player 1: two games at the end of 2022-23, then 2023-24 with a DNP and a trade; player 2 one game."""
    rows = [
        (1, "2022-23", "2023-04-05", 30.0, 25, True),
        (1, "2022-23", "2023-04-07", 32.0, 27, True),
        (1, "2023-24", "2023-10-24", 20.0, 10, True),
        (1, "2023-24", "2023-10-26", 22.0, 12, True),
        (1, "2023-24", "2023-10-28", None, None, False),  # DNP: not a game played
        (1, "2023-24", "2023-10-30", 24.0, 14, True),
        (1, "2023-24", "2023-11-01", 26.0, 16, True),
        (1, "2023-24", "2023-11-03", 18.0, 8, True),  # first game after the trade
        (1, "2023-24", "2023-11-05", 20.0, 10, True),
        (1, "2023-24", "2023-11-07", 28.0, 20, True),
        (1, "2023-24", "2023-11-09", 21.0, 11, True),
        (2, "2023-24", "2023-11-01", 15.0, 6, True),
    ]
    frame = pd.DataFrame(rows, columns=["player_id", "season", "game_date", "usage_rate", "points", "played"])
    frame["game_date"] = pd.to_datetime(frame["game_date"])
    return frame.assign(ok=True)


def _windows(games: pd.DataFrame, dates: list[str], player: int = 1) -> pd.DataFrame:
    targets = pd.DataFrame({"player_id": player, "season": "2023-24", "game_date": pd.to_datetime(dates)})
    counted = games[games["played"]]
    return game_windows(counted, targets, key="player_id", values=["usage_rate", "points"], sizes=SIZES).set_index(targets["game_date"])


def test_values_equal_hand_computed_ones_across_a_dnp_and_a_trade():
    w = _windows(_games(), ["2023-11-09", "2023-11-07"])
    nov9, nov7 = w.loc["2023-11-09"], w.loc["2023-11-07"]
    # Nov 9: the 7 games before it, skipping the Oct 28 DNP, spanning both teams
    assert nov9["l7_usage_rate_avg"] == pytest.approx((20 + 22 + 24 + 26 + 18 + 20 + 28) / 7)
    assert nov9["l5_points_avg"] == pytest.approx((14 + 16 + 8 + 10 + 20) / 5)
    assert nov9["l7_games"] == 7 and bool(nov9["l7_is_complete"])
    assert nov9["last_game_date"] == pd.Timestamp("2023-11-07") and nov9["last_usage_rate"] == 28
    # Nov 7: only 6 games before it this season -> bootstrap for 7, still a full 5
    assert pd.isna(nov7["l7_usage_rate_avg"]) and not nov7["l7_is_complete"]
    assert nov7["l7_incomplete_reason"] == "bootstrap: 6 of 7 games this season"
    assert nov7["l5_points_avg"] == pytest.approx((12 + 14 + 16 + 8 + 10) / 5)


def test_windows_never_cross_the_season_boundary():
    opener = _windows(_games(), ["2023-10-24"]).iloc[0]
    assert opener["games_before"] == 0 and pd.isna(opener["last_game_date"])
    assert pd.isna(opener["l5_points_avg"]) and opener["l5_incomplete_reason"] == "bootstrap: 0 of 5 games this season"


def test_an_incomplete_window_is_null_with_a_reason_and_a_false_flag():
    w = _windows(_games(), ["2023-11-11"]).iloc[0]  # 8 games before: the 10-game window cannot fill
    assert pd.isna(w["l10_usage_rate_avg"]) and pd.isna(w["l10_points_avg"])
    assert not w["l10_is_complete"] and w["l10_games"] == 8
    assert w["l10_incomplete_reason"] == "bootstrap: 8 of 10 games this season"
    assert w["l7_is_complete"] and pd.notna(w["l7_usage_rate_avg"])


def _reference(games: pd.DataFrame, player: int, season: str, day: pd.Timestamp, size: int) -> tuple[bool, float]:
    """Plain Python: the last `size` counted games before `day` this season; complete if all passed upstream."""
    mine = games[(games["player_id"] == player) & (games["season"] == season) & (games["game_date"] < day)]
    window = mine.sort_values("game_date").tail(size)
    complete = len(window) == size and bool(window["ok"].all())
    return complete, (float(window["usage_rate"].mean()) if complete else np.nan)


def test_an_upstream_fault_makes_exactly_the_windows_containing_that_game_incomplete():
    games = _games()
    bad_day = pd.Timestamp("2023-10-30")
    faulty = games.copy()
    faulty.loc[faulty["game_date"] == bad_day, ["usage_rate", "ok"]] = [np.nan, False]  # usage_rate NULL upstream
    dates = list(pd.date_range("2023-10-24", "2023-11-30"))
    clean_w, faulty_w = _windows(games, dates), _windows(faulty, dates)
    for name, size in SIZES.items():
        counted = games[games["played"] & (games["player_id"] == 1) & (games["season"] == "2023-24")]
        contains_bad = [bad_day in set(counted[counted["game_date"] < d].tail(size)["game_date"]) for d in dates]
        expected_incomplete = np.array(contains_bad) & clean_w[f"{name}_is_complete"].to_numpy(dtype=bool)
        became_incomplete = clean_w[f"{name}_is_complete"].to_numpy(dtype=bool) & ~faulty_w[f"{name}_is_complete"].to_numpy(dtype=bool)
        assert (became_incomplete == expected_incomplete).all(), name
        assert expected_incomplete.any() or name == "l10"
        hit = faulty_w[f"{name}_incomplete_reason"][expected_incomplete]
        assert hit.str.startswith("upstream_failed: 1 of").all()


def test_vectorised_windows_match_the_reference_on_a_simulated_season(simulated_season):
    pgs = simulated_season["player_game_summary"]
    games = pgs[pgs["played"]].assign(ok=pgs["production_ready"]).dropna(subset=["season"])
    # knock out a few games upstream so completeness matters too
    games.loc[games.sample(frac=0.02, random_state=3).index, "ok"] = False
    players = games["player_id"].drop_duplicates().sample(12, random_state=1)
    targets = pgs[pgs["player_id"].isin(players)].reset_index(drop=True)
    w = game_windows(games, targets, key="player_id", values=["usage_rate"], sizes={"l7": 7})
    for i in range(len(targets)):
        t = targets.iloc[i]
        complete, mean = _reference(games, t["player_id"], t["season"], t["game_date"], 7)
        assert bool(w["l7_is_complete"].iloc[i]) == complete
        if complete:
            assert w["l7_usage_rate_avg"].iloc[i] == pytest.approx(mean)
        else:
            assert pd.isna(w["l7_usage_rate_avg"].iloc[i])


def test_a_missing_value_on_an_ok_game_makes_exactly_the_windows_containing_it_incomplete():
    games = _games()
    gap_day = pd.Timestamp("2023-10-30")
    faulty = games.copy()
    faulty.loc[faulty["game_date"] == gap_day, "points"] = np.nan  # points NULL, yet the game passed upstream
    assert faulty.loc[faulty["game_date"] == gap_day, "ok"].all()
    dates = list(pd.date_range("2023-10-24", "2023-11-30"))
    clean_w, faulty_w = _windows(games, dates), _windows(faulty, dates)
    counted = games[games["played"] & (games["player_id"] == 1) & (games["season"] == "2023-24")]
    for name, size in SIZES.items():
        contains_gap = np.array([gap_day in set(counted[counted["game_date"] < d].tail(size)["game_date"]) for d in dates])
        was_complete = clean_w[f"{name}_is_complete"].to_numpy(dtype=bool)
        now_complete = faulty_w[f"{name}_is_complete"].to_numpy(dtype=bool)
        assert (now_complete == (was_complete & ~contains_gap)).all(), name
        hit = was_complete & contains_gap
        assert hit.any() or name == "l10"
        assert (faulty_w[f"{name}_incomplete_reason"][hit] == f"missing_value: 1 of {size} games lack points").all()
        # an incomplete window has no average for any of its values; a complete one has all of them
        for value in ("points", "usage_rate"):
            avg = faulty_w[f"{name}_{value}_avg"]
            assert avg[~now_complete].isna().all() and avg[now_complete].notna().all(), (name, value)
        assert (faulty_w[f"{name}_usage_rate_avg"][now_complete] == clean_w[f"{name}_usage_rate_avg"][now_complete]).all()


def test_a_missing_value_names_every_value_it_lacks_and_upstream_failure_comes_first():
    games = _games()
    faulty = games.copy()
    faulty.loc[faulty["game_date"] == pd.Timestamp("2023-10-30"), "points"] = np.nan
    faulty.loc[faulty["game_date"] == pd.Timestamp("2023-11-01"), ["points", "usage_rate"]] = np.nan
    w = _windows(faulty, ["2023-11-11"]).iloc[0]
    assert w["l7_incomplete_reason"] == "missing_value: 2 of 7 games lack usage_rate, points"
    faulty.loc[faulty["game_date"] == pd.Timestamp("2023-11-05"), "ok"] = False
    w = _windows(faulty, ["2023-11-11"]).iloc[0]
    assert w["l7_incomplete_reason"] == "upstream_failed: 1 of 7 games failed upstream checks"
    assert not w["l7_is_complete"] and pd.isna(w["l7_points_avg"])


def _composite_rows() -> pd.DataFrame:
    """Two composite-factor rows whose windows are all complete and averaged."""
    from nba_pipeline.precompute.composite_factors import SCORING_WINDOWS, USAGE_WINDOW

    rows = pd.DataFrame({"game_id": ["0022300500", "0022300501"], "player_id": [1, 2], "game_date": pd.to_datetime(["2024-01-15"] * 2)})
    rows["l7_is_complete"], rows["l7_games"], rows["avg_usage_rate_last_7_games"] = True, USAGE_WINDOW, 22.5
    for window, size in SCORING_WINDOWS.items():
        rows[f"{window}_is_complete"], rows[f"{window}_games"] = True, size
        rows[f"points_avg_last_{size}"], rows[f"minutes_avg_last_{size}"] = 14.0, 30.0
    return rows


@pytest.mark.parametrize("column", ["points_avg_last_5", "minutes_avg_last_10", "avg_usage_rate_last_7_games"])
def test_windows_honest_fails_a_null_average_under_a_complete_flag(column):
    from nba_pipeline.checks import names
    from nba_pipeline.checks.rules import CheckInputs
    from nba_pipeline.config import load_thresholds
    from nba_pipeline.precompute.checks import COMPOSITE_FACTOR_RULES

    rule = next(r for r in COMPOSITE_FACTOR_RULES if r.name == names.WINDOWS_HONEST)
    rows = _composite_rows()
    inputs = lambda f: CheckInputs(frame=f, dates=[pd.Timestamp("2024-01-15")], thresholds=load_thresholds())  # noqa: E731
    assert rule.evaluate(inputs(rows))["passed"].all()
    rows.loc[1, column] = np.nan
    verdicts = rule.evaluate(inputs(rows))
    assert not verdicts["passed"].any() and verdicts["value"].iloc[0] == 1
    assert "0022300501/2" in verdicts["detail"].iloc[0] and "0022300500" not in verdicts["detail"].iloc[0]


def test_composite_factors_with_a_null_points_game_are_honest(simulated_season):
    from nba_pipeline.checks import names
    from nba_pipeline.checks.rules import CheckInputs
    from nba_pipeline.config import load_thresholds
    from nba_pipeline.precompute.checks import COMPOSITE_FACTOR_RULES
    from nba_pipeline.precompute.composite_factors import build_player_composite_factors

    s = simulated_season
    pgs = s["player_game_summary"].copy()
    target = pgs[pgs["production_ready"].fillna(False) & (pgs["game_date"] == pd.Timestamp("2023-12-01"))].iloc[0]
    gap = (pgs["player_id"] == target["player_id"]) & (pgs["game_date"] == target["game_date"])
    pgs.loc[gap, "pts"] = pd.NA
    dates = list(pd.date_range("2023-12-02", "2023-12-20"))
    factors = build_player_composite_factors(
        pgs, s["team_defense_game_summary"], s["schedule"], s["injury_report"], s["prop_lines"], dates
    )
    mine = factors[factors["player_id"] == target["player_id"]].sort_values("game_date")
    assert len(mine) >= 5
    first = mine.iloc[0]  # the game after the gap: both scoring windows contain it
    assert not first["l5_is_complete"] and pd.isna(first["points_avg_last_5"])
    assert first["l5_incomplete_reason"] == "missing_value: 1 of 5 games lack points"
    assert mine.iloc[5]["l5_is_complete"]  # five games later the gap has left the 5-game window
    rule = next(r for r in COMPOSITE_FACTOR_RULES if r.name == names.WINDOWS_HONEST)
    inputs = CheckInputs(frame=factors, dates=dates, thresholds=load_thresholds())
    assert rule.evaluate(inputs)["passed"].all()


def test_the_ewma_weighs_the_seasons_usable_games_before_the_date_by_a_halflife_in_games():
    games = _games()
    games.loc[(games["game_date"] == pd.Timestamp("2023-11-01")) & (games["player_id"] == 1), "ok"] = False  # not averaged
    targets = pd.DataFrame({"player_id": [1, 1, 1, 2], "season": "2023-24",
                            "game_date": pd.to_datetime(["2023-11-09", "2023-10-24", "2023-10-26", "2023-11-02"])})
    w = game_windows(games[games["played"]], targets, key="player_id", values=["points"], sizes={"l5": 5}, halflives=(10, 3))
    usable = [10.0, 12.0, 14.0, 8.0, 10.0, 20.0]  # this season before Nov 9: the DNP and the failed game left out
    a = 0.5 ** (1 / 10)
    weights = a ** np.arange(len(usable))[::-1]  # the latest game weighs 1, each earlier one a halflife-th less
    assert w["points_ewma_10"].iloc[0] == pytest.approx(float(np.dot(weights, usable) / weights.sum()), rel=1e-12)
    short = (0.5 ** (1 / 3)) ** np.arange(len(usable))[::-1]
    assert w["points_ewma_3"].iloc[0] == pytest.approx(float(np.dot(short, usable) / short.sum()), rel=1e-12)
    assert pd.isna(w["points_ewma_10"].iloc[1])  # the season's opener: nothing before it (last season not crossed)
    assert w["points_ewma_10"].iloc[2] == 10.0 and w["points_ewma_10"].iloc[3] == 6.0  # one game: its own points
