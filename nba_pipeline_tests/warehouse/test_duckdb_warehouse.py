"""The DuckDB warehouse on its own (no Dagster): write–audit–publish per date, quarantine, the code-version
order, and readers and lock holders that never make a run fail silently."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import textwrap

import dagster as dg
import duckdb
import pandas as pd
import pytest

from nba_pipeline.resources import resources_for
from nba_pipeline.warehouse.base import TableRef, WarehouseError
from nba_pipeline.warehouse.duckdb_warehouse import DuckDBWarehouse
from nba_pipeline_tests.conftest import RAW_AND_ANALYTICS, read_table

REF = TableRef("analytics", "scores")
DAYS = pd.to_datetime(["2024-01-14", "2024-01-15", "2024-01-16"])


def _rows(value: int) -> pd.DataFrame:
    return pd.DataFrame({"game_date": DAYS.repeat(2), "player_id": [1, 2] * 3, "pts": pd.array([value] * 6, dtype="Int64")})


def _outcomes(passed: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {"game_date": DAYS, "passed": passed, "rows": 2, "failed_checks": ["" if p else "pts_ok" for p in passed],
         "checks": ["all blocking checks passed" if p else "pts_ok: rows 1/2" for p in passed]}
    )


def _publish(warehouse: DuckDBWarehouse, value: int, passed: list[bool], run: str, version: str = "v1"):
    staging = warehouse.stage(REF, _rows(value), run)
    warehouse.publish(REF, staging, _outcomes(passed), asset="scores", run_id=run, code_version=version)


def test_only_passed_dates_are_published_and_failed_dates_keep_their_rows(tmp_path):
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    _publish(warehouse, 10, [True, True, True], "run-1")
    _publish(warehouse, 99, [True, False, True], "run-2")
    published = warehouse.read(REF, None)
    by_day = published.groupby(published["game_date"].dt.strftime("%Y-%m-%d"))["pts"].unique().map(list).to_dict()
    assert by_day == {"2024-01-14": [99], "2024-01-15": [10], "2024-01-16": [99]}
    records = warehouse.publish_records("scores", None).set_index("game_date")
    assert records.loc["2024-01-15", ["run_id", "outcome"]].tolist() == ["run-2", "quarantined"]
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        quarantined = conn.execute("select game_date, pts, _run_id from quarantine.analytics__scores").fetchdf()
        staging_left = conn.execute("select count(*) from information_schema.tables where table_schema = 'staging'").fetchone()[0]
    assert set(quarantined["pts"]) == {99} and set(quarantined["_run_id"]) == {"run-2"}
    assert staging_left == 0
    # the read copy is what was published, readable without touching the DuckDB file, by the glob a reader uses
    assert warehouse.read_copy_source("analytics", "scores") == f"'{tmp_path}/published/analytics/scores/*.parquet'"
    copy = duckdb.sql(f"select * from '{tmp_path}/published/analytics/scores/*.parquet'").fetchdf()
    assert sorted(copy["pts"].tolist()) == sorted(published["pts"].tolist())
    log = duckdb.sql(f"select run_id, outcome from read_parquet({warehouse.read_copy_source('pipeline', 'publish_log')})")
    assert sorted(log.fetchall()) == sorted([("run-1", "published")] * 3 + [("run-2", "published")] * 2 + [("run-2", "quarantined")])
    assert warehouse.read_copy_source("analytics", "never_published") is None


def test_the_quarantine_read_copy_is_rewritten_only_when_the_quarantine_changes(tmp_path):
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    copy = tmp_path / "published" / "quarantine" / "analytics__scores" / "2024-01.parquet"
    read = lambda: duckdb.sql(f"select pts, _run_id from '{copy.parent}/*.parquet' order by all").fetchall()  # noqa: E731
    _publish(warehouse, 10, [True, True, True], "run-1")
    assert copy.exists() and read() == []  # a first publish writes the (empty) copy
    _publish(warehouse, 99, [True, False, True], "run-2")
    assert read() == [(99, "run-2"), (99, "run-2")]
    written = copy.stat().st_mtime_ns
    _publish(warehouse, 11, [True, True, True], "run-3")  # nothing quarantined: the copy is left as it is
    assert copy.stat().st_mtime_ns == written and read() == [(99, "run-2"), (99, "run-2")]
    copy.unlink()
    _publish(warehouse, 12, [True, True, True], "run-4")  # a missing copy is written again
    assert read() == [(99, "run-2"), (99, "run-2")]
    _publish(warehouse, 13, [False, True, True], "run-5")
    assert read() == [(13, "run-5"), (13, "run-5"), (99, "run-2"), (99, "run-2")]
    # a new code version's column widens the quarantine: its copy is written with the new column
    staging = warehouse.stage(REF, _rows(14).assign(reb=pd.array([1] * 6, dtype="Int64")), "run-6")
    warehouse.publish(REF, staging, _outcomes([True, True, True]), asset="scores", run_id="run-6", code_version="v1")
    assert "reb" in duckdb.sql(f"select * from '{copy}'").columns


def _publish_on(warehouse: DuckDBWarehouse, days, value: int, passed: list[bool], run: str):
    frame = pd.DataFrame({"game_date": days.repeat(2), "player_id": [1, 2] * len(days),
                          "pts": pd.array([value] * 2 * len(days), dtype="Int64")})
    outcomes = pd.DataFrame({"game_date": days, "passed": passed, "rows": 2, "failed_checks": "", "checks": ""})
    warehouse.publish(REF, warehouse.stage(REF, frame, run), outcomes, asset="scores", run_id=run, code_version="v1")


def _files(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet")}


def test_a_days_publish_rewrites_only_its_months_files(tmp_path):
    """The copy is one file per month of game dates: a publish of January dates leaves every other month's file
    (table, quarantine and publish log) as it was."""
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    season = pd.to_datetime(["2023-11-02", "2023-12-05", "2024-01-14", "2024-02-01"])
    _publish_on(warehouse, season, 1, [True, True, True, False], "run-1")
    root = tmp_path / "published"
    folders = [root / "analytics" / "scores", root / "quarantine" / "analytics__scores", root / "pipeline" / "publish_log"]
    before = [_files(f) for f in folders]
    assert [sorted(b) for b in before] == [["2023-11.parquet", "2023-12.parquet", "2024-01.parquet", "2024-02.parquet"]] * 3
    _publish_on(warehouse, pd.to_datetime(["2024-01-15"]), 2, [True], "run-2")
    for folder, files in zip(folders, before):
        after = _files(folder)
        changed = sorted(name for name in after if after[name] != files.get(name))
        assert changed == (["2024-01.parquet"] if folder.name != "analytics__scores" else []), folder
    copy = duckdb.sql(f"select strftime(game_date, '%Y-%m-%d') d, pts from read_parquet({warehouse.read_copy_source('analytics', 'scores')}) order by all")
    assert copy.fetchall() == [("2023-11-02", 1), ("2023-11-02", 1), ("2023-12-05", 1), ("2023-12-05", 1),
                               ("2024-01-14", 1), ("2024-01-14", 1), ("2024-01-15", 2), ("2024-01-15", 2)]


def test_a_copy_a_killed_export_left_behind_is_caught_up_by_the_next_publish(tmp_path, monkeypatch):
    """A publish killed after its commit, before (or during) its export, leaves older month files — here of
    December — and the next publish, of January dates only, brings them up to date."""
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    _publish_on(warehouse, pd.to_datetime(["2023-12-05", "2024-01-14"]), 1, [True, True], "run-1")
    export = DuckDBWarehouse._export_read_copy
    monkeypatch.setattr(DuckDBWarehouse, "_export_read_copy", lambda *args: None)  # killed after the commit
    _publish_on(warehouse, pd.to_datetime(["2023-12-05", "2023-12-06"]), 7, [True, False], "run-2")
    table = tmp_path / "published" / "analytics" / "scores"
    (table / ".2024-01.parquet.99999.tmp").write_bytes(b"half a file")  # and one killed while writing
    monkeypatch.setattr(DuckDBWarehouse, "_export_read_copy", export)
    source = warehouse.read_copy_source("analytics", "scores")
    stale = duckdb.sql(f"select pts from read_parquet({source}) where game_date = '2023-12-05'").fetchall()
    assert stale == [(1,), (1,)]
    _publish_on(warehouse, pd.to_datetime(["2024-01-16"]), 3, [True], "run-3")
    caught_up = duckdb.sql(f"select strftime(game_date, '%Y-%m-%d'), pts from read_parquet({source}) where game_date < '2024-01-01' order by all")
    assert caught_up.fetchall() == [("2023-12-05", 7), ("2023-12-05", 7)]
    quarantine = duckdb.sql(f"select _run_id from read_parquet({warehouse.read_copy_source('quarantine', 'analytics__scores')})")
    assert quarantine.fetchall() == [("run-2",), ("run-2",)]
    log = duckdb.sql(f"select count(*) from read_parquet({warehouse.read_copy_source('pipeline', 'publish_log')})")
    assert log.fetchall() == [(5,)]
    assert not list(table.glob(".*.tmp"))


def test_a_copy_in_the_single_file_layout_before_is_replaced_by_month_files(tmp_path):
    """A warehouse last exported by the version before the partitioned copy: readers get its single file until
    the next publish, which writes every month and removes it."""
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    _publish_on(warehouse, pd.to_datetime(["2023-12-05", "2024-01-14"]), 1, [True, True], "run-1")
    root = tmp_path / "published"
    for folder, single in ((root / "analytics" / "scores", root / "analytics" / "scores.parquet"),
                           (root / "pipeline" / "publish_log", root / "pipeline" / "publish_log.parquet")):
        duckdb.sql(f"copy (select * from '{folder}/*.parquet') to '{single}' (format parquet)")
        shutil.rmtree(folder)
    assert warehouse.read_copy_source("analytics", "scores") == f"'{root}/analytics/scores.parquet'"
    _publish_on(warehouse, pd.to_datetime(["2024-01-15"]), 2, [True], "run-2")
    assert warehouse.read_copy_source("analytics", "scores") == f"'{root}/analytics/scores/*.parquet'"
    assert not (root / "analytics" / "scores.parquet").exists() and not (root / "pipeline" / "publish_log.parquet").exists()
    assert sorted(p.name for p in (root / "analytics" / "scores").iterdir()) == ["2023-12.parquet", "2024-01.parquet"]
    rows = duckdb.sql(f"select count(*) from read_parquet({warehouse.read_copy_source('analytics', 'scores')})")
    assert rows.fetchall() == [(6,)]


def test_a_promotion_is_in_the_read_copy(tmp_path):
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    _publish(warehouse, 1, [True, True, True], "old-1", "old")
    warehouse.promote({"scores": "new"}, "dev@host", "fix")
    copy = duckdb.sql(f"select asset, code_version, previous_version, note from '{tmp_path}/published/pipeline/promotions.parquet' "
                      "order by promoted_at").fetchall()
    assert copy == [("scores", "old", None, ""), ("scores", "new", "old", "fix")]


def _hold_lock(path, seconds: float) -> subprocess.Popen:
    """Another process holding the warehouse file read-write (a notebook, the duckdb CLI)."""
    code = textwrap.dedent(f"""
        import duckdb, sys, time
        conn = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        time.sleep({seconds})
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_lock_holder_is_named_while_a_step_waits_and_the_step_goes_on_after(tmp_path, caplog):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 4)
    with caplog.at_level(logging.WARNING):
        _publish(DuckDBWarehouse(database=str(path)), 10, [True, True, True], "run-1")
    holder.wait()
    waits = [r.getMessage() for r in caplog.records if "waiting for the warehouse lock" in r.getMessage()]
    assert waits and f"held by PID {holder.pid}" in waits[0]


