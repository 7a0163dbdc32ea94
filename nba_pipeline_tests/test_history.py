"""`nba-pipeline backfill-history DIR [DIR ...]` (nba_pipeline/history.py): the two real seasons in the package, 2022-23
as NBA.com game-log exports and 2023-24 in its own layout, through every phase in one command, on a fresh instance
and DuckDB warehouse (one range run of 545 dates, the off-season between them included: two minutes on an idle machine)."""

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.history import PACKAGED_SEASONS, plan_history
from nba_pipeline.league.seasons import SEASON_BY_LABEL, season_labels
from nba_pipeline.ops.published import as_warehouse
from nba_pipeline_tests.conftest import read_table
from nba_pipeline_tests.test_cli import CLI, ROOT, _env

LOGS_2022_23 = Path(PACKAGED_SEASONS[0])
SEASONS = ("2022-23", "2023-24")
FIRST_WEEKS = dt.timedelta(days=14)
RAW = ["schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines", "referee_assignments"]
DAILY = [*RAW, "team_offense_game_summary", "team_defense_game_summary", "player_game_summary",
         "player_composite_factors", "player_daily_cache", "ml_feature_store", "points_prop_predictions"]


@pytest.fixture(scope="module")
def backfill(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    home = root / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")  # the shipped instance, as `make run`
    warehouse = root / "warehouse.duckdb"
    out = subprocess.run([CLI, "backfill-history", *PACKAGED_SEASONS, "--warehouse", str(warehouse)],
                         cwd=ROOT, capture_output=True, text=True, timeout=3600, env=_env(DAGSTER_HOME=str(home)))
    return out, str(warehouse), home


def test_the_range_is_read_off_the_files():
    plan = plan_history(list(PACKAGED_SEASONS))
    assert (plan.start, plan.end) == (dt.date(2022, 10, 18), dt.date(2024, 4, 14))  # the two regular seasons
    seasons = plan.seasons.set_index("season")
    assert seasons.loc["2022-23", "games"] == 1230 and seasons.loc["2022-23", "player_rows"] == 25895
    assert seasons.loc["2023-24", "games"] == 1230 and seasons.loc["2023-24", "player_rows"] == 25143
    assert plan.outside_games == 0  # the replay serves only games.ndjson's regular-season games


def test_the_command_succeeds_and_prints_a_summary_per_season(backfill):
    out, _, _ = backfill
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "range 2022-10-18 … 2024-04-14 (545 dates, one range run of every phase)" in out.stdout
    assert "started on" in out.stderr  # the steps' progress lines
    for season in SEASONS:
        assert f"   {season}        174  " in out.stdout  # its row of the per-phase table
        assert f"   {season}: predictions on" in out.stdout
    assert "   off-season     197  " in out.stdout


def _box_score_span(warehouse: str) -> dict[str, tuple[dt.date, dt.date]]:
    boxes = read_table(warehouse, "raw.player_boxscores")
    day = pd.to_datetime(boxes["game_date"])
    span = day.groupby(season_labels(day)).agg(["min", "max"])
    return {s: (span.at[s, "min"].date(), span.at[s, "max"].date()) for s in SEASONS}


def test_every_date_of_both_seasons_is_published_or_quarantined_through_predictions(backfill):
    out, warehouse, _ = backfill
    records = as_warehouse(warehouse).publish_log("2022-10-18", "2024-04-14")
    outcome = records.pivot_table(index="game_date", columns="asset", values="outcome", aggfunc="last")
    got = outcome.reindex(index=pd.date_range("2022-10-18", "2024-04-14").strftime("%Y-%m-%d"), columns=DAILY)
    assert got[RAW].eq("published").all().all()  # raw: every date, the off-season's empty ones too
    # a date is left unbuilt only where it reads a date that was quarantined: a season's first nights (no earlier
    # game of the season for a pre-game row) and the days after the files' last box score (games without one)
    undecided = got.index[~got.isin(["published", "quarantined"]).all(axis=1)]
    quarantined = got.index[got.eq("quarantined").any(axis=1)]
    span = _box_score_span(warehouse)
    for day in undecided:
        season = season_labels(pd.Series([pd.Timestamp(day)])).iloc[0]
        first, last = span[season]
        assert dt.date.fromisoformat(day) < first + dt.timedelta(days=2) or dt.date.fromisoformat(day) > last, day
        assert any(first.isoformat() <= q <= day for q in quarantined), day  # held back behind a quarantined date
    for season in SEASONS:  # after the first weeks, through the last box score: every step published every date
        first, last = span[season]
        late = got.loc[(first + FIRST_WEEKS).isoformat():last.isoformat()]
        refused = late[~late.eq("published").all(axis=1)]
        # the only refusals there are dates whose own check failed, named in the command's summary
        assert refused.drop(columns="points_prop_predictions").eq("published").all().all(), refused
        for day in refused.index:
            assert day in out.stdout and "points_prop_predictions.no_placeholder_lines" in out.stdout, day


def test_predictions_in_both_seasons_after_the_first_weeks_and_graded_per_season(backfill):
    out, warehouse, _ = backfill
    predictions = read_table(warehouse, "predictions.points_prop_predictions")
    predicted_days = set(pd.to_datetime(predictions["game_date"]).dt.date)
    schedule = read_table(warehouse, "raw.schedule")
    game_days = set(pd.to_datetime(schedule["game_date"]).dt.date)
    quarantined = set(as_warehouse(warehouse).publish_log("2022-10-18", "2024-04-14").query(
        "asset == 'points_prop_predictions' and outcome == 'quarantined'")["game_date"].map(dt.date.fromisoformat))
    for season, (first, last) in _box_score_span(warehouse).items():
        wanted = {d for d in game_days if first + FIRST_WEEKS <= d <= last} - quarantined
        assert len(wanted) > 100 and wanted <= predicted_days, (season, sorted(wanted - predicted_days)[:5])
    assert predictions["predicted_points"].notna().mean() > 0.95
    graded = read_table(warehouse, "predictions.prediction_grading")
    oos = graded[graded["out_of_sample"].fillna(False).astype(bool)]
    per_season = season_labels(pd.to_datetime(oos["game_date"])).value_counts()
    assert per_season["2022-23"] > 10000 and per_season["2023-24"] > 10000
    for season in SEASONS:
        line = next(l for l in out.stdout.splitlines() if l.startswith(f"   {season}: predictions on"))
        model, ten = float(line.split(" model ")[1].split()[0]), float(line.split("10-game average ")[1].split()[0])
        rows = int(line.split(" on ")[-1].split()[0])
        assert 3 < model < 8 and 3 < ten < 8 and rows > 10000, line


def test_the_model_learns_from_both_seasons(backfill):
    _, warehouse, home = backfill
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("points_model"))
    meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    first, last = meta["train_dates"].split("..")
    assert season_labels(pd.to_datetime(pd.Series([first, last]))).tolist() == list(SEASONS), meta["train_dates"]
    played = read_table(warehouse, "analytics.player_game_summary").query("played")
    by_season = season_labels(pd.to_datetime(played["game_date"])).value_counts()
    assert meta["train_rows"] > by_season["2023-24"] + 0.9 * by_season["2022-23"]  # most of both seasons' rows
    # walk-forward from the first season: 2022-23's dates are predicted by models trained within it
    assert dt.date.fromisoformat(meta["first_trained_through"]) < SEASON_BY_LABEL["2022-23"].first_day + FIRST_WEEKS


