"""The real 2023-24 season end to end: every phase over the replay source, then what the checks said and how the
model did out of sample (`nba-pipeline replay-season`, `NBA_PIPELINE_SOURCE=season_2023_24 make run`).

The season runs as three ranges, cut where the files say so (computed from the feeds, not typed in). A failed
blocking check inside a range run stops that run's downstream steps for every date of the range (Dagster's
in-run blocking), so a date that must fail is run apart from the dates that can pass:

1. *no pre-game knowledge*: the dates before the first points line. No team has an earlier game in the files (no
   rosters, no 2022-23 season), so the pre-game slate has no players: `player_composite_factors` fails there.
2. *covered*: the first line through the last box score: every phase, the model, predictions and grading.
3. *missing final week*: after the last box score. The schedule has the games, the files have no box scores:
   `team_offense_game_summary.scheduled_games_complete` fails for those dates.
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
    """The season's three ranges (module docstring), from the replay's own feeds."""
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
class SpanResult:
    span: Span
    success: bool
    checks: pd.DataFrame  # asset, check, blocking, passed, dates_failed, failed_dates, description
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


def grading_metadata(result: dg.ExecuteInJobResult) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == "prediction_grading":
            return {k: v.value for k, v in event.materialization.metadata.items()}
    return {}


def run_season(resources: dict, instance: dg.DagsterInstance, spans: list[Span] | None = None) -> list[SpanResult]:
    """Materialize every asset over each span, one range run per span, in order."""
    from nba_pipeline.definitions import ALL_ASSETS

    results = []
    for span in spans or season_spans(resources["source"]):
        result = dg.materialize(
            ALL_ASSETS, resources=resources, instance=instance, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": span.start.isoformat(),
                  "dagster/asset_partition_range_end": span.end.isoformat()},
        )
        results.append(SpanResult(span, result.success, check_table(result), grading_metadata(result)))
    return results


def _number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}"
    return str(int(value)) if isinstance(value, (int, float)) else str(value)


def format_results(results: list[SpanResult]) -> str:
    out = []
    for r in results:
        s = r.span
        out.append(f"\n== {s.label}: {s.start} … {s.end} ({s.why}) — run {'succeeded' if r.success else 'failed'}")
        c = r.checks
        out.append(f"   checks: {int(c['passed'].sum())} passed, {int((~c['passed'] & c['blocking']).sum())} blocking failed, "
                   f"{int((~c['passed'] & ~c['blocking']).sum())} warnings failed (of {len(c)} evaluated)")
        for row in c[~c["passed"]].itertuples():
            kind = "BLOCKING" if row.blocking else "warning"
            out.append(f"   {kind:8} {row.asset}.{row.check}: {row.description[:160]}")
            out.append(f"            failed dates ({row.dates_failed}): {row.failed_dates[:160]}")
        g = r.grading
        if g:
            out.append(
                f"   prediction_grading: {_number(g.get('predictions'))} predictions, {_number(g.get('out_of_sample_predictions'))} "
                f"out of sample, {_number(g.get('bets'))} bets — out-of-sample MAE {_number(g.get('out_of_sample_mae'))} (naive baseline "
                f"{_number(g.get('baseline_mae'))}), hit rate {_number(g.get('out_of_sample_hit_rate'))} (baseline "
                f"{_number(g.get('baseline_hit_rate'))}) against the SYNTHETIC book's lines"
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
    results = run_season(resources, dg.DagsterInstance.get())
    print(format_results(results))
    covered = [r for r in results if r.span.label == "covered"]
    return 0 if covered and covered[0].success else 1
