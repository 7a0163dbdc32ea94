"""`nba-pipeline status --html FILE`: the status report as one self-contained HTML page — the verdict, a coverage
heat-map of dates × assets coloured by state, a legend, and the tables of what is blocked and what failed.

Everything is inline (CSS and one SVG, no script, no external asset), so the file can be mailed, attached to a
ticket or opened from disk. It renders a `StatusReport` and queries nothing: a date of an asset that the report
does not list among `dates` (every state but published) is published.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from nba_pipeline.ops.report import StatusReport
from nba_pipeline.ops.states import STATES
from nba_pipeline.ops.text import measured
from nba_pipeline.ops.verdict import CRITICAL, HEALTHY, UNREACHABLE, WARNING

# one colour per state; the two "a blocking check failed" states share the red family
COLOURS = {
    "published": "#2f9e44",
    "quarantined": "#c92a2a",
    "failed": "#f03e3e",
    "blocked": "#f59f00",
    "running": "#1c7ed6",
    "unverified": "#9c36b5",
    "missing": "#ced4da",
}
# a published date whose non-blocking check failed: readable, but the verdict is WARNING because of it
WARNED, WARNED_COLOUR = "warned", "#fab005"
MEANING = {
    "published": "published, and the instance saw every blocking check pass",
    "quarantined": "failed a blocking check: rows quarantined, never published",
    "failed": "the latest evaluation of a blocking check failed",
    "blocked": "waits on an upstream date that failed a blocking check",
    "running": "a run in progress will evaluate it",
    "unverified": "published, but the instance did not see that publish pass",
    "missing": "nothing yet",
    WARNED: "published, but a non-blocking check failed (the WARNING)",
}
VERDICT_COLOURS = {HEALTHY: "#2f9e44", WARNING: "#f59f00", CRITICAL: "#c92a2a", UNREACHABLE: "#495057"}
LABEL_WIDTH, MAX_GRID_WIDTH, MAX_CELL, MIN_CELL, ROW_HEIGHT, AXIS_HEIGHT = 210, 1100, 18, 3, 18, 70

CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #212529; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #495057; font-size: 12px; }
.verdict { display: inline-block; color: #fff; font-weight: 700; padding: 4px 12px; border-radius: 4px; margin: 12px 0 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0; font-size: 12px; }
.legend span.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -2px; }
svg.heatmap text { font: 11px system-ui, sans-serif; fill: #343a40; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
th, td { border: 1px solid #dee2e6; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f1f3f5; } td.num { text-align: right; }
.none { color: #868e96; font-style: italic; }
"""


def state_grid(report: StatusReport) -> pd.DataFrame:
    """asset, game_date, state, detail, colour for every asset of the report and every date of its range (asset
    order kept). A published date with a failed non-blocking check keeps its state and gets the warning colour."""
    assets = list(report.assets["asset"])
    dates = list(pd.date_range(report.start, report.end).strftime("%Y-%m-%d"))
    grid = pd.MultiIndex.from_product([assets, dates], names=["asset", "game_date"]).to_frame(index=False)
    known = report.dates[["asset", "game_date", "state", "detail"]]
    grid = grid.merge(known, on=["asset", "game_date"], how="left")
    grid["state"] = grid["state"].fillna("published")
    grid["detail"] = grid["detail"].fillna("")
    soft = report.failures[~report.failures["blocking"].astype(bool)]
    warned = soft.groupby(["asset", "game_date"])["check"].agg(", ".join).rename("warned").reset_index()
    grid = grid.merge(warned, on=["asset", "game_date"], how="left")
    is_warned = grid["warned"].notna() & grid["state"].eq("published")
    grid["colour"] = grid["state"].map(COLOURS).where(~is_warned, WARNED_COLOUR)
    grid["detail"] = grid["detail"].where(~is_warned, "non-blocking check(s) failed: " + grid["warned"].fillna(""))
    grid["warned"] = is_warned
    return grid


def _esc(values: pd.Series) -> pd.Series:
    text = values.fillna("").astype(str)
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        text = text.str.replace(raw, entity, regex=False)
    return text