def test_a_lock_held_past_the_timeout_fails_naming_the_holder(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 30)
    try:
        with pytest.raises(WarehouseError, match=rf"locked by PID {holder.pid}.*Parquet read copy"):
            DuckDBWarehouse(database=str(path), lock_timeout_seconds=2).read(REF, None)
        assert holder.poll() is None  # it gave up on its own timeout, while the lock was still held
    finally:
        holder.kill()


def test_an_unwritable_location_fails_at_once_by_name(caplog):
    with caplog.at_level(logging.WARNING), pytest.raises(WarehouseError, match="/proc/nba_pipeline"):
        DuckDBWarehouse(database="/proc/nba_pipeline/warehouse.duckdb").read(REF, None)
    assert not [r for r in caplog.records if "waiting" in r.getMessage()]  # no lock wait: not a lock problem


def test_a_reader_holding_the_read_copy_open_through_a_backfill_does_not_block_it(tmp_path):
    """A reader process scans the published Parquet copy, holding it open, while a two-week backfill runs."""
    database = tmp_path / "warehouse.duckdb"
    resources = resources_for("local", warehouse_path=str(database))
    day = {"dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2024-01-01"}
    assert dg.materialize(RAW_AND_ANALYTICS, resources=resources, tags=day).success
    source = resources["warehouse"].read_copy_source("analytics", "player_game_summary")
    held = tmp_path / "published" / "analytics" / "player_game_summary" / "2024-01.parquet"
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, time
            conn = duckdb.connect()
            conn.execute("create view pgs as select * from read_parquet({source})")
            cursor = conn.execute("select * from pgs")
            print(len(cursor.fetchmany(10)), flush=True)
            handle = open('{held}', 'rb')  # and a plain open file handle, as a BI tool keeps
            time.sleep(120)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "10"
        weeks = {"dagster/asset_partition_range_start": "2024-01-02", "dagster/asset_partition_range_end": "2024-01-15"}
        assert dg.materialize(RAW_AND_ANALYTICS, resources=resources, tags=weeks).success
        assert reader.poll() is None  # done while the reader still holds it
    finally:
        reader.kill()
    published = read_table(str(database), "analytics.player_game_summary")
    refreshed = duckdb.sql(f"select count(*) from read_parquet({source})").fetchall()[0][0]
    assert refreshed == len(published) and published["game_date"].nunique() == 15


