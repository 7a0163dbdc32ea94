"""`nba-pipeline materialize` refuses a bad range, selection or thresholds file before Dagster creates a run, naming
what is wrong."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nba_pipeline_tests.postgres import instance_home

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("nba-pipeline"))


def _env(**variables) -> dict[str, str]:
    """A bare environment, plus PYTHONPATH if set: the CLI then imports the `nba_pipeline` under test."""
    return {"PATH": "/usr/bin:/bin", **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
            **variables}


@pytest.mark.parametrize(
    "partition_range, message",
    [
        ("2021-10-25...2021-10-19", "range end 2021-10-19 precedes range start 2021-10-25"),
        ("2021-10-19...2021-13-01", "'2021-13-01' is not a real calendar date"),
        ("YESTERDAY...2021-10-19", "'YESTERDAY' is not a game-date partition key"),
        ("2021-10-19...", "must be START...END or one date"),
    ],
)
def test_a_bad_range_is_refused_before_any_run_exists(tmp_path, partition_range, message):
    home = tmp_path / "home"
    home.mkdir()
    out = subprocess.run(
        [CLI, "materialize", "--select", "schedule", "--partition-range", partition_range],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=_env(DAGSTER_HOME=str(home)),
    )
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (home / "storage").exists()  # no run was ever created


RAW_GROUPS = "groups: analytics, ml, precompute, predictions, raw"


def _last_partition() -> str:
    from nba_pipeline.partitions import game_date_partitions

    return game_date_partitions.get_last_partition_key()


@pytest.mark.parametrize(
    "select, partition_range, messages",
    [
        # Dagster alone would run all 16 steps for a selection that matches nothing
        ("group:rawz", "2024-01-14...2024-01-15", ["--select 'group:rawz': no group 'rawz' (did you mean 'raw'?)", RAW_GROUPS]),
        # an empty operand of an `or` is named too, though the whole selection matches the raw group
        ("group:raw or group:rawz", "2024-01-14...2024-01-15", ["no group 'rawz' (did you mean 'raw'?)", RAW_GROUPS]),
        ("schedul,player_boxscores", "2024-01-14...2024-01-15",
         ["no asset 'schedul' (did you mean 'schedule'?)", "assets: injury_report, ml_feature_store, "]),
        ("group:raw and key:points_model", "2024-01-14...2024-01-15", ["matches no asset", RAW_GROUPS]),
        ("key:schedule", "2024-01-14...2024-01-15", ['Invalid selection string', 'write key:"schedule"']),
        ("points_model", "2024-01-14...2024-01-15", ["selects only unpartitioned assets (points_model)"]),
        ("schedule", "2024-01-14...2030-01-01", ["2030-01-01 is after the latest partition {last}"]),
    ],
)
def test_a_bad_selection_or_a_date_past_the_last_partition_is_one_line_and_no_run(tmp_path, select, partition_range, messages):
    import dagster as dg

    home = instance_home(tmp_path / "home", "local")
    out = subprocess.run(
        [CLI, "materialize", "--select", select, "--partition-range", partition_range],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=_env(DAGSTER_HOME=str(home), NBA_PIPELINE_WAREHOUSE=str(tmp_path / "w.duckdb")),
    )
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr[-3000:]
    for message in messages:
        assert message.format(last=_last_partition()) in out.stderr, out.stderr
    assert "no run was created" in out.stderr and out.stdout == ""
    assert list(dg.DagsterInstance.from_config(str(home)).get_runs()) == []
    assert not (tmp_path / "w.duckdb").exists()


@pytest.mark.parametrize(
    "thresholds, message",
    [
        ("player_game_summary:\n  usage_rate_populated_min_pct: 150\n",
         "player_game_summary.usage_rate_populated_min_pct: Input should be less than or equal to 100 (got 150)"),
        ("player_game_summary: [\n", "cannot read thresholds file"),  # YAML's own message spans lines
    ],
)
def test_a_bad_thresholds_file_is_one_line_naming_the_key_and_no_run(tmp_path, thresholds, message):
    import dagster as dg

    home, override = instance_home(tmp_path / "home", "local"), tmp_path / "thresholds.yaml"
    override.write_text(thresholds)
    out = subprocess.run(
        [CLI, "materialize", "--select", "schedule", "--partition-range", "2024-01-14...2024-01-15"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=_env(DAGSTER_HOME=str(home), NBA_PIPELINE_WAREHOUSE=str(tmp_path / "w.duckdb"),
                 NBA_PIPELINE_THRESHOLDS=str(override)),
    )
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr[-3000:]
    assert message in out.stderr and str(override) in out.stderr, out.stderr
    assert list(dg.DagsterInstance.from_config(str(home)).get_runs()) == []


@pytest.mark.parametrize(
    "select, unknown",
    [
        ("group:raw", None),
        ("key:sched* or group:ml+", None),
        ('roots(group:"raw") and not kind:duckdb', None),
        ("*schedule+, 2+player_boxscores", None),
        ("group:raw or group:rawz", "no group 'rawz' (did you mean 'raw'?); groups: ml, raw"),
        ("key:nope or xyz and schedule",
         "no asset 'nope'; no asset 'xyz'; assets: player_boxscores, points_model, schedule"),
        ("group:rw, key:shedule*", "no group 'rw' (did you mean 'raw'?); no asset 'shedule*' (did you mean 'schedule'?); "
         "groups: ml, raw; assets: player_boxscores, points_model, schedule"),
    ],
)
def test_every_name_a_selection_uses_must_exist(select, unknown):
    from nba_pipeline.selection import unknown_names

    assert unknown_names(select, {"schedule", "player_boxscores", "points_model"}, {"raw", "ml"}) == unknown


def test_a_good_range_is_handed_to_dagster_with_progress_and_a_summary(tmp_path):
    home, warehouse, faults = tmp_path / "home", tmp_path / "w.duckdb", tmp_path / "faults.yaml"
    home.mkdir()
    faults.write_text("duplicate_row_rate: 1.0\naffected_dates: ['2024-01-15']\n")  # every game of the 15th
    out = subprocess.run(
        [CLI, "materialize", "--select", "schedule,player_boxscores", "--partition-range", "2024-01-14...2024-01-15"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=_env(DAGSTER_HOME=str(home), NBA_PIPELINE_WAREHOUSE=str(warehouse), NBA_PIPELINE_FAULTS_FILE=str(faults)),
    )
    text = out.stdout + out.stderr
    assert (tmp_path / "published" / "raw" / "schedule" / "2024-01.parquet").exists(), text[-3000:]
    # INFO, not every event at DEBUG, and none of Dagster's API-stability notes
    assert " - DEBUG - " not in text and "BetaWarning" not in text and "PreviewWarning" not in text, text[:3000]
    # each step says where it is and how it ended
    positions = {asset: re.search(rf"{asset}: started on 2024-01-14, 2024-01-15 \(step (\d+) of (\d+)\)", text)
                 for asset in ("schedule", "player_boxscores")}
    assert all(positions.values()), text[-3000:]
    assert sorted(m.groups() for m in positions.values()) == [("1", "2"), ("2", "2")]  # counted by ended steps
    assert "schedule: done in " in text and "2 date(s) published, 0 quarantined" in text
    assert "1 date(s) published, 1 quarantined (2024-01-15: see its failed checks)" in text
    # and the range as it stands, at the end: the quarantined date and the check that failed
    summary = out.stdout.split("== 2024-01-14...2024-01-15 now", 1)[1]
    assert "VERDICT: CRITICAL" in summary
    failed = summary.split("Failed blocking checks", 1)[1].split("\n\n", 1)[0]
    assert "player_boxscores 2024-01-15 quarantined" in " ".join(failed.split()), failed


@pytest.mark.parametrize("command", [["materialize", "--select", "schedule"], ["status"], ["validate", "--phase", "raw"]])
def test_every_command_takes_a_range_the_same_way(command):
    from nba_pipeline.cli import RangeError, build_parser, resolve_range

    def resolved(*options: str):
        return resolve_range(build_parser().parse_args([*command, *options]))

    expected = ("2024-01-01", "2024-01-31")
    assert resolved("--partition-range", "2024-01-01...2024-01-31") == expected
    assert resolved("--partition-range", "2024-01-01..2024-01-31") == expected
    assert resolved("--start", "2024-01-01", "--end", "2024-01-31") == expected
    assert resolved("--partition-range", "2024-01-05") == ("2024-01-05", "2024-01-05")
    with pytest.raises(RangeError, match="not both"):
        resolved("--partition-range", "2024-01-05", "--start", "2024-01-01")
    with pytest.raises(RangeError, match="precedes"):
        resolved("--partition-range", "2024-01-31...2024-01-01")
    if command[0] == "status":  # status alone may be given no range: the dates the warehouse has records of
        assert resolved() == (None, None)
    else:
        with pytest.raises(RangeError, match="a date range is required"):
            resolved("--start", "2024-01-01")


def test_the_parser_imports_no_subcommand_module():
    """Building the parser imports neither validation nor pandas / Dagster: `status` pays only for what it uses."""
    from nba_pipeline import cli
    from nba_pipeline.ops import verdict
    from nba_pipeline.ops.validation import PHASES

    assert cli.VALIDATE_PHASES == PHASES
    assert (cli.OK, cli.ACTION_NEEDED, cli.BAD_INPUT, cli.NOT_REACHED) == (
        verdict.OK, verdict.ACTION_NEEDED, verdict.BAD_INPUT, verdict.NOT_REACHED)
    code = ("import sys\nfrom nba_pipeline.cli import main\ntry:\n    main(['validate', '--phase', 'nope', '--start', "
            "'2024-01-01', '--end', '2024-01-02'])\nexcept SystemExit as exit:\n    assert exit.code == 2\n"
            "print(sorted(m for m in ('nba_pipeline.ops.validation', 'pandas', 'dagster', 'duckdb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]
    assert "invalid choice: 'nope'" in out.stderr
