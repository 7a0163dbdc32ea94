"""The emulator helper the BigQuery tests start: a real server process that answers BigQuery's REST API offline
and is gone once its context ends."""

import pytest
import requests

from nba_pipeline_tests.bigquery_emulator import PROJECT, running_emulator


def test_the_emulator_answers_and_is_stopped_at_the_end(tmp_path):
    with running_emulator(tmp_path / "emulator.log") as endpoint:
        answer = requests.get(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=5)
        assert answer.status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=5)


def test_query_results_are_encoded_a_column_at_a_time_as_the_emulator_encodes_them_a_cell_at_a_time():
    import datetime as dt
    import math

    import pyarrow as pa
    from bqemulator.storage.arrow_bridge import arrow_table_to_bq_rows

    from nba_pipeline_tests.bigquery_emulator import rows_by_column

    utc = dt.timezone.utc
    columns = {
        "int": pa.array([1, None, -(2**62), 0, 7], pa.int64()),
        "small": pa.array([1, 2, None, 4, 5], pa.int32()),
        "float": pa.array([1.0, None, 0.1, math.nan, 1e20], pa.float64()),
        "text": pa.array(["a", None, "", "é'\"", "x"], pa.string()),
        "flag": pa.array([True, False, None, True, False]),
        "day": pa.array([dt.date(2023, 10, 24), None, dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29)]),
        "datetime": pa.array([dt.datetime(2024, 2, 22, 9, 30), dt.datetime(2024, 2, 22, 9, 30, 0, 1), None,
                              dt.datetime(1970, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)], pa.timestamp("us")),
        "stamp": pa.array([dt.datetime(2024, 2, 22, 14, 30, tzinfo=utc), None, dt.datetime(1969, 12, 31, 23, 59, 59, 5, tzinfo=utc),
                           dt.datetime(1970, 1, 1, tzinfo=utc), dt.datetime(2024, 2, 22, 14, 30, 0, 123456, tzinfo=utc)],
                          pa.timestamp("us", tz="UTC")),
        "nothing": pa.nulls(5),
        "numbers": pa.array([[1, 2], None, [], [3], None], pa.list_(pa.int64())),  # left to the emulator's own encoder
    }
    table = pa.concat_tables([pa.table(columns).slice(0, 2), pa.table(columns).slice(2)])  # two chunks per column
    assert table.column("int").num_chunks == 2
    for offset, limit in ((0, None), (1, None), (0, 3), (2, 2), (4, 10), (5, None)):
        assert rows_by_column(table, offset, limit) == arrow_table_to_bq_rows(table, offset, limit), (offset, limit)
    assert rows_by_column(table)[0]["f"][0] == {"v": "1"}
    assert rows_by_column(pa.table({})) == [] == rows_by_column(table.slice(0, 0))


def test_a_statement_parsed_once_gives_the_tree_a_fresh_parse_gives_and_callers_do_not_share_it():
    import sqlglot
    from sqlglot.errors import ParseError

    from nba_pipeline_tests.bigquery_emulator import parsing_once

    calls = []

    def counted(sql, **kwargs):
        calls.append(sql)
        return sqlglot.parse_one(sql, **kwargs)

    parse = parsing_once(counted)
    merge = ("MERGE `p.d.t` T USING (SELECT * FROM `p.d.s` WHERE game_date IN (DATE '2024-02-22')) S "
             "ON T.game_date = S.game_date /* the key */ WHEN MATCHED THEN UPDATE SET points = S.points "
             "WHEN NOT MATCHED THEN INSERT ROW")
    statements = [(merge, "bigquery"), ("SELECT CAST(x AS INT64) AS y, @day AS d FROM `p.d.t`", "bigquery"),
                  ("SELECT 1; SELECT 2", "bigquery"), ("SELECT a::INT FROM t", "duckdb")]
    for sql, dialect in statements * 2:
        tree = parse(sql, read=dialect)
        fresh = sqlglot.parse_one(sql, read=dialect)
        assert tree == fresh and repr(tree) == repr(fresh) and tree.sql(dialect) == fresh.sql(dialect)
        assert tree.meta == fresh.meta
    assert len(calls) == len(statements)  # the second time round, copies
    first = parse(merge, read="bigquery")
    first.set("this", sqlglot.exp.to_table("p.d.other"))  # a caller rewrites its tree
    assert parse(merge, read="bigquery") == sqlglot.parse_one(merge, read="bigquery")  # the next caller's is intact
    for _ in range(2):  # an error every time, none kept
        with pytest.raises(ParseError):
            parse("SELECT FROM WHERE (", read="bigquery")
    assert parse("INT64", read="bigquery", into=sqlglot.exp.DataType) == sqlglot.exp.DataType.build("INT64", dialect="bigquery")
    calls.clear()
    small = parsing_once(counted, size=2)
    for sql in ("SELECT 1", "SELECT 2", "SELECT 1", "SELECT 3", "SELECT 2", "SELECT 1"):
        small(sql, read="bigquery")
    assert calls == ["SELECT 1", "SELECT 2", "SELECT 3", "SELECT 1"]  # past its size, the oldest tree is forgotten
