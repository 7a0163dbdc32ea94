"""The warehouse contract, one suite run on both implementations: DuckDB (embedded) and BigQuery (a real local
emulator server, `bigquery_emulator`). Write–audit–publish per date, quarantine, publish records, the code-version
order, off days and types, and the staging tables a dead run leaves (listed with their run, dropped)."""

from __future__ import annotations

import datetime as dt
import uuid

import duckdb
import pandas as pd
import pytest

from nba_pipeline.warehouse.base import ColumnTypeChanged, MissingTableError, TableRef, UnpromotedCodeRefused, Warehouse
from nba_pipeline.warehouse.bigquery_warehouse import BigQueryWarehouse
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline_tests.bigquery_emulator import PROJECT

REF = TableRef("analytics", "scores")
DAYS = pd.to_datetime(["2024-01-14", "2024-01-15", "2024-01-16"])


def make_warehouse(kind: str, tmp_path, request) -> Warehouse:
    if kind == "duckdb":
        return DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    endpoint = request.getfixturevalue("bigquery_emulator")
    # "bigquery": table reads through the Storage Read API, as on Google; "bigquery_rest": as queries over REST
    storage = endpoint.storage if kind == "bigquery" else None
    return BigQueryWarehouse(project=PROJECT, api_endpoint=endpoint, dataset_prefix=f"t{uuid.uuid4().hex[:8]}_",
                             storage_endpoint=storage)


@pytest.fixture(params=["duckdb", "bigquery", "bigquery_rest"])
def warehouse_impl(request, tmp_path) -> Warehouse:
    return make_warehouse(request.param, tmp_path, request)


def _rows(value: int, days=DAYS) -> pd.DataFrame:
    return pd.DataFrame({
        "game_date": days.repeat(2), "player_id": pd.array([1, 2] * len(days), dtype="Int64"),
        "pts": pd.array([value] * (2 * len(days)), dtype="Int64"),
    })


def _outcomes(passed: list[bool], days=DAYS, rows: int = 2) -> pd.DataFrame:
    return pd.DataFrame({
        "game_date": days, "passed": passed, "rows": rows, "failed_checks": ["" if p else "pts_ok" for p in passed],
        "checks": ["all blocking checks passed" if p else "pts_ok: rows 1/2 — game 'x'\\y" for p in passed],
    })


