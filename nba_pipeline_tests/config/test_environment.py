import pytest

from nba_pipeline.config.environment import seconds_from_environment

VARIABLE = "NBA_PIPELINE_TEST_SECONDS"


def test_unset_or_empty_is_the_default(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)
    assert seconds_from_environment(VARIABLE, 15.0) == 15.0
    assert seconds_from_environment(VARIABLE) is None
    monkeypatch.setenv(VARIABLE, " ")
    assert seconds_from_environment(VARIABLE, 7) == 7


def test_a_number_is_read_and_zero_only_where_allowed(monkeypatch):
    monkeypatch.setenv(VARIABLE, " 2.5 ")
    assert seconds_from_environment(VARIABLE, 15.0) == 2.5
    monkeypatch.setenv(VARIABLE, "0")
    assert seconds_from_environment(VARIABLE, zero_allowed=True) == 0.0
    with pytest.raises(ValueError, match=rf"^{VARIABLE}='0': expected a number of seconds above 0$"):
        seconds_from_environment(VARIABLE)


@pytest.mark.parametrize("bad", ["-3", "soon", "inf", "nan", "YESTERDAY"])
def test_anything_else_is_one_line_naming_the_variable(monkeypatch, bad):
    monkeypatch.setenv(VARIABLE, bad)
    for zero_allowed, bound in ((False, "above 0"), (True, "0 or above")):
        with pytest.raises(ValueError, match=rf"^{VARIABLE}='{bad}': expected a number of seconds {bound}$"):
            seconds_from_environment(VARIABLE, 1.0, zero_allowed=zero_allowed)


def test_the_bindings_read_through_it(monkeypatch):
    from nba_pipeline.sources.nba_stats import NbaStatsApiSource
    from nba_pipeline.warehouse.bigquery_warehouse import bigquery_warehouse_from_environment

    monkeypatch.setenv("GCP_PROJECT", "nba")
    for variable, bind in (("NBA_STATS_MIN_INTERVAL_SECONDS", NbaStatsApiSource.from_environment),
                           ("NBA_PIPELINE_BIGQUERY_READ_RETRY_SECONDS", bigquery_warehouse_from_environment)):
        monkeypatch.setenv(variable, "soon")
        with pytest.raises(ValueError, match=rf"^{variable}='soon'"):
            bind()
        monkeypatch.delenv(variable)
