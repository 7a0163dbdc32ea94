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


def test_a_good_range_is_handed_to_dagster_with_progress_and_a_summary(tmp_path):
    home, warehouse, faults = tmp_path / "home", tmp_path / "w.duckdb", tmp_path / "faults.yaml"
    home.mkdir()
    faults.write_text("duplicate_row_rate: 1.0\naffected_dates: ['2024-01-15']\n")  # every game of the 15th
    out = subprocess.run(
        [CLI, "materialize", "--select", "schedule,player_boxscores", "--partition-range", "2024-01-14...2024-01-15"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse), "NBA_PIPELINE_FAULTS_FILE": str(faults),
             "PATH": "/usr/bin:/bin"},
    )
    text = out.stdout + out.stderr
    assert (tmp_path / "published" / "raw" / "schedule.parquet").exists(), text[-3000:]
    # INFO, not every event at DEBUG, and none of Dagster's API-stability notes
    assert " - DEBUG - " not in text and "BetaWarning" not in text and "PreviewWarning" not in text, text[:3000]
    # each step says where it is and how it ended
    for asset in ("schedule", "player_boxscores"):
        assert f"{asset}: started on 2024-01-14, 2024-01-15 (step " in text, text[-3000:]
    assert "schedule: done in " in text and "2 date(s) published, 0 quarantined" in text
    assert "1 date(s) published, 1 quarantined (2024-01-15: see its failed checks)" in text
    # and the range as it stands, at the end: the quarantined date and the check that failed
    summary = out.stdout.split("== 2024-01-14...2024-01-15 now", 1)[1]
    assert "VERDICT: CRITICAL" in summary
    failed = summary.split("Failed blocking checks", 1)[1].split("\n\n", 1)[0]
    assert "player_boxscores 2024-01-15 quarantined" in " ".join(failed.split()), failed


def test_the_parser_imports_no_subcommand_module():
    """Building the parser imports neither validation nor pandas / Dagster: `status` pays only for what it uses."""
    from nba_pipeline.cli import VALIDATE_PHASES
    from nba_pipeline.validation import PHASES

    assert VALIDATE_PHASES == PHASES
    code = ("import sys\nfrom nba_pipeline.cli import main\ntry:\n    main(['validate', '--phase', 'nope', '--start', "
            "'2024-01-01', '--end', '2024-01-02'])\nexcept SystemExit as exit:\n    assert exit.code == 2\n"
            "print(sorted(m for m in ('nba_pipeline.validation', 'pandas', 'dagster', 'duckdb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]
    assert "invalid choice: 'nope'" in out.stderr