def test_the_folders_default_to_the_packaged_seasons(monkeypatch):
    import nba_pipeline.history
    from nba_pipeline.cli import main

    called = []
    monkeypatch.setattr(nba_pipeline.history, "main", lambda folders, warehouse, level: called.append(folders) or 0)
    assert main(["backfill-history"]) == 0 and main(["backfill-history", "a", "b"]) == 0
    assert called == [list(PACKAGED_SEASONS), ["a", "b"]]


def test_a_folder_with_a_missing_column_fails_in_one_line_before_any_run(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "team_game_logs_2022-23.csv.gz").write_bytes((LOGS_2022_23 / "team_game_logs_2022-23.csv.gz").read_bytes())
    players = pd.read_csv(LOGS_2022_23 / "player_game_logs_2022-23.csv.gz", dtype=str, nrows=200)
    players.drop(columns=["PLUS_MINUS"]).to_csv(bad / "player_game_logs_2022-23.csv", index=False)
    home = tmp_path / "home"
    home.mkdir()
    out = subprocess.run([CLI, "backfill-history", str(bad), "--warehouse", str(tmp_path / "w.duckdb")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=_env(DAGSTER_HOME=str(home)))
    assert out.returncode == 2, out.stderr
    lines = [l for l in out.stderr.splitlines() if l.strip() and "Warning" not in l and not l.startswith("  ")]
    assert lines == [f"error: {bad / 'player_game_logs_2022-23.csv'}: missing column(s) ['PLUS_MINUS'] "
                     "(NBA.com game-log exports have them); no run was created"], out.stderr
    assert out.stdout == "" and not (home / "storage").exists() and not (tmp_path / "w.duckdb").exists()
