"""`nba-pipeline materialize` refuses a bad range before Dagster creates a run, naming the end that is wrong."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("nba-pipeline"))


@pytest.mark.parametrize(
    "partition_range, message",
    [
        ("2021-10-25...2021-10-19", "range end 2021-10-19 precedes range start 2021-10-25"),
        ("2021-10-19...2021-13-01", "'2021-13-01' is not a real calendar date"),
        ("YESTERDAY...2021-10-19", "'YESTERDAY' is not a game-date partition key"),
        ("2021-10-19", "must be START...END"),
    ],
)
def test_a_bad_range_is_refused_before_any_run_exists(tmp_path, partition_range, message):
    home = tmp_path / "home"
    home.mkdir()
    out = subprocess.run(
        [CLI, "materialize", "--select", "schedule", "--partition-range", partition_range],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"DAGSTER_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (home / "storage").exists()  # no run was ever created


def test_a_good_range_is_handed_to_dagster(tmp_path):
    home, warehouse = tmp_path / "home", tmp_path / "w.duckdb"
    home.mkdir()
    out = subprocess.run(
        [CLI, "materialize", "--select", "schedule", "--partition-range", "2024-01-14...2024-01-15"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "published" / "raw" / "schedule.parquet").exists()