def _opens(warehouse: DuckDBWarehouse, monkeypatch) -> list[str]:
    opened: list[str] = []
    connect_new = DuckDBWarehouse._connect_new
    monkeypatch.setattr(DuckDBWarehouse, "_connect_new", lambda self, log=None: opened.append(self.database) or connect_new(self, log))
    return opened


def test_a_kept_session_serves_its_own_step_once_and_is_closed_by_any_other(tmp_path, monkeypatch):
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    _publish(warehouse, 10, [True, True, True], "run-1")
    opened = _opens(warehouse, monkeypatch)
    with warehouse.session(step="run-2/a", keep=True):  # an input of step a
        warehouse.read(REF, ["2024-01-14"])
    with warehouse.session(step="run-2/a", keep=True):  # its next input
        warehouse.publish_records("scores", None)
    with warehouse.session(step="run-2/a"):  # its body: ends the session
        warehouse.read(REF, None)
    assert len(opened) == 1
    # closed: another process (here a read-only connection, which DuckDB refuses beside an open writer) gets the file
    subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(tmp_path / 'w.duckdb')!r}, read_only=True)"], check=True)

    with warehouse.session(step="run-2/b", keep=True):  # b's inputs load, then b fails before its body
        warehouse.read(REF, None)
    with warehouse.session(step="run-2/c"):  # the next step never gets b's connection
        warehouse.read(REF, None)
    assert len(opened) == 3
    subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(tmp_path / 'w.duckdb')!r}, read_only=True)"], check=True)


