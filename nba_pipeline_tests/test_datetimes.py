"""nba_pipeline/datetimes.py: the package's one conversion to datetime64 gives pandas' result without pandas'
per-value cache probe, and no module of the package calls `pd.to_datetime` itself."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pandas as pd
import pandas.core.tools.datetimes as pandas_datetimes
import pytest

import nba_pipeline
from nba_pipeline.datetimes import to_datetime

PACKAGE = Path(nba_pipeline.__file__).parent


def test_no_module_of_the_package_calls_pandas_to_datetime_itself():
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "datetimes.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "to_datetime":
                calls.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not calls, f"convert through nba_pipeline.datetimes.to_datetime, not pd.to_datetime: {calls}"


@pytest.mark.parametrize(
    "values, kwargs",
    [
        (pd.Series(pd.date_range("2023-10-24", periods=40).repeat(30)), {}),  # datetime64 already: a range run's frames
        (pd.Series(["2023-10-24", "2024-02-22", None, "2024-04-14"] * 30), {}),
        (pd.Series([dt.date(2023, 10, 24), dt.date(2024, 2, 22)] * 60, dtype=object), {}),
        (pd.Series(["10/24/2023", "not a date", "02/22/2024"] * 40), {"format": "%m/%d/%Y", "errors": "coerce"}),
        (["2023-10-24T19:30:00Z", "2024-02-22T00:10:00Z"] * 60, {"utc": True}),
        ([dt.date(2023, 10, 24), dt.date(2024, 4, 14)], {}),
    ],
)
def test_the_same_values_as_pandas(values, kwargs):
    got, expected = to_datetime(values, **kwargs), pd.to_datetime(values, **kwargs)
    if isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(got, expected)
    else:
        pd.testing.assert_index_equal(got, expected)


def test_a_season_of_dates_is_not_probed_value_by_value(monkeypatch):
    season = pd.Series(pd.date_range("2023-10-24", "2024-04-14").repeat(300))

    def probe(*_args, **_kwargs):
        raise AssertionError("pandas' cache probe ran: it turns the values into Timestamp objects one by one")

    monkeypatch.setattr(pandas_datetimes, "should_cache", probe)
    with pytest.raises(AssertionError, match="cache probe"):  # pandas itself probes (what the helper is for) ...
        pd.to_datetime(season)
    assert to_datetime(season).equals(season)  # ... the helper does not, and converts to the same values
