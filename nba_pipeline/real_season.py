"""The real 2023-24 season end to end: every phase over the replay source, then what the checks said and how the
model did out of sample (`nba-pipeline replay-season`, `NBA_PIPELINE_SOURCE=season_2023_24 make run`).

The season runs as one range. Some of its dates must fail, and the dates that pass carry on around them (a
failed date is quarantined, and downstream steps hold back only the dates that read it). What the files cover,
read off the feeds (not typed in), says which dates fail and why — the report groups the results by it:

1. *no pre-game knowledge*: the dates before the first points line. No team has an earlier game in the files (no
   rosters, no 2022-23 season), so the pre-game slate has no players: `player_composite_factors` fails there.
2. *covered*: the first line through the last box score: every phase, the model, predictions and grading.
3. *missing final week*: after the last box score. The schedule has the games, the files have no box scores:
   `team_offense_game_summary.scheduled_games_complete` fails for those dates (their pre-game predictions are
   still made where they read only earlier, complete dates).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from nba_pipeline.sources.replay import SEASON, SeasonReplaySource


@dataclass(frozen=True)
class Span:
    label: str
    start: dt.date
    end: dt.date
    why: str


def season_spans(source: SeasonReplaySource) -> list[Span]:
    """What the files cover (module docstring), from the replay's own feeds."""
    lines = source.fetch_conformed("prop_lines", SEASON.first_day, SEASON.last_day)
    boxes = source.fetch_conformed("player_boxscores", SEASON.first_day, SEASON.last_day)
    first_line, last_box = lines["game_date"].min().date(), boxes["game_date"].max().date()
    spans = [
        Span("no pre-game knowledge", SEASON.first_day, first_line - dt.timedelta(days=1),
             "no team has an earlier game in the files: the pre-game slate is empty"),
        Span("covered", first_line, last_box, "box scores and synthetic lines"),
        Span("missing final week", last_box + dt.timedelta(days=1), SEASON.last_day,
             "scheduled games without box scores in the files"),
    ]
    return [s for s in spans if s.start <= s.end]


@dataclass(frozen=True)
class SeasonResult:
    start: dt.date
    end: dt.date
    success: bool
    checks: pd.DataFrame  # asset, check, blocking, passed, dates_failed, failed_dates, description
    held_back: pd.DataFrame  # asset, dates_held_back: dates a step did not build because they read a failed date
    grading: dict[str, object]


def check_table(result: dg.ExecuteInJobResult) -> pd.DataFrame:
    """Each check's run-level result (range runs also log one evaluation per date, without the run's totals)."""
    rows = [
        {
            "asset": e.asset_key.to_user_string(),
            "check": e.check_name,
            "blocking": bool(e.blocking),
            "passed": bool(e.passed),
            "dates_failed": int(e.metadata["dates_failed"].value),
            "failed_dates": str(e.metadata["failed_dates"].value),
            "description": e.description or "",
        }
        for e in result.get_asset_check_evaluations()
        if "dates_checked" in e.metadata
    ]
    return pd.DataFrame(rows, columns=["asset", "check", "blocking", "passed", "dates_failed", "failed_dates", "description"])


def held_back_table(result: dg.ExecuteInJobResult) -> pd.DataFrame:
    rows = [
        {"asset": e.asset_key.to_user_string(), "dates_held_back": int(e.materialization.metadata["dates_held_back"].value)}
        for e in result.get_asset_materialization_events()
        if "dates_held_back" in e.materialization.metadata
    ]
    frame = pd.DataFrame(rows, columns=["asset", "dates_held_back"]).drop_duplicates("asset")
    return frame[frame["dates_held_back"] > 0].reset_index(drop=True)


def grading_metadata(result: dg.ExecuteInJobResult) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == "prediction_grading":
            return {k: v.value for k, v in event.materialization.metadata.items()}
    return {}


def run_season(
    resources: dict, instance: dg.DagsterInstance, start: dt.date = SEASON.first_day, end: dt.date = SEASON.last_day
) -> SeasonResult:
    """Materialize every asset over [start, end] in one range run."""
    from nba_pipeline.definitions import ALL_ASSETS

    result = dg.materialize(
        ALL_ASSETS, resources=resources, instance=instance, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": start.isoformat(), "dagster/asset_partition_range_end": end.isoformat()},
    )
    return SeasonResult(start, end, result.success, check_table(result), held_back_table(result), grading_metadata(result))


def _number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}"
    return str(int(value)) if isinstance(value, (int, float)) else str(value)


def format_results(result: SeasonResult, spans: list[Span] | None = None) -> str:
    out = [f"\n== {result.start} … {result.end}, one range run — {'succeeded' if result.success else 'failed'}"]
    for s in spans or []:
        out.append(f"   {s.label}: {s.start} … {s.end} ({s.why})")
    c = result.checks
    out.append(f"   checks: {int(c['passed'].sum())} passed, {int((~c['passed'] & c['blocking']).sum())} blocking failed, "
               f"{int((~c['passed'] & ~c['blocking']).sum())} warnings failed (of {len(c)} evaluated)")
    for row in c[~c["passed"]].itertuples():
        kind = "BLOCKING" if row.blocking else "warning"
        out.append(f"   {kind:8} {row.asset}.{row.check}: {row.description[:160]}")
        out.append(f"            failed dates ({row.dates_failed}): {row.failed_dates[:160]}")
    for row in result.held_back.itertuples():
        out.append(f"   held back: {row.asset}, {row.dates_held_back} date(s) that read a failed date")
    g = result.grading
    if g:
        out.append(
            f"   prediction_grading: {_number(g.get('predictions'))} predictions, {_number(g.get('out_of_sample_predictions'))} "
            f"out of sample, {_number(g.get('bets'))} bets, lines: {g.get('line_sources')}"
        )
        out.append(
            f"   MAE on {_number(g.get('compared_rows'))} played out-of-sample rows: model {_number(g.get('out_of_sample_mae_compared'))}, "
            f"10-game {_number(g.get('baseline_mae_10_game_avg'))}, season {_number(g.get('baseline_mae_season_avg'))}, "
            f"EWMA(10) {_number(g.get('baseline_mae_ewma_10'))} — the model {g.get('verdict')}"
        )
        for source in str(g.get("line_sources", "")).split(", "):
            if f"brier_{source}" in g:
                out.append(
                    f"   P(OVER) on {source} lines: slope {_number(g.get(f'calibration_slope_{source}'))}, Brier "
                    f"{_number(g.get(f'brier_{source}'))} (constant {_number(g.get(f'brier_constant_{source}'))}); OVER "
                    f"{_number(g.get(f'over_picks_{source}'))} picks hit {_number(g.get(f'over_hit_rate_{source}'))}, UNDER "
                    f"{_number(g.get(f'under_picks_{source}'))} hit {_number(g.get(f'under_hit_rate_{source}'))}"
                )
    return "\n".join(out)


def main() -> int:
    """`nba-pipeline replay-season`: the real season on the instance of DAGSTER_HOME and the configured warehouse."""
    import os

    from nba_pipeline.resources import resources_for

    if os.environ.get("NBA_PIPELINE_SOURCE", "season_2023_24") != "season_2023_24":
        print(f"error: replay-season replays the 2023-24 files; NBA_PIPELINE_SOURCE is {os.environ['NBA_PIPELINE_SOURCE']!r}")
        return 2
    os.environ["NBA_PIPELINE_SOURCE"] = "season_2023_24"
    resources = resources_for("local")
    result = run_season(resources, dg.DagsterInstance.get())
    print(format_results(result, season_spans(resources["source"])))
    return 0 if result.success else 1
