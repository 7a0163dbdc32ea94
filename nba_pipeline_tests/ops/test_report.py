"""`nba-pipeline status` answers from a real instance and warehouse: what is published, quarantined, blocked (and by
which upstream check on which date), what failed and why, one verdict and its exit code."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pandas as pd
import pytest

from nba_pipeline.checks import names
from nba_pipeline.checks.gate import first_bad_upstream as _first_bad_upstream
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.ops.report import StatusReport, build_report
from nba_pipeline.ops.runs import _progress
from nba_pipeline.ops.text import format_report
from nba_pipeline.ops.verdict import CRITICAL, HEALTHY, RULES, WARNING, verdict
from nba_pipeline_tests.conftest import EVERY_PHASE, run_range
from nba_pipeline_tests.postgres import instance_home

ROOT = Path(__file__).resolve().parents[2]
START, BAD, END = "2021-10-19", "2021-10-22", "2021-10-25"
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
RAW = ["schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines", "referee_assignments"]
PRECOMPUTE_ON = ["player_composite_factors", "player_daily_cache", "ml_feature_store", "points_prop_predictions"]


def _cli(home: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nba_pipeline.cli", "status", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """Every phase over a week, vendor game ids in the box scores of one date: the report and the CLI's answers
    taken right away (a later fixture repairs the date on the same instance)."""
    root = tmp_path_factory.mktemp("status")
    home, warehouse = root / "home", root / "warehouse.duckdb"
    instance = dg.DagsterInstance.local_temp(str(instance_home(home, "local")))
    # the bad date is quarantined, the dates reading it held back, the others built (the model learns from the
    # week's early-season rows too, so predictions and grading are made where their inputs passed)
    run_range(str(warehouse), START, END, faults=FAULT, instance=instance, assets=EVERY_PHASE)
    report = build_report(instance, str(warehouse))
    return SimpleNamespace(
        home=home, warehouse=warehouse, instance=instance, report=report,
        human=_cli(home, warehouse), json=_cli(home, warehouse, "--json"),
    )


def _counts(report: StatusReport) -> dict[str, dict[str, int]]:
    return report.assets.set_index("asset").drop(columns="dates").to_dict(orient="index")


def test_per_asset_counts(night):
    counts, report = _counts(night.report), night.report
    assert (report.start, report.end) == (START, END)  # the default range: the dates the warehouse has records of
    for asset in [*RAW, "team_offense_game_summary", "team_defense_game_summary"]:
        assert counts[asset]["published"] == 7 and sum(counts[asset].values()) == 7, asset
    summary = counts["player_game_summary"]
    assert summary == {"published": 6, "quarantined": 1, "failed": 0, "blocked": 0, "running": 0, "unverified": 0, "missing": 0}
    # pre-game assets: the bad date's own slate reads box scores only up to the day before, so it is built with the
    # dates before it; the three dates after it read the bad date: held back by the run, blocked
    for asset in PRECOMPUTE_ON:
        assert (counts[asset]["blocked"], counts[asset]["missing"], counts[asset]["published"]) == (3, 0, 4), asset
    # grading reads the date's own box scores: the bad date itself is blocked too
    grading = counts["prediction_grading"]
    assert (grading["blocked"], grading["missing"], grading["published"]) == (4, 0, 3)


def test_the_blocked_dates_name_the_upstream_check_and_date(night):
    dates = night.report.dates.set_index(["asset", "game_date"])
    blocked = dates.loc[("player_composite_factors", "2021-10-23")]
    assert blocked["state"] == "blocked"
    assert (blocked["cause_asset"], blocked["cause_date"]) == ("player_game_summary", BAD)
    assert names.USAGE_RATE_POPULATED in blocked["cause_check"]
    assert ("player_composite_factors", BAD) not in dates.index  # published: its slate reads only the days before
    # blocked transitively: the feature store reads the daily cache, which reads the factors; the root cause is kept
    assert dates.loc[("ml_feature_store", END), "cause_asset"] == "player_game_summary"
    assert dates.loc[("player_game_summary", BAD), "state"] == "quarantined"
    assert "games: sr:match:" in dates.loc[("player_game_summary", BAD), "detail"]  # why: the vendor ids, by game


def test_failures_say_why_and_checks_are_counted_by_season(night):
    report = night.report
    failures = report.failures
    usage_rows = failures[(failures["asset"] == "player_game_summary") & (failures["check"] == names.USAGE_RATE_POPULATED)]
    assert len(usage_rows) == 1
    usage = usage_rows.iloc[0]
    assert usage["game_date"] == BAD and bool(usage["blocking"]) and usage["value"] == 0.0 and usage["threshold"] > 0
    assert usage["why"].startswith("games: sr:match:")
    canonical = failures[(failures["asset"] == "player_boxscores") & (failures["check"] == names.CANONICAL_GAME_IDS)]
    assert len(canonical) == 1 and not bool(canonical["blocking"].iloc[0])
    rates = report.checks.set_index(["asset", "check", "season"])
    row = rates.loc[("player_game_summary", names.USAGE_RATE_POPULATED, "2021-22")]
    assert (row["dates"], row["passed"], row["failed"], row["pass_pct"]) == (7, 6, 1, round(600 / 7, 2))
    factors = rates.loc[("player_composite_factors", names.USAGE_L7_POPULATED, "2021-22")]
    assert (factors["passed"], factors["other"]) == (4, 3)  # the held-back dates are never judged
    # usage_rate populated % per season from the published rows: the quarantined date is not among them
    season = report.usage_rate.set_index("season").loc["2021-22"]
    assert season["dates"] == 6 and season["players_played"] > 0 and season["populated_pct"] == 100.0


def test_the_verdict_is_critical_and_says_why(night):
    report = night.report
    assert report.verdict == CRITICAL and report.exit_code == 1
    assert any(names.USAGE_RATE_POPULATED in r and BAD in r for r in report.reasons)
    assert "16 asset-date(s) blocked" in report.reasons
    # no step failed: the bad date is held per date, not by failing the run
    assert report.failed_runs.empty


def test_the_cli_prints_a_table_and_exits_1_on_critical(night):
    out = night.human
    assert out.returncode == 1, out.stderr[-2000:]
    assert "VERDICT: CRITICAL" in out.stdout
    assert f"2021-10-23 … {END} (3) player_game_summary usage_rate_populated" in out.stdout
    assert "Verdict rules" in out.stdout and RULES.splitlines()[0] in out.stdout


def test_the_cli_json_has_the_same_numbers(night):
    out = night.json
    assert out.returncode == 1, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert data["verdict"] == CRITICAL and data["range"] == {"start": START, "end": END}
    assets = {row["asset"]: row for row in data["assets"]}
    for asset, counts in _counts(night.report).items():
        assert {k: assets[asset][k] for k in counts} == counts, asset
    blocked = [r for r in data["not_published"] if r["state"] == "blocked"]
    assert len(blocked) == int(night.report.assets["blocked"].sum()) == 16
    assert {(r["cause_asset"], r["cause_date"]) for r in blocked} == {("player_game_summary", BAD)}


def test_a_range_and_a_selection(night):
    report = build_report(night.instance, str(night.warehouse), "2021-10-19", "2021-10-21", select=["raw", "analytics"])
    assert report.verdict == HEALTHY and report.reasons == []
    assert set(report.assets["asset"]) == {*RAW, "team_offense_game_summary", "team_defense_game_summary", "player_game_summary"}
    assert (report.assets["published"] == 3).all()
    # a range after the bad date still sees it: the lookback reads it, so the precompute dates stay blocked
    later = build_report(night.instance, str(night.warehouse), "2021-10-24", END, select=["player_composite_factors"])
    assert later.assets.set_index("asset").loc["player_composite_factors", "blocked"] == 2
    assert _cli(night.home, night.warehouse, "--start", "2021-10-25", "--end", "2021-10-19").returncode == 2


def test_status_reads_the_parquet_copy_not_the_locked_warehouse(night):
    """A step holding the DuckDB file read-write (here: this process) does not make status wait or fail."""
    with duckdb.connect(str(night.warehouse)):
        out = _cli(night.home, night.warehouse, "--json")
    assert out.returncode == 1 and json.loads(out.stdout)["verdict"] == CRITICAL, out.stderr[-2000:]


@pytest.fixture(scope="module")
def repaired(night):
    """The bad date re-materialized clean (raw + analytics, as the team would launch it) on the same instance."""
    assert run_range(str(night.warehouse), BAD, BAD, instance=night.instance).success
    return night


def test_after_the_fix_nothing_is_blocked_and_a_warning_exits_0_unless_asked(repaired):
    report = build_report(repaired.instance, str(repaired.warehouse))
    counts = _counts(report)
    assert counts["player_game_summary"]["published"] == 7 and counts["player_game_summary"]["quarantined"] == 0
    assert report.assets["blocked"].sum() == 0  # the held-back dates are no longer waiting on anything: missing
    assert (counts["player_composite_factors"]["missing"], counts["player_composite_factors"]["published"]) == (3, 4)
    # what is left is a warning: the simulator's play-by-play covers too few games of one date for shot zones
    assert report.verdict == WARNING and not report.failures["blocking"].astype(bool).any()
    warned = _cli(repaired.home, repaired.warehouse, "--json")
    assert warned.returncode == 0 and json.loads(warned.stdout)["verdict"] == WARNING  # a `set -e` script goes on
    assert _cli(repaired.home, repaired.warehouse, "--fail-on", "warning").returncode == 1
    # the shot-zone warning
    assert _cli(repaired.home, repaired.warehouse, "--select", "raw,analytics", "--fail-on", "warning").returncode == 1
    assert _cli(repaired.home, repaired.warehouse, "--select", "raw", "--fail-on", "warning").returncode == 0


# -- verdict rules and progress, on synthetic inputs ----------------------------------------------------------------
def _report(**frames) -> StatusReport:
    empty = {
        "assets": pd.DataFrame({"asset": ["a"], **{s: [0] for s in ["published", "quarantined", "failed", "blocked",
                                                                          "running", "unverified", "missing"]}, "dates": [1]}),
        "dates": pd.DataFrame(columns=["asset", "game_date", "state", "cause_asset", "cause_date", "cause_check", "detail"]),
        "checks": pd.DataFrame(columns=["asset", "check", "blocking", "season", "dates", "passed", "failed", "other", "pass_pct"]),
        "usage_rate": pd.DataFrame(columns=["season", "dates", "players_played", "usage_populated", "populated_pct", "min_date_pct"]),
        "failures": pd.DataFrame(columns=["asset", "game_date", "check", "blocking", "state", "value", "threshold", "why"]),
        "failed_runs": pd.DataFrame(columns=["run_id", "job", "partitions", "created_at", "step", "error", "since_fixed"]),
        "in_progress": pd.DataFrame(columns=["kind", "id", "status", "done", "total", "rate_per_min", "eta", "overdue", "why"]),
        "dead_runs": pd.DataFrame(columns=["run_id", "status", "why", "slots"]),
    }
    return StatusReport(start=START, end=START, instance="i", warehouse="w", generated_at="t", **{**empty, **frames})


def test_verdict_rules():
    assert verdict(_report()) == (HEALTHY, [])
    dead = pd.DataFrame([["r" * 36, "STARTED", "process 1 no longer exists", "warehouse:player_game_summary"]],
                        columns=["run_id", "status", "why", "slots"])
    level, reasons = verdict(_report(dead_runs=dead))
    assert level == CRITICAL and "holds pool slots" in reasons[0]
    assert verdict(_report(dead_runs=dead.assign(slots="")))[0] == WARNING
    late = pd.DataFrame([["run", "x" * 36, "STARTED", 1, 10, 1.0, None, True, "slow"]],
                        columns=["kind", "id", "status", "done", "total", "rate_per_min", "eta", "overdue", "why"])
    assert verdict(_report(in_progress=late))[0] == WARNING
    assert verdict(_report(in_progress=late.assign(overdue=False)))[0] == HEALTHY
    soft = pd.DataFrame([["a", START, "c", False, "published", 32.116788, 40.0, "%", "low"]],
                        columns=["asset", "game_date", "check", "blocking", "state", "value", "threshold", "unit", "why"])
    assert verdict(_report(failures=soft))[0] == WARNING
    report = _report(failures=soft)
    report.verdict, report.reasons = verdict(report)
    assert "VERDICT: WARNING" in format_report(report) and "a c on 2021-10-19" in format_report(report)
    assert "32.12 %" in format_report(report) and "40 %" in format_report(report)  # numbers with their unit


def test_progress_rate_eta_and_overdue():
    now = 10_000.0
    steps = [SimpleNamespace(start_time=now - 400, end_time=now - 300), SimpleNamespace(start_time=now - 300, end_time=now - 200),
             SimpleNamespace(start_time=now - 200, end_time=None)]
    run = SimpleNamespace(run_id="r", tags={"dagster/asset_partition_range_start": "2024-01-01",
                                            "dagster/asset_partition_range_end": "2024-01-10"},
                          asset_selection={dg.AssetKey(n) for n in "abcd"})
    p = _progress({"r": steps}, [run], now)
    # 2 of 4 steps over 10 dates done in 200 s of step time: 20 asset-partitions, 6 per minute
    assert (p["done"], p["total"], p["rate_per_min"], p["overdue"]) == (20, 40, 6.0, False)
    # remaining 20 at 0.1/s = 200 s, of which the running step has used 200 s: due now
    assert p["eta"].startswith(pd.Timestamp(now, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M"))
    steps[2] = SimpleNamespace(start_time=now - 5000, end_time=None)  # 5000 s for a step that should take 100 s
    assert _progress({"r": steps}, [run], now)["overdue"]


def test_season_reads_do_not_cross_seasons():
    dates = pd.DataFrame({"game_date": ["2022-04-11", "2022-10-18", "2022-10-25"]})
    dates["day"] = pd.to_datetime(dates["game_date"])
    dates["group"] = ["off-season 2022-04-11", "2022-23", "2022-23"]
    bad = pd.DataFrame({"game_date": ["2022-04-10"], "day": pd.to_datetime(["2022-04-10"]), "group": ["2021-22"],
                        "cause_asset": ["x"], "cause_date": ["2022-04-10"], "cause_check": ["c"], "state": ["failed"]})
    assert _first_bad_upstream(dates, bad, -200, -1, in_season=True).empty
    crossing = _first_bad_upstream(dates, bad, -200, -1, in_season=False)
    assert set(crossing["game_date"]) == {"2022-04-11", "2022-10-18", "2022-10-25"}


def test_status_sees_the_assets_and_warehouse_of_the_definitions():
    from nba_pipeline.definitions import ALL_ASSETS
    from nba_pipeline.ops import published, report
    from nba_pipeline.resources import DEFAULT_WAREHOUSE

    assert {a.key for a in report.partitioned_assets()} == {a.key for a in ALL_ASSETS if a.partitions_def is not None}
    assert published.DEFAULT_WAREHOUSE == DEFAULT_WAREHOUSE