def heatmap_svg(report: StatusReport) -> str:
    """One rect per asset-date (class `cell state-<state>`, data-asset / data-date, a tooltip saying why)."""
    grid = state_grid(report)
    assets = list(report.assets["asset"])
    dates = list(pd.date_range(report.start, report.end).strftime("%Y-%m-%d"))
    cell = max(MIN_CELL, min(MAX_CELL, MAX_GRID_WIDTH // max(len(dates), 1)))
    width, height = LABEL_WIDTH + cell * len(dates) + AXIS_HEIGHT, AXIS_HEIGHT + ROW_HEIGHT * len(assets) + 4
    col = grid["game_date"].map({d: i for i, d in enumerate(dates)})
    row = grid["asset"].map({a: i for i, a in enumerate(assets)})
    x = (LABEL_WIDTH + col * cell).astype(str)
    y = (AXIS_HEIGHT + row * ROW_HEIGHT).astype(str)
    tip = _esc(grid["asset"] + " " + grid["game_date"] + ": " + grid["state"]
               + grid["detail"].where(grid["detail"] == "", " — " + grid["detail"].str.slice(0, 300)))
    rects = ('<rect class="cell state-' + grid["state"] + grid["warned"].map({True: " " + WARNED, False: ""})
             + '" data-asset="' + _esc(grid["asset"]) + '" data-date="'
             + grid["game_date"] + '" data-state="' + grid["state"] + '" x="' + x + '" y="' + y + '" width="'
             + str(max(cell - 1, 1)) + '" height="' + str(ROW_HEIGHT - 2) + '" fill="' + grid["colour"]
             + '"><title>' + tip + "</title></rect>")
    labels = [f'<text x="{LABEL_WIDTH - 6}" y="{AXIS_HEIGHT + i * ROW_HEIGHT + ROW_HEIGHT - 6}" text-anchor="end">'
              f"{html.escape(a)}</text>" for i, a in enumerate(assets)]
    every = max(1, -(-14 // cell))  # a date label every `every` columns, at least 14 px apart
    ticks = [f'<text transform="translate({LABEL_WIDTH + i * cell + cell / 2 + 4},{AXIS_HEIGHT - 4}) rotate(-60)">'
             f"{d}</text>" for i, d in enumerate(dates) if i % every == 0]
    return (f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="coverage: dates by assets">'
            + "".join(labels) + "".join(ticks) + "".join(rects) + "</svg>")


def _table(frame: pd.DataFrame, empty: str = "none") -> str:
    if frame.empty:
        return f'<p class="none">{html.escape(empty)}</p>'
    shown = frame.astype(object).where(frame.notna(), "")
    return shown.to_html(index=False, escape=True, border=0, classes="report")


def render_html(report: StatusReport) -> str:
    """The whole page."""
    dates = len(pd.date_range(report.start, report.end))
    legend = "".join(
        f'<span class="legend-item state-{s}" title="{html.escape(MEANING[s])}"><span class="swatch" '
        f'style="background:{COLOURS[s]}"></span>{s} ({int(report.assets[s].sum()) if s in report.assets else 0})</span>'
        for s in STATES
    ) + (f'<span class="legend-item {WARNED}" title="{html.escape(MEANING[WARNED])}"><span class="swatch" '
         f'style="background:{WARNED_COLOUR}"></span>published with a non-blocking failure '
         f'({int(state_grid(report)["warned"].sum())})</span>')
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in report.reasons) or "<li>nothing to report</li>"
    blocked = report.dates[report.dates["state"] == "blocked"]
    if not blocked.empty:
        blocked = blocked.groupby(["asset", "cause_asset", "cause_check", "cause_date"], dropna=False)["game_date"].agg(
            first="min", last="max", dates="size").reset_index()
        blocked["blocked by"] = (blocked["cause_asset"] + " " + blocked["cause_check"].fillna("?") + " on "
                                 + blocked["cause_date"])
        blocked = blocked[["asset", "first", "last", "dates", "blocked by"]]
    bad = report.dates[report.dates["state"].isin(["quarantined", "failed"])]
    bad = bad[["asset", "game_date", "state", "cause_check", "detail"]].rename(columns={"cause_check": "checks", "detail": "why"})
    soft = report.failures[~report.failures["blocking"].astype(bool)]
    soft = measured(soft).assign(why=soft["why"])
    runs = report.failed_runs[["run_id", "partitions", "step", "since_fixed", "error"]]
    colour = VERDICT_COLOURS[report.verdict]
    title = f"nba-pipeline status {report.start} … {report.end}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)} — {report.verdict}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)} ({dates} dates)</h1>",
        f'<div class="meta">instance: {html.escape(report.instance)} · warehouse: {html.escape(report.warehouse)} · '
        f"generated {html.escape(report.generated_at)}</div>",
        f'<div id="verdict" class="verdict verdict-{report.verdict.lower()}" style="background:{colour}">'
        f"VERDICT: {report.verdict}</div>",
        f'<ul class="reasons">{reasons}</ul>',
        "<h2>Coverage: dates × assets</h2>",
        f'<div class="legend">{legend}</div>',
        f'<div class="grid">{heatmap_svg(report)}</div>',
        "<h2>Dates per asset</h2>", _table(report.assets),
        "<h2>Blocked (waiting on an upstream date that failed a blocking check)</h2>", _table(blocked),
        '<h2 id="failed">Failed blocking checks (quarantined / failed, not since fixed)</h2>', _table(bad),
        "<h2>Failed non-blocking checks</h2>", _table(soft),
        "<h2>Checks by season with a failure</h2>", _table(report.checks[report.checks["failed"] > 0]),
        "<h2>usage_rate populated % by season (players who played, published rows)</h2>", _table(report.usage_rate),
        "<h2>Runs and backfills in progress</h2>", _table(report.in_progress),
        "<h2>Dead runs and runs holding pool slots</h2>", _table(report.dead_runs),
        "<h2>Failed runs touching the range</h2>", _table(runs),
        "</body></html>",
    ])


def html_target(path: str | Path) -> Path:
    """`path` if a page can be written there (its directory exists), else ValueError naming it — before any work."""
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"--html {path} is a directory; give a file name, e.g. {target / 'status.html'}")
    if not target.parent.is_dir():
        raise ValueError(f"--html {path}: directory {target.parent} does not exist")
    return target


def write_html(report: StatusReport, path: str | Path) -> Path:
    """Write the page to `path`, replacing it whole (a reader never sees half a page)."""
    target = html_target(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(render_html(report), encoding="utf-8")
    partial.replace(target)
    return target
