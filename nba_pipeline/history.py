"""Seasons of history from game-log folders, backfilled through every phase in one command
(`nba-pipeline backfill-history DIR [DIR ...]`).

The folders are bound as the `game_logs` source (`sources/game_logs.py`: NBA.com game-log exports, or the package's
2023-24 files). Before any run, every folder is read (a missing folder, file or column is one line naming it) and
the range is read off the files: from the first to the last scheduled regular-season date of the seasons they hold
(games outside the regular-season calendars of `league/seasons.py`, play-in and playoffs, are left out and counted).
Every asset then runs over that range as **one range run** (raw → analytics → precompute → ml → predictions →
grading), off-season dates included: they are empty dates, and the season-history windows read through them. The
walk-forward model learns from every labelled row before each cutoff, so from the second season on it learns from
both. At the end, per season: the dates published / quarantined / not built per phase (from the warehouse's
publish log), the model's out-of-sample MAE against the 10-game average on the same rows (from the published
grading), and the span of the newest model's training rows.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import season_labels

PHASES = ("raw", "analytics", "precompute", "ml", "predictions")
PACKAGED_SEASONS = tuple(str(Path(__file__).parent / "data" / name) for name in ("season_2022_23", "season_2023_24"))


class HistoryInputError(ValueError):
    """A folder, file or column the backfill cannot use: named in one line, before any run."""


@dataclass(frozen=True)
class HistoryPlan:
    directories: tuple[str, ...]
    start: dt.date
    end: dt.date
    seasons: pd.DataFrame  # season, first_date, last_date, games, player_rows (what the files hold, per season)
    outside_games: int  # scheduled games outside every regular season (play-in, playoffs): not in the range

    def lines(self) -> list[str]:
        out = [f"backfill-history: {len(self.directories)} folder(s), range {self.start} … {self.end} "
               f"({(self.end - self.start).days + 1} dates, one range run of every phase)"]
        for r in self.seasons.itertuples():
            out.append(f"   {r.season}: games {r.first_date} … {r.last_date}, {r.games} scheduled, {r.player_rows} player box-score rows")
        if self.outside_games:
            out.append(f"   {self.outside_games} scheduled game(s) outside the regular seasons (play-in, playoffs) are not in the range")
        return out


def plan_history(directories: list[str]) -> HistoryPlan:
    """Read every folder (module docstring) and the range from its files; HistoryInputError naming what is wrong."""
    from nba_pipeline.sources.game_logs import GameLogFilesSource
    from nba_pipeline.sources.replay import ReplayDataError

    if not directories:
        raise HistoryInputError("give at least one folder of game-log files")
    for d in directories:
        if not Path(d).is_dir():
            raise HistoryInputError(f"{d}: not a folder")
    try:
        feeds = GameLogFilesSource(directories=list(directories)).feeds()
    except ReplayDataError as err:
        raise HistoryInputError(" ".join(str(err).split())) from None
    schedule, boxes = feeds["schedule"], feeds["player_boxscores"]
    season = season_labels(schedule["game_date"])
    regular = schedule[season.notna()].assign(season=season[season.notna()])
    if regular.empty:
        raise HistoryInputError(f"no regular-season games in {', '.join(directories)}")
    box_season = season_labels(boxes["game_date"]).fillna("off-season")
    per_season = regular.groupby("season").agg(first_date=("game_date", "min"), last_date=("game_date", "max"),
                                               games=("game_id", "nunique")).reset_index()
    per_season["player_rows"] = per_season["season"].map(box_season.value_counts()).fillna(0).astype(int)
    for column in ("first_date", "last_date"):
        per_season[column] = to_datetime(per_season[column]).dt.date
    return HistoryPlan(tuple(directories), per_season["first_date"].min(), per_season["last_date"].max(),
                       per_season, int(season.isna().sum()))


@dataclass(frozen=True)
class HistoryResult:
    success: bool
    seconds: float
    checks: pd.DataFrame  # real_season.check_table
    held_back: pd.DataFrame
    grading: dict[str, object]
    model: dict[str, object]  # points_model's metadata: the newest model's train_rows, train_dates, …


def _asset_metadata(result: dg.ExecuteInJobResult, asset: str) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    return {}


def run_history(plan: HistoryPlan, resources: dict, instance: dg.DagsterInstance, log_level: str = "INFO") -> HistoryResult:
    """Every asset over the plan's range in one range run (its steps log their progress at `log_level`)."""
    from nba_pipeline.definitions import ALL_ASSETS
    from nba_pipeline.real_season import check_table, grading_metadata, held_back_table

    began = time.perf_counter()
    result = dg.materialize(
        ALL_ASSETS, resources=resources, instance=instance, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        tags={"dagster/asset_partition_range_start": plan.start.isoformat(),
              "dagster/asset_partition_range_end": plan.end.isoformat()},
    )
    return HistoryResult(result.success, time.perf_counter() - began, check_table(result), held_back_table(result),
                         grading_metadata(result), _asset_metadata(result, "points_model"))