def test_a_failed_load_closes_the_kept_connection(tmp_path, monkeypatch):
    warehouse = DuckDBWarehouse(database=str(tmp_path / "w.duckdb"))
    _publish(warehouse, 10, [True, True, True], "run-1")
    with warehouse.session(step="run-2/a", keep=True):
        warehouse.read(REF, None)
    with pytest.raises(RuntimeError, match="gate"):
        with warehouse.session(step="run-2/a", keep=True):  # the step's second input fails its gate
            raise RuntimeError("gate refused")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:  # in this process too: nothing open
        assert conn.execute("select count(*) from analytics.scores").fetchone()[0] == 6


def test_a_published_steps_inputs_and_body_open_the_warehouse_once(tmp_path, monkeypatch):
    database = str(tmp_path / "warehouse.duckdb")
    resources = resources_for("local", warehouse_path=database)
    raw = [a for a in RAW_AND_ANALYTICS if a.key.path[-1] in {"schedule", "player_boxscores", "team_boxscores"}]
    offense = next(a for a in RAW_AND_ANALYTICS if a.key.path[-1] == "team_offense_game_summary")
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(raw, resources=resources, partition_key="2024-01-15", instance=instance).success
    opened = _opens(resources["warehouse"], monkeypatch)
    result = dg.materialize([offense, *raw], selection=[offense.key], resources=resources, partition_key="2024-01-15", instance=instance)
    assert result.success and len(opened) == 1  # three inputs, the write, the audit and the publish: one connection
    with duckdb.connect(database, read_only=True) as conn:  # closed when the step ended
        assert conn.execute("select count(*) from analytics.team_offense_game_summary").fetchone()[0] > 0
