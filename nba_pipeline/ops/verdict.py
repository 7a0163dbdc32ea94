"""The status verdict, every reason for it, and the one exit-code rule of every `nba-pipeline` command.

Verdict:
  CRITICAL  a blocking check's latest evaluation failed on a date in range (quarantined or failed: not since
            fixed), or a run holds pool slots although it died or ended (every later step of that pool waits);
  WARNING   dates in range are missing, blocked or unverified; a non-blocking check's latest evaluation failed;
            yesterday's post-game tables are not published by 08:00 ET (late; when the report looks at yesterday);
            a run or backfill is in progress past its ETA (its running step has taken more than twice the time
            its rate predicts and at least 10 minutes, or no step finished within 60 minutes of the run
            starting); a run died without holding slots (run `nba-pipeline recover`);
  HEALTHY   otherwise (runs in progress on schedule are fine).
  UNREACHABLE  the warehouse could not be read (no connection, no credentials, no such file): nothing can be
            said about what is published, so no date is reported missing.

Exit codes, the same for every command:
  0  done, and nothing needs a person now: status HEALTHY or WARNING, validate PASS, materialize's run succeeded
     and left its range short of CRITICAL, recover and promote done;
  1  done, and something needs a person: status CRITICAL, validate FAIL, a materialize run failed or left its
     range CRITICAL, a promotion refused;
  2  bad arguments or input (a date, a range, a selection, the thresholds file): nothing was done;
  3  the warehouse could not be reached: nothing was judged.
`status --fail-on warning` also exits 1 on WARNING, for a monitor that pages on it; the verdict is in the output
and in `--json` either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nba_pipeline.ops.states import STATES

if TYPE_CHECKING:
    from nba_pipeline.ops.report import StatusReport

HEALTHY, WARNING, CRITICAL, UNREACHABLE = "HEALTHY", "WARNING", "CRITICAL", "UNREACHABLE"
OK, ACTION_NEEDED, BAD_INPUT, NOT_REACHED = 0, 1, 2, 3
RULES = __doc__.split("Verdict:\n", 1)[1].strip("\n")
FAIL_ON = ("critical", "warning")


def exit_code(verdict: str, fail_on: str = "critical") -> int:
    """The exit code of a verdict: CRITICAL (and WARNING with `fail_on` "warning") 1, UNREACHABLE 3, else 0."""
    if verdict == UNREACHABLE:
        return NOT_REACHED
    if verdict == CRITICAL or (verdict == WARNING and fail_on == "warning"):
        return ACTION_NEEDED
    return OK


def verdict(report: StatusReport) -> tuple[str, list[str]]:
    """The verdict and every reason for it (the rules in the module docstring)."""
    critical, warning = [], []
    totals = report.assets[STATES].sum()
    bad = report.dates[report.dates["state"].isin(["quarantined", "failed"])]
    if not bad.empty:
        named = (bad["asset"] + " " + bad["cause_check"].fillna("?") + " on " + bad["game_date"]).head(5)
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        critical.append(f"{len(bad)} asset-date(s) failed a blocking check, not since fixed: " + "; ".join(named) + more)
    holding = report.dead_runs[report.dead_runs["slots"] != ""]
    for row in holding.itertuples(index=False):
        critical.append(f"run {row.run_id[:8]} holds pool slots ({row.slots}): {row.why} — run `nba-pipeline recover`")
    for row in report.dead_runs[report.dead_runs["slots"] == ""].itertuples(index=False):
        warning.append(f"run {row.run_id[:8]} died ({row.why}) — run `nba-pipeline recover`")
    for state in ("blocked", "missing", "unverified"):
        if totals.get(state, 0):
            warning.append(f"{int(totals[state])} asset-date(s) {state}")
    soft = report.failures[~report.failures["blocking"].astype(bool)]
    if not soft.empty:
        warning.append(f"{len(soft)} non-blocking check failure(s): "
                       + "; ".join((soft["asset"] + " " + soft["check"] + " on " + soft["game_date"]).head(5)))
    for row in report.in_progress[report.in_progress["overdue"].astype(bool)].itertuples(index=False):
        warning.append(f"{row.kind} {row.id[:8]} is past its ETA: {row.why}")
    if report.late:
        warning.append(f"yesterday's data is late: {report.late['date']} not published by {report.late['deadline']} "
                       f"for {', '.join(report.late['assets'])}")
    if critical:
        return CRITICAL, critical + warning
    return (WARNING, warning) if warning else (HEALTHY, [])