def phase_dates(warehouse, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per season (or off-season) and phase: dates, published (every daily asset of the phase published the date),
    quarantined (one of them quarantined it), not built (the rest: held back behind a failed date, or never run)."""
    from nba_pipeline.definitions import ALL_ASSETS

    phase_of = {k.to_user_string(): a.group_names_by_key[k] for a in ALL_ASSETS if a.partitions_def is not None for k in a.keys}
    dates = pd.date_range(start, end, freq="D")
    calendar = pd.DataFrame({"game_date": dates.strftime("%Y-%m-%d"), "season": season_labels(pd.Series(dates)).fillna("off-season")})
    log = warehouse.publish_log(start.isoformat(), end.isoformat())
    log = log.assign(phase=log["asset"].map(phase_of)).dropna(subset=["phase"])
    rows = []
    for phase in PHASES:
        assets = [a for a, p in phase_of.items() if p == phase]
        outcome = log[log["phase"] == phase].pivot_table(index="game_date", columns="asset", values="outcome", aggfunc="last")
        outcome = outcome.reindex(index=calendar["game_date"], columns=assets)
        quarantined = outcome.eq("quarantined").any(axis=1).to_numpy()
        published = outcome.eq("published").all(axis=1).to_numpy() & ~quarantined
        rows.append(calendar.assign(phase=phase, published=published, quarantined=quarantined))
    per_date = pd.concat(rows, ignore_index=True)
    out = per_date.groupby(["season", "phase"], sort=False).agg(
        dates=("game_date", "size"), published=("published", "sum"), quarantined=("quarantined", "sum")).reset_index()
    out["not_built"] = out["dates"] - out["published"] - out["quarantined"]
    return out


def mae_by_season(warehouse, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per season, from the published grading: the out-of-sample rows where the model and every simple average are
    known (`grading.compared_rows`), the model's MAE and the 10-game average's, and the dates with predictions."""
    from nba_pipeline.predictions.grading import compared_rows
    from nba_pipeline.warehouse.base import TableRef

    graded = warehouse.read_published(TableRef("predictions", "prediction_grading"), start.isoformat(), end.isoformat())
    columns = ["season", "predicted_dates", "first_predicted", "compared_rows", "model_mae", "ten_game_mae"]
    if graded.empty:
        return pd.DataFrame(columns=columns)
    graded = graded.assign(season=season_labels(to_datetime(graded["game_date"])).fillna("off-season"))
    rows = compared_rows(graded)
    actual = rows["actual_points"].astype("Float64").astype(float)
    errors = pd.DataFrame({"season": rows["season"],
                           "model": (rows["predicted_points"].astype("Float64").astype(float) - actual).abs(),
                           "ten": (rows["baseline_points"].astype("Float64").astype(float) - actual).abs()})
    maes = errors.groupby("season").agg(compared_rows=("model", "size"), model_mae=("model", "mean"), ten_game_mae=("ten", "mean"))
    predicted = graded[graded["predicted_points"].notna()]
    dates = predicted.groupby("season")["game_date"].agg(predicted_dates="nunique", first_predicted="min")
    out = dates.join(maes, how="outer").reset_index()
    out["first_predicted"] = to_datetime(out["first_predicted"]).dt.date
    out["compared_rows"] = out["compared_rows"].fillna(0).astype(int)
    return out[columns]


def format_history(plan: HistoryPlan, result: HistoryResult, phases: pd.DataFrame, maes: pd.DataFrame) -> str:
    out = [f"\n== {plan.start} … {plan.end}, one range run — {'succeeded' if result.success else 'failed'} in {result.seconds:.0f} s"]
    c = result.checks
    if not c.empty:
        out.append(f"   checks: {int(c['passed'].sum())} passed, {int((~c['passed'] & c['blocking']).sum())} blocking failed, "
                   f"{int((~c['passed'] & ~c['blocking']).sum())} warnings failed (of {len(c)} evaluated)")
        for row in c[~c["passed"] & c["blocking"]].itertuples():
            out.append(f"   BLOCKING {row.asset}.{row.check}: {row.dates_failed} date(s): {row.failed_dates[:140]}")
    for row in result.held_back.itertuples():
        out.append(f"   held back: {row.asset}, {row.dates_held_back} date(s) that read a failed date")
    m = result.model
    if m:
        out.append(f"   points_model (newest): {m.get('train_rows')} training rows, {m.get('train_dates')}; "
                   f"first model trained through {m.get('first_trained_through')}")
    out.append("   per season — dates published / quarantined / not built, by phase:")
    out.append(f"   {'season':<12}{'dates':>6}  " + "  ".join(f"{p:>16}" for p in PHASES))
    for season, part in phases.groupby("season", sort=False):
        by = part.set_index("phase")
        cells = [f"{int(by.at[p, 'published'])} / {int(by.at[p, 'quarantined'])} / {int(by.at[p, 'not_built'])}" for p in PHASES]
        out.append(f"   {season:<12}{int(part['dates'].iloc[0]):>6}  " + "  ".join(f"{x:>16}" for x in cells))
    out.append("   per season — out-of-sample MAE (rows where the model and every simple average are known):")
    for r in maes.itertuples():
        if r.compared_rows:
            out.append(f"   {r.season}: predictions on {r.predicted_dates} dates from {r.first_predicted}; model {r.model_mae:.3f} vs "
                       f"10-game average {r.ten_game_mae:.3f} on {r.compared_rows} rows ({(r.model_mae / r.ten_game_mae - 1) * 100:+.1f} %)")
        else:
            out.append(f"   {r.season}: predictions on {r.predicted_dates} dates, none graded out of sample")
    return "\n".join(out)


def main(directories: list[str], warehouse_path: str | None = None, log_level: str = "INFO") -> int:
    """`nba-pipeline backfill-history`: exit 2 (one line, no run) when a folder cannot be used or NBA_PIPELINE_SOURCE
    names another source; 0 when the run succeeded (failed dates quarantined, the rest carried on); 1 when it failed."""
    import sys

    from nba_pipeline.dates import InvalidGameDate, parse_game_date_range
    from nba_pipeline.ops.published import as_warehouse, warehouse_path as default_path
    from nba_pipeline.resources import resources_for

    if os.environ.get("NBA_PIPELINE_SOURCE", "game_logs") != "game_logs":
        print(f"error: backfill-history reads game-log folders; NBA_PIPELINE_SOURCE is {os.environ['NBA_PIPELINE_SOURCE']!r}; "
              "no run was created", file=sys.stderr)
        return 2
    try:
        plan = plan_history(directories)
        parse_game_date_range(plan.start.isoformat(), plan.end.isoformat())
    except (HistoryInputError, InvalidGameDate) as err:
        print(f"error: {err}; no run was created", file=sys.stderr)
        return 2
    print("\n".join(plan.lines()), flush=True)
    os.environ["NBA_PIPELINE_SOURCE"] = "game_logs"
    os.environ["NBA_PIPELINE_GAME_LOG_DIRS"] = os.pathsep.join(str(Path(d).resolve()) for d in plan.directories)
    resources = resources_for("local", warehouse_path=warehouse_path)
    result = run_history(plan, resources, dg.DagsterInstance.get(), log_level)
    warehouse = as_warehouse(default_path(warehouse_path))
    print(format_history(plan, result, phase_dates(warehouse, plan.start, plan.end), mae_by_season(warehouse, plan.start, plan.end)))
    return 0 if result.success else 1
