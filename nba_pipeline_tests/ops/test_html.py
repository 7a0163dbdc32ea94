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
from nba_pipeline.ops.checks import with_unit
from nba_pipeline.ops.html import COLOURS, WARNED_COLOUR, state_grid
from nba_pipeline_tests.browser import artifacts_dir, webdriver
from nba_pipeline_tests.conftest import EVERY_PHASE, run_range
from nba_pipeline_tests.postgres import instance_home

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
    instance = dg.DagsterInstance.local_temp(str(instance_home(home, "local")))
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


def test_chromium_renders_what_the_report_says(page):
    """The page as a browser shows it: the verdict banner in its colour, the reasons, a visible heat-map cell per
    asset-date with the quarantined date in red, and the failed date in the table (a screenshot is kept as well)."""
    _, out, parsed, report = page
    driver = webdriver()
    try:
        driver.get(out.resolve().as_uri())
        banner = driver.find_element("id", "verdict")
        assert banner.text == "VERDICT: CRITICAL" and banner.is_displayed()
        assert banner.value_of_css_property("background-color") in ("rgba(201, 42, 42, 1)", "rgb(201, 42, 42)")
        reasons = [li.text for li in driver.find_elements("css selector", "ul.reasons li")]
        assert reasons == report.reasons
        cells = driver.find_elements("css selector", "rect.cell")
        assert len(cells) == len(parsed.cells) and all(c.size["width"] >= 1 for c in cells[:50])
        bad = driver.find_element("css selector", f'rect[data-asset="player_game_summary"][data-date="{BAD}"]')
        assert bad.is_displayed() and bad.get_attribute("fill") == COLOURS["quarantined"]
        failed = driver.find_element("id", "failed").find_element("xpath", "following-sibling::table[1]")
        assert BAD in failed.text and "quarantined" in failed.text
        png = artifacts_dir("status") / "status.png"
        driver.save_screenshot(str(png))
        print(f"screenshot: {png}")
    finally:
        driver.quit()


def test_a_published_date_with_a_non_blocking_failure_is_coloured_and_numbers_carry_units(page):
    _, out, parsed, report = page
    soft = report.failures[~report.failures["blocking"].astype(bool)]
    assert not soft.empty  # the simulator's thin play-by-play on a date: a shot-zone coverage warning
    grid = state_grid(report).set_index(["asset", "game_date"])
    for row in soft.itertuples():
        if grid.loc[(row.asset, row.game_date), "state"] == "published":
            cell = parsed.cells[(row.asset, row.game_date)]
            assert "warned" in cell["class"] and cell["fill"] == WARNED_COLOUR, cell
    text = out.read_text(encoding="utf-8")
    assert f'background:{WARNED_COLOUR}' in text and "published with a non-blocking failure" in text
    table = text.split("<h2>Failed non-blocking checks</h2>", 1)[1].split("<h2>", 1)[0]
    units = set(soft["unit"])
    assert units and units <= {"%", "rows", "/100"}
    shown = with_unit(soft["value"], soft["unit"]).iloc[0]
    assert shown in table and shown.endswith(("%", "rows", "/100")), (shown, table[:2000])


def test_a_bad_html_path_is_refused_before_any_work(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    instance_home(tmp_path, "local")
    done = subprocess.run([sys.executable, "-m", "nba_pipeline.cli", "status", "--html", str(tmp_path / "no" / "x.html")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "does not exist" in done.stderr and done.stdout == ""
