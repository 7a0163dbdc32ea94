"""`nba-pipeline status --html FILE` on a real instance and warehouse: one self-contained page whose heat-map cells
carry each asset-date's state (a quarantined date red, published green, blocked amber), with the legend, the
verdict and the tables of blocked and failed dates; rendered by headless Chromium to a PNG artefact."""

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pytest

from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.ops.report import build_report
from nba_pipeline.ops.verdict import CRITICAL
from nba_pipeline.ops.html import COLOURS, state_grid
from nba_pipeline_tests.browser import artifacts_dir, screenshot_file
from nba_pipeline_tests.conftest import EVERY_PHASE, run_range

ROOT = Path(__file__).resolve().parents[2]
START, BAD, END = "2021-10-19", "2021-10-22", "2021-10-24"
FAULT = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])


class _Cells(HTMLParser):
    """Every heat-map rect's attributes, and whether the page loads anything from elsewhere."""

    def __init__(self):
        super().__init__()
        self.cells: dict[tuple[str, str], dict[str, str]] = {}
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "rect" and "cell" in a.get("class", ""):
            self.cells[(a["data-asset"], a["data-date"])] = a
        for name in ("src", "href"):
            if a.get(name):
                self.external.append(a[name])
        if tag == "link" or tag == "script":
            self.external.append(tag)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """Every phase over six dates, vendor game ids in the box scores of one; `status --html` through the CLI."""
    root = tmp_path_factory.mktemp("status_html")
    home, warehouse = root / "home", root / "warehouse.duckdb"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    instance = dg.DagsterInstance.local_temp(str(home))
    run_range(str(warehouse), START, END, faults=FAULT, instance=instance, assets=EVERY_PHASE)  # the model fails: 6 dates
    out = root / "status.html"
    env = {"DAGSTER_HOME": str(home), "NBA_PIPELINE_WAREHOUSE": str(warehouse), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(ROOT)}
    cli = subprocess.run([sys.executable, "-m", "nba_pipeline.cli", "status", "--html", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=env)
    parsed = _Cells()
    parsed.feed(out.read_text(encoding="utf-8"))
    return cli, out, parsed, build_report(instance, str(warehouse))


def test_the_cli_writes_the_page_and_keeps_its_exit_code(page):
    cli, out, _, _ = page
    assert cli.returncode == 1, cli.stderr[-2000:]  # CRITICAL, as without --html
    assert "VERDICT: CRITICAL" in cli.stdout and f"HTML report: {out.resolve()}" in cli.stderr


def test_every_asset_date_is_a_cell_coloured_by_its_state(page):
    _, _, parsed, report = page
    dates = 6
    assert len(parsed.cells) == len(report.assets) * dates
    bad = parsed.cells[("player_game_summary", BAD)]
    assert bad["data-state"] == "quarantined" and "state-quarantined" in bad["class"] and bad["fill"] == COLOURS["quarantined"]
    good = parsed.cells[("player_game_summary", START)]
    assert good["data-state"] == "published" and good["fill"] == COLOURS["published"]
    assert parsed.cells[("player_boxscores", BAD)]["data-state"] == "published"  # the raw feed published its rows
    blocked = parsed.cells[("player_composite_factors", "2021-10-23")]
    assert blocked["data-state"] == "blocked" and blocked["fill"] == COLOURS["blocked"]
    assert parsed.cells[("player_composite_factors", BAD)]["data-state"] == "published"  # its slate reads days before
    # the page says exactly what the report says, cell for cell
    grid = state_grid(report)
    assert {(r.asset, r.game_date): r.state for r in grid.itertuples()} == {k: v["data-state"] for k, v in parsed.cells.items()}
    for state in ("published", "quarantined", "blocked"):
        assert sum(c["data-state"] == state for c in parsed.cells.values()) == int(report.assets[state].sum())


def test_the_page_is_self_contained_with_legend_verdict_and_tables(page):
    _, out, parsed, report = page
    text = out.read_text(encoding="utf-8")
    assert parsed.external == []  # no script, stylesheet, image or link to fetch
    assert report.verdict == CRITICAL and 'class="verdict verdict-critical"' in text and "VERDICT: CRITICAL" in text
    for state, colour in COLOURS.items():
        assert re.search(rf'legend-item state-{state}".*?background:{colour}', text), state
    assert "player_game_summary usage_rate_populated" in text  # why the blocked dates wait
    failed = text.split('id="failed"', 1)[1].split("<h2>", 1)[0]
    assert BAD in failed and "quarantined" in failed and "sr:match:" in failed


def test_chromium_renders_it(page):
    _, out, _, _ = page
    png = screenshot_file(out, artifacts_dir("status") / "status.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    print(f"screenshot: {png}")


def test_a_bad_html_path_is_refused_before_any_work(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    (tmp_path / "dagster.yaml").write_text("")
    done = subprocess.run([sys.executable, "-m", "nba_pipeline.cli", "status", "--html", str(tmp_path / "no" / "x.html")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "does not exist" in done.stderr and done.stdout == ""
