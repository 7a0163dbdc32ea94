"""The status report as text for people and as JSON for machines."""

from __future__ import annotations

import json

import pandas as pd

from nba_pipeline.ops.checks import with_unit
from nba_pipeline.ops.report import StatusReport
from nba_pipeline.ops.verdict import RULES, UNREACHABLE


def _ranges(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows grouped by `by` into first date, last date and count."""
    return frame.groupby(by, dropna=False)["game_date"].agg(first="min", last="max", n="size").reset_index()


def _short(values: pd.Series, width: int = 90) -> pd.Series:
    text = values.fillna("").astype(str)
    return text.where(text.str.len() <= width, text.str[: width - 1] + "…")


def _table(frame: pd.DataFrame, indent: str = "  ") -> str:
    if frame.empty:
        return indent + "(none)"
    text = frame.astype(object).where(frame.notna(), "").to_string(index=False)
    return "\n".join(indent + line for line in text.splitlines())


def measured(failures: pd.DataFrame) -> pd.DataFrame:
    """asset, game_date, check, value, threshold: the numbers with their unit ("32.12 %" against "40 %")."""
    return failures[["asset", "game_date", "check"]].assign(
        value=with_unit(failures["value"], failures["unit"]), threshold=with_unit(failures["threshold"], failures["unit"]))


def format_report(report: StatusReport, explain: bool = True) -> str:
    lines = [
        f"nba-pipeline status {report.start} … {report.end} ({int(report.assets['dates'].max()) if len(report.assets) else 0} dates)"
        f"   instance: {report.instance}   warehouse: {report.warehouse}",
        "",
        f"VERDICT: {report.verdict}" + ("" if report.reasons else " — nothing to report"),
        *(f"  - {r}" for r in report.reasons),
        "",
    ]
    if report.verdict == UNREACHABLE:  # nothing about dates can be said; what the instance knows still can
        lines += ["Runs and backfills in progress", _table(report.in_progress), "",
                  "Dead runs and runs holding pool slots", _table(report.dead_runs)]
        if explain:
            lines += ["", "Verdict rules and exit codes:", *("  " + r for r in RULES.splitlines())]
        return "\n".join(lines)
    lines += [
        "Dates per asset",
        _table(report.assets),
    ]
    blocked = report.dates[report.dates["state"] == "blocked"]
    lines += ["", "Blocked (waiting on an upstream date that failed a blocking check)"]
    if not blocked.empty:
        grouped = _ranges(blocked, ["asset", "cause_asset", "cause_check", "cause_date"])
        grouped["dates"] = grouped["first"] + " … " + grouped["last"] + " (" + grouped["n"].astype(str) + ")"
        grouped["blocked by"] = grouped["cause_asset"] + " " + grouped["cause_check"].fillna("?") + " on " + grouped["cause_date"]
        lines.append(_table(grouped[["asset", "dates", "blocked by"]]))
    else:
        lines.append("  (none)")
    bad = report.dates[report.dates["state"].isin(["quarantined", "failed"])]
    lines += ["", "Failed blocking checks (quarantined / failed, not since fixed)",
              _table(bad[["asset", "game_date", "state", "cause_check"]].assign(why=_short(bad["detail"])).rename(columns={"cause_check": "checks"}).head(30))]
    soft = report.failures[~report.failures["blocking"].astype(bool)]
    lines += ["", "Failed non-blocking checks", _table(measured(soft).assign(why=_short(soft["why"])).head(30))]
    other = report.dates[report.dates["state"].isin(["missing", "unverified", "running"])]
    if not other.empty:
        grouped = _ranges(other, ["asset", "state"])
        lines += ["", "Missing / unverified / running", _table(grouped.rename(columns={"n": "dates"}))]
    lines += ["", "Checks by season with a failure (pass % of the dates judged; every check and season in --json)"]
    failing = report.checks[report.checks["failed"] > 0]
    lines.append(_table(failing) if not failing.empty else f"  none: {len(report.checks)} check-seasons, no failure")
    unjudged = report.checks[report.checks["other"] > 0]
    if not unjudged.empty:
        grouped = unjudged.groupby(["asset", "season"]).agg(
            checks=("check", "size"), most_dates_unjudged=("other", "max")).reset_index()
        lines += ["", "Checks with dates not judged (no evaluation yet, planned, or never evaluated)", _table(grouped)]
    lines += ["", "usage_rate populated % by season (players who played, published rows)", _table(report.usage_rate)]
    lines += ["", "Runs and backfills in progress", _table(report.in_progress)]
    lines += ["", "Dead runs and runs holding pool slots", _table(report.dead_runs)]
    lines += ["", "Failed runs touching the range (latest first)", _table(report.failed_runs[["run_id", "partitions", "step", "since_fixed", "error"]].assign(run_id=report.failed_runs["run_id"].str[:8], error=_short(report.failed_runs["error"])))]
    if explain:
        lines += ["", "Verdict rules and exit codes:", *("  " + r for r in RULES.splitlines())]
    return "\n".join(lines)


def report_json(report: StatusReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)
