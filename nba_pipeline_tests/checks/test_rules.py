"""Run-level results of a rule: `worst_value` is the worst date in the rule's own direction."""

import pandas as pd
import pytest

from nba_pipeline.checks.factories import expected_rows, min_share, no_bad_rows, no_duplicate_keys
from nba_pipeline.checks.rules import CheckInputs, to_check_result
from nba_pipeline.config import load_thresholds

DATES = pd.to_datetime(["2024-01-14", "2024-01-15", "2024-01-16"])


def _inputs(frame: pd.DataFrame) -> CheckInputs:
    return CheckInputs(frame=frame, dates=list(DATES), thresholds=load_thresholds())


def _player_rows() -> pd.DataFrame:
    """Three dates of rows: the 15th delivers two rows twice, the 16th one; the 14th is clean."""
    rows = pd.DataFrame(
        {
            "game_date": DATES.repeat(4),
            "game_id": [f"g{d}" for d in range(3) for _ in range(4)],
            "player_id": [1, 2, 3, 4] * 3,
            "minutes": [30.0, 20.0, None, 10.0] * 3,
        }
    )
    twice = rows[(rows["game_id"] == "g1") & rows["player_id"].isin([1, 2]) | (rows["game_id"] == "g2") & (rows["player_id"] == 1)]
    return pd.concat([rows, twice], ignore_index=True)


def test_worst_value_of_a_duplicate_rule_is_its_most_duplicated_date():
    rule = no_duplicate_keys("no_duplicate_keys", ["game_id", "player_id"])
    verdicts = rule.evaluate(_inputs(_player_rows()))
    assert verdicts["value"].tolist() == [0, 4, 2]  # rows sharing a key, per date
    result = to_check_result(rule, verdicts, load_thresholds())
    assert not result.passed
    assert result.metadata["worst_value"].value == verdicts["value"].max() == 4


def test_worst_value_of_a_bad_rows_rule_is_the_date_with_most_bad_rows():
    rule = no_bad_rows("minutes_known", "minutes known", lambda f, _: f["minutes"].isna(), ["game_id", "player_id"])
    frame = _player_rows()
    frame.loc[frame["game_id"] == "g2", "minutes"] = None
    verdicts = rule.evaluate(_inputs(frame))
    result = to_check_result(rule, verdicts, load_thresholds())
    assert result.metadata["worst_value"].value == verdicts["value"].max() > verdicts["value"].min()


def test_worst_value_of_a_share_rule_is_still_its_lowest_share():
    rule = min_share(
        "minutes_share", "share", lambda f: f["minutes"].notna(), lambda f: pd.Series(True, index=f.index),
        lambda t: 90.0, game_column="game_id",
    )
    frame = _player_rows()
    frame.loc[frame["game_id"] == "g2", "minutes"] = None
    verdicts = rule.evaluate(_inputs(frame))
    result = to_check_result(rule, verdicts, load_thresholds())
    assert result.metadata["worst_value"].value == pytest.approx(verdicts["value"].min())
    assert verdicts["value"].min() < verdicts["value"].max()


def test_factories_say_which_direction_is_worse():
    assert no_duplicate_keys("d", ["game_id"]).worse == "higher"
    assert no_bad_rows("b", "b", lambda f, _: f["minutes"].isna(), ["game_id"]).worse == "higher"
    share = min_share("s", "s", lambda f: f["minutes"].notna(), lambda f: f["minutes"].notna(), lambda t: 1.0)
    assert share.worse == "lower"


def test_expected_rows_expects_nothing_on_a_date_without_reference_rows_and_names_misses_elsewhere():
    """Lines on the 14th only (a production history with no lines before the vendor's first board): the 15th's rows
    pass, the 14th's missing line is named, the 16th (games, no rows, no lines) fails as a date without rows."""
    frame = pd.DataFrame({"game_date": DATES[[0, 1, 1]], "player_id": [1, 2, 3]})
    lines = pd.DataFrame({"game_date": DATES[[0, 0]], "player_id": [1, 9]})
    schedule = pd.DataFrame({"game_date": DATES, "game_id": ["g0", "g1", "g2"]})
    inputs = CheckInputs(frame=frame, dates=list(DATES), thresholds=load_thresholds(), schedule=schedule, reference={"lines": lines})
    verdicts = expected_rows("every_line_has_row", "", "lines", ["game_date", "player_id"]).evaluate(inputs).set_index("game_date")
    assert verdicts["passed"].tolist() == [False, True, False]
    assert "9" in verdicts.loc[DATES[0], "detail"] and verdicts.loc[DATES[1], "rows"] == 2
    assert verdicts.loc[DATES[2], "detail"] == "no rows for the scheduled games"