def _publish(warehouse, frame, passed, run, version="v1", days=DAYS, ref=REF):
    staging = warehouse.stage(ref, frame, run)
    warehouse.publish(
        ref, staging, _outcomes(passed, days, rows=len(frame) // max(len(days), 1)), asset=ref.table, run_id=run,
        code_version=version,
    )


def _by_day(frame: pd.DataFrame) -> dict[str, list[int]]:
    return frame.groupby(frame["game_date"].dt.strftime("%Y-%m-%d"))["pts"].unique().map(sorted).map(list).to_dict()


def test_passed_dates_are_published_failed_ones_quarantined_and_every_date_recorded(warehouse_impl):
    _publish(warehouse_impl, _rows(10), [True, True, True], "run-1")
    _publish(warehouse_impl, _rows(99), [True, False, True], "run-2")
    assert _by_day(warehouse_impl.read(REF, None)) == {"2024-01-14": [99], "2024-01-15": [10], "2024-01-16": [99]}
    assert _by_day(warehouse_impl.read(REF, ["2024-01-15"])) == {"2024-01-15": [10]}
    records = warehouse_impl.publish_records("scores", None).set_index("game_date").sort_index()
    assert records[["run_id", "outcome", "code_version"]].values.tolist() == [
        ["run-2", "published", "v1"], ["run-2", "quarantined", "v1"], ["run-2", "published", "v1"]]
    assert records["rows"].tolist() == [2, 2, 2]
    assert warehouse_impl.publish_records("scores", ["2024-01-15"])["outcome"].tolist() == ["quarantined"]
    assert warehouse_impl.unrecorded_dates(REF, "scores") == []


def test_a_read_larger_than_a_grpc_message_and_one_of_no_date_come_back_whole(warehouse_impl):
    """A season of a wide table is megabytes: one Storage Read answer above gRPC's default 4 MB receive limit."""
    import numpy as np

    rows = 80_000  # 40,000 per date, 12 float columns: ~8 MB of values in all
    frame = pd.DataFrame({"game_date": DAYS[:2].repeat(rows // 2), "player_id": pd.array(np.arange(rows), dtype="Int64"),
                          **{f"x{i}": np.arange(rows) / (i + 1) for i in range(12)}})
    staging = warehouse_impl.stage(REF, frame, "run-big")
    assert len(warehouse_impl.read_staged(staging)) == rows
    warehouse_impl.publish(REF, staging, _outcomes([True, True], DAYS[:2], rows=rows // 2), asset=REF.table,
                           run_id="run-big", code_version="v1")
    back = warehouse_impl.read(REF, ["2024-01-14", "2024-01-15"]).sort_values("player_id", ignore_index=True)
    pd.testing.assert_frame_equal(back[frame.columns], frame, check_dtype=False)  # floats come back nullable (Float64)
    nothing = warehouse_impl.read(REF, [])
    assert nothing.empty and list(nothing.columns) == list(frame.columns) and nothing["x0"].dtype == "Float64"


def test_quarantined_rows_are_kept_with_their_run(warehouse_impl):
    _publish(warehouse_impl, _rows(10), [True, False, True], "run-1")
    quarantined = warehouse_impl.read(TableRef("quarantine", REF.flat), None)
    assert set(quarantined["game_date"].dt.strftime("%Y-%m-%d")) == {"2024-01-15"}
    assert set(quarantined["_run_id"]) == {"run-1"} and len(quarantined) == 2
    assert "2024-01-15" not in _by_day(warehouse_impl.read(REF, None))


def test_republishing_the_same_rows_is_idempotent(warehouse_impl):
    for run in ("run-1", "run-2"):
        _publish(warehouse_impl, _rows(7), [True, True, True], run)
    published = warehouse_impl.read(REF, None)
    assert len(published) == 6 and _by_day(published) == {d: [7] for d in ["2024-01-14", "2024-01-15", "2024-01-16"]}
    assert set(warehouse_impl.publish_records("scores", None)["run_id"]) == {"run-2"}


def test_only_the_promoted_code_version_publishes_however_often_or_late_another_runs(warehouse_impl):
    _publish(warehouse_impl, _rows(1), [True, True, True], "old-1", "old")  # the table's first publish promotes "old"
    first = warehouse_impl.promotions()
    assert first[["asset", "code_version"]].values.tolist() == [["scores", "old"]]
    assert first["promoted_by"].iloc[0].startswith("first publish (run old-1")
    with pytest.raises(UnpromotedCodeRefused, match=r"code version new: the promoted code version of scores is old"):
        _publish(warehouse_impl, _rows(2), [True, True, True], "new-1", "new")
    promoted = warehouse_impl.promote({"scores": "new"}, "dev@host", "the usage fix")
    assert promoted[["asset", "previous_version", "code_version", "changed", "stale_dates"]].values.tolist() == [
        ["scores", "old", "new", True, 3]]
    _publish(warehouse_impl, _rows(2), [True, True, True], "new-1", "new")
    for retry in ("old-2", "old-3"):  # a stale checkout retried: refused every time, nothing written
        with pytest.raises(UnpromotedCodeRefused, match=r"code version old: the promoted code version of scores is new .*dev@host"):
            _publish(warehouse_impl, _rows(1), [True, True, True], retry, "old")
    with pytest.raises(UnpromotedCodeRefused, match="code version branch"):  # an unknown version run for the first time
        _publish(warehouse_impl, _rows(5), [True, True, True], "branch-1", "branch")
    assert set(warehouse_impl.read(REF, None)["pts"]) == {2}
    assert set(warehouse_impl.publish_records("scores", None)["code_version"]) == {"new"}
    again = warehouse_impl.promote({"scores": "new"}, "dev@host")  # promoting the promoted version records nothing
    assert again[["changed", "stale_dates"]].values.tolist() == [[False, 0]]
    history = warehouse_impl.promotions()
    assert history[["code_version", "previous_version"]].values.tolist() == [["old", None], ["new", "old"]]
    assert history["note"].tolist()[-1] == "the usage fix"


def test_a_table_published_before_promotions_existed_needs_a_promotion(warehouse_impl):
    _publish(warehouse_impl, _rows(1), [True, True, True], "run-1", "v1")
    _erase_promotions(warehouse_impl)  # as a warehouse written by the code before promotions
    with pytest.raises(UnpromotedCodeRefused, match="no code version of scores is promoted.*nba-pipeline promote"):
        _publish(warehouse_impl, _rows(2), [True, True, True], "run-2", "v1")
    warehouse_impl.promote({"scores": "v1"}, "dev@host")
    _publish(warehouse_impl, _rows(2), [True, True, True], "run-2", "v1")
    assert set(warehouse_impl.read(REF, None)["pts"]) == {2}


def test_a_checkout_from_before_promotions_is_refused_by_its_own_rule(warehouse_impl):
    """The code before promotions refused a version 'first seen' before a newer one that published the dates
    (`pipeline.code_versions`); a promotion dates its version after every real run, so that rule refuses too."""
    _publish(warehouse_impl, _rows(1), [True, True, True], "run-1", "v1")
    warehouse_impl.promote({"scores": "v2"}, "dev@host")
    _publish(warehouse_impl, _rows(2), [True, True, True], "run-2", "v2")
    seen = _first_seen(warehouse_impl)
    assert seen["v2"] > seen["v1"] > dt.datetime(8999, 1, 1)  # later than any old checkout's first run


def _erase_promotions(warehouse) -> None:
    if isinstance(warehouse, DuckDBWarehouse):
        with warehouse.connect() as conn:
            conn.execute("delete from pipeline.promotions")
    else:
        warehouse._query(warehouse._client(), f"delete from {warehouse._id('pipeline', 'promotions')} where true")


def _first_seen(warehouse) -> dict[str, dt.datetime]:
    sql = "select code_version, first_seen_at from {} where asset = 'scores'"
    if isinstance(warehouse, DuckDBWarehouse):
        with warehouse.connect() as conn:
            rows = conn.execute(sql.format("pipeline.code_versions")).fetchall()
    else:
        rows = [tuple(r.values()) for r in warehouse._arrow(warehouse._client(), sql.format(warehouse._id("pipeline", "code_versions"))).to_pylist()]
    return dict(rows)


def test_staging_tables_left_behind_are_listed_with_their_run_and_rows_and_dropped_one_at_a_time(warehouse_impl):
    assert warehouse_impl.staging_tables().empty  # nothing staged yet (BigQuery: no staging dataset yet)
    killed, other = str(uuid.uuid4()), str(uuid.uuid4())
    left = warehouse_impl.stage(REF, _rows(1), killed)  # a run killed after staging: never published
    other_left = warehouse_impl.stage(TYPED_REF, _rows(2, TYPED_DAYS[:1]), other)
    _publish(warehouse_impl, _rows(3), [True, True, True], str(uuid.uuid4()))  # a publish drops its own staging
    found = warehouse_impl.staging_tables()
    assert list(found.columns) == ["table", "run_prefix", "rows"]
    assert sorted(found.itertuples(index=False, name=None)) == sorted([
        (left, killed.replace("-", "")[:12], 6), (other_left, other.replace("-", "")[:12], 2)])
    warehouse_impl.drop_staging(left)
    assert warehouse_impl.staging_tables()["table"].tolist() == [other_left]
    assert _by_day(warehouse_impl.read(REF, None)) == {d: [3] for d in ("2024-01-14", "2024-01-15", "2024-01-16")}


def test_an_unpublished_table_is_missing_by_name(warehouse_impl):
    with pytest.raises(MissingTableError, match="analytics.scores does not exist yet"):
        warehouse_impl.read(REF, ["2024-01-14"])
    assert warehouse_impl.publish_records("scores", None).empty


TYPED = pd.DataFrame({
    "game_date": pd.to_datetime(["2024-01-14", "2024-01-14", "2024-01-15"]),
    "player_id": pd.array([1, None, 3], dtype="Int64"),
    "starter": pd.array([True, None, False], dtype="boolean"),
    "name": pd.array(["A'b", None, "C\\d"], dtype="string"),
    "share": [0.5, float("nan"), 0.25],
    "rate": pd.array([1.5, None, 2.0], dtype="Float64"),
    "snapshot_at": pd.to_datetime(["2024-01-14 09:00:00.123456", None, "2024-01-15 17:30:00.000000"]),
    "tip_off": pd.to_datetime(["2024-01-14 19:00", "2024-01-14 22:30", None]).tz_localize("UTC"),
    "season_start": [pd.Timestamp("2023-10-24").date(), None, pd.Timestamp("2023-10-24").date()],
})
TYPED_DAYS = pd.to_datetime(["2024-01-14", "2024-01-15"])
TYPED_REF = TableRef("raw", "typed")


def _typed_round_trip(warehouse: Warehouse, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    staging = warehouse.stage(TYPED_REF, frame, "run-typed")
    staged = warehouse.read_staged(staging)
    warehouse.publish(
        TYPED_REF, staging, _outcomes([True, True], TYPED_DAYS, rows=0), asset="typed", run_id="run-typed",
        code_version="v1",
    )
    return staged, warehouse.read(TYPED_REF, None)


@pytest.mark.parametrize("reads", ["bigquery", "bigquery_rest"])
@pytest.mark.parametrize("rows", ["some", "none"], ids=["rows", "off_day"])
def test_types_round_trip_the_same_on_both_warehouses(tmp_path, request, rows, reads):
    """Nullable Int64/boolean/string, floats, naive and zoned timestamps, dates: the same dtypes and values back
    from BigQuery as from DuckDB, whether BigQuery's table reads are Storage Read API streams or REST queries. An off
    day (no rows) still creates the table, which reads back empty and typed."""
    frame = TYPED if rows == "some" else TYPED.iloc[0:0]
    duck_staged, duck = _typed_round_trip(make_warehouse("duckdb", tmp_path, request), frame)
    bq_staged, bq = _typed_round_trip(make_warehouse(reads, tmp_path, request), frame)
    if rows == "none":
        # an empty object column carries no type: DuckDB keeps a NULL-typed column (object back), BigQuery has no
        # NULL type and makes it STRING. Typed columns (every other one here) come back identical.
        assert duck["season_start"].dtype == object and bq["season_start"].dtype == "string"
        duck, bq = duck.drop(columns="season_start"), bq.drop(columns="season_start")
        duck_staged, bq_staged = duck_staged.drop(columns="season_start"), bq_staged.drop(columns="season_start")
    assert duck.dtypes.to_dict() == bq.dtypes.to_dict()
    assert duck_staged.dtypes.to_dict() == bq_staged.dtypes.to_dict() == duck.dtypes.to_dict()
    assert list(bq.columns) == list(duck.columns) and len(bq) == len(frame)
    key = ["game_date", "snapshot_at"]
    pd.testing.assert_frame_equal(
        duck.sort_values(key, na_position="last").reset_index(drop=True),
        bq.sort_values(key, na_position="last").reset_index(drop=True),
    )
    if rows == "some":
        assert bq["player_id"].isna().sum() == 1 and bq["starter"].dtype == "boolean" and bq["name"].dtype == "string"
        assert bq.loc[bq["player_id"] == 1, "snapshot_at"].iloc[0] == pd.Timestamp("2024-01-14 09:00:00.123456")


def test_an_off_day_between_game_days_publishes_nothing_and_keeps_the_others(warehouse_impl):
    """An empty step (no games) publishes its date with 0 rows; the table exists from then on."""
    off = pd.to_datetime(["2024-01-17"])
    _publish(warehouse_impl, _rows(5, off).iloc[0:0], [True], "run-off", days=off)
    assert warehouse_impl.read(REF, None).empty
    assert list(warehouse_impl.read(REF, ["2024-01-17"]).columns) == ["game_date", "player_id", "pts"]
    _publish(warehouse_impl, _rows(5), [True, True, True], "run-1")
    assert len(warehouse_impl.read(REF, None)) == 6
    assert warehouse_impl.publish_records("scores", ["2024-01-17"])["rows"].tolist() == [0]


def test_a_new_column_is_added_and_older_rows_read_null(warehouse_impl):
    _publish(warehouse_impl, _rows(1), [True, True, True], "run-1")
    wider = _rows(2).assign(ast=pd.array([4] * 6, dtype="Int64"))
    day = pd.to_datetime(["2024-01-14"])
    _publish(warehouse_impl, wider[wider["game_date"] == day[0]], [True], "run-2", days=day)
    published = warehouse_impl.read(REF, None)
    assert published["ast"].dtype == "Int64"
    assert published.groupby(published["game_date"].dt.strftime("%Y-%m-%d"))["ast"].count().to_dict() == {
        "2024-01-14": 2, "2024-01-15": 0, "2024-01-16": 0}


def test_a_retyped_column_is_refused_by_name_and_nothing_is_published(warehouse_impl):
    """A code change that makes `pts` fractional: DuckDB would round 1.5 into the BIGINT column and BigQuery reject
    the insert mid-publish. Both refuse before writing, naming the column and both types."""
    _publish(warehouse_impl, _rows(1), [True, True, True], "run-1")
    fractional = _rows(1).assign(pts=pd.array([1.5] * 6, dtype="Float64"))
    staging = warehouse_impl.stage(REF, fractional, "run-2")
    with pytest.raises(ColumnTypeChanged, match=r"pts is (BIGINT|INT64) in analytics\.scores but (DOUBLE|FLOAT64) in this "
                       r"step's rows.*nothing of this step was published"):
        warehouse_impl.publish(REF, staging, _outcomes([True, True, True]), asset="scores", run_id="run-2",
                               code_version="v1")
    assert _by_day(warehouse_impl.read(REF, None)) == {d: [1] for d in ("2024-01-14", "2024-01-15", "2024-01-16")}
    assert set(warehouse_impl.publish_records("scores", None)["run_id"]) == {"run-1"}


def test_a_widened_or_all_null_column_still_publishes(warehouse_impl):
    """What casts without changing a value is not a type change: integers into a float column, and a column with
    no value at all (a NULL casts to anything)."""
    _publish(warehouse_impl, _rows(1).assign(share=pd.array([0.5] * 6, dtype="Float64")), [True, True, True], "run-1")
    day = pd.to_datetime(["2024-01-14"])
    ints = _rows(2, day).assign(share=pd.array([1, 2], dtype="Int64"))
    _publish(warehouse_impl, ints, [True], "run-2", days=day)
    day = pd.to_datetime(["2024-01-15"])
    nothing = _rows(3, day).assign(share=pd.array([None, None], dtype="string"))
    _publish(warehouse_impl, nothing, [True], "run-3", days=day)
    published = warehouse_impl.read(REF, None).sort_values(["game_date", "player_id"])
    assert published["share"].dtype == "Float64"
    share = published.groupby(published["game_date"].dt.strftime("%Y-%m-%d"))["share"].apply(lambda s: s.tolist()).to_dict()
    assert share["2024-01-14"] == [1.0, 2.0] and share["2024-01-16"] == [0.5, 0.5]
    assert pd.isna(share["2024-01-15"]).all()


def _game_date_types(warehouse: Warehouse) -> dict[str, str]:
    """The stored type of game_date in the table and its quarantine."""
    tables = {"table": REF, "quarantine": TableRef("quarantine", REF.flat)}
    if isinstance(warehouse, DuckDBWarehouse):
        with duckdb.connect(warehouse.database, read_only=True) as conn:
            return {k: conn.execute(f"select column_type from (describe {t.name}) where column_name = 'game_date'")
                    .fetchone()[0] for k, t in tables.items()}
    client = warehouse._client()
    return {k: next(f.field_type for f in client.get_table(f"{PROJECT}.{warehouse._dataset(t.schema)}.{t.table}").schema
                    if f.name == "game_date") for k, t in tables.items()}


def test_game_date_is_published_as_a_date_and_a_table_that_holds_timestamps_is_migrated(warehouse_impl, monkeypatch):
    """game_date is a calendar date: published (and quarantined) as DATE, not TIMESTAMP. A table published by the
    code before (game_date staged as it was made, a midnight TIMESTAMP / DATETIME) becomes DATE on its next
    publish, every row kept; the column-type guard does not refuse that one change."""
    for module in ("duckdb_warehouse", "bigquery_warehouse"):  # the code before: rows staged as the transform made them
        monkeypatch.setattr(f"nba_pipeline.warehouse.{module}.dated", lambda frame: frame)
    _publish(warehouse_impl, _rows(10), [True, False, True], "run-1")
    old = _game_date_types(warehouse_impl)
    assert set(old.values()) <= {"TIMESTAMP", "TIMESTAMP_NS", "DATETIME"}, old
    monkeypatch.undo()

    later = DAYS[1:]
    _publish(warehouse_impl, _rows(20, later), [True, False], "run-2", days=later)
    assert _game_date_types(warehouse_impl) == {"table": "DATE", "quarantine": "DATE"}
    published = warehouse_impl.read(REF, None)
    assert published["game_date"].dtype == "datetime64[ns]"  # what transforms make and read
    assert _by_day(published) == {"2024-01-14": [10], "2024-01-15": [20], "2024-01-16": [10]}
    assert _by_day(warehouse_impl.read(REF, ["2024-01-16"])) == {"2024-01-16": [10]}
    quarantined = warehouse_impl.read(TableRef("quarantine", REF.flat), None)
    assert quarantined.groupby("_run_id")["game_date"].agg(lambda d: sorted(d.dt.strftime("%Y-%m-%d").unique())).to_dict() == {
        "run-1": ["2024-01-15"], "run-2": ["2024-01-16"]}
    if isinstance(warehouse_impl, DuckDBWarehouse):  # the Parquet read copy readers open
        copy = warehouse_impl.read_copy_source("analytics", "scores")
        with duckdb.connect() as conn:  # in every month file
            types = conn.execute(f"select distinct column_type from (describe select * from read_parquet({copy}, "
                                 "union_by_name = true)) where column_name = 'game_date'").fetchall()
            assert types == [("DATE",)]
            per_file = conn.execute(f"select distinct type, logical_type from parquet_schema({copy}) where name = 'game_date'").fetchall()
            assert len(per_file) == 1, per_file


def test_a_new_table_stores_game_date_as_a_date(warehouse_impl):
    rows = _rows(1).assign(pts=pd.array(range(6), dtype="Int64"))
    kept = rows[rows["game_date"] != DAYS[0]]  # a step's rows after its held-back dates are dropped: index 2..5
    _publish(warehouse_impl, kept, [True, False], "run-1", days=DAYS[1:])
    assert _game_date_types(warehouse_impl) == {"table": "DATE", "quarantine": "DATE"}
    assert _by_day(warehouse_impl.read(REF, None)) == {"2024-01-15": [2, 3]}
    assert _by_day(warehouse_impl.read(TableRef("quarantine", REF.flat), None)) == {"2024-01-16": [4, 5]}
