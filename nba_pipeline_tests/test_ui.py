"""The web UI, looked at as a user does: a real `dagster dev` (webserver + daemon, temporary DAGSTER_HOME), a range
backfill of raw + analytics launched through GraphQL with the game-id fault on one date, then headless Chromium
(the system's `chromium` + `chromedriver`, through Selenium) on the asset's Checks page and the backfill's page.

It asserts what is on the screen: the check names; per-partition counts of a check ("Failed (1)", "Passed (2)" on
its Partitions tab); the backfill's status and per-asset partition counts. Screenshots are kept under
`test-artifacts/ui/` (printed). No chromium = a failed test saying what to install, never a skip."""

from __future__ import annotations

import pytest
import requests
import yaml

from nba_pipeline.checks import names
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline_tests.browser import artifacts_dir, chromedriver, chromium, webdriver
from nba_pipeline_tests.dagster_dev import progress, start_dagster_dev, stop_dagster_dev

RAW = ["schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines"]
ANALYTICS = ["team_offense_game_summary", "team_defense_game_summary", "player_game_summary"]
DATES, BAD = ["2021-10-19", "2021-10-20", "2021-10-21"], "2021-10-20"
PGS_CHECKS = [names.USAGE_RATE_POPULATED, names.MINUTES_POPULATED, names.SHOT_ZONE_COVERAGE, names.AVG_QUALITY_SCORE,
              names.PRODUCTION_READY, names.NO_DUPLICATE_KEYS]
RENDER_TIMEOUT = 90
PARTITION_STATS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
  ... on AssetNode { partitionStats { numMaterialized numFailed numMaterializing } } } }"""


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    chromium(), chromedriver()  # fail first, by name, if the browser is not installed
    dev = start_dagster_dev(tmp_path_factory.mktemp("ui"), automation_interval_seconds=30)
    try:
        fault = SimulatorFaults(game_id_format="vendor", game_id_feed="player_boxscores", affected_dates=[BAD])
        dev.faults_file.write_text(yaml.safe_dump(fault.model_dump()))
        backfill = dev.launch_backfill(RAW + ANALYTICS, DATES)
        progress(f"backfill {backfill} launched through GraphQL")
        status = dev.wait_for_backfill(backfill, timeout=240)
        progress(f"backfill {backfill}: {status}")
        yield dev, backfill, status
    finally:
        stop_dagster_dev(dev)


@pytest.fixture(scope="module")
def browser():
    driver = webdriver()
    yield driver
    driver.quit()


def _body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _open(driver, url: str, *expected: str) -> str:
    """Load `url` and wait until the React app shows every `expected` text; the page's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, RENDER_TIMEOUT).until(lambda d: all(t in _body(d) for t in expected),
                                                f"{url} never showed {expected}")
    for skip in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):  # the first-visit newsletter modal
        skip.click()
    return _body(driver)


def _shot(driver, name: str) -> None:
    path = artifacts_dir("ui") / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def test_the_checks_page_names_the_checks_and_counts_partitions(backfilled, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    dev, _, _ = backfilled
    url = f"{dev.url}/assets/player_game_summary?view=checks&checkDetail={names.USAGE_RATE_POPULATED}"
    text = _open(browser, url, f"Checks ({len(PGS_CHECKS)})", *PGS_CHECKS)
    listing = text.split(f"Checks ({len(PGS_CHECKS)})", 1)[1]
    # the list shows each check with its latest status: the fault fails usage_rate on one date of the range
    assert f"{names.USAGE_RATE_POPULATED}\nFailed" in listing and f"{names.MINUTES_POPULATED}\nSucceeded" in listing
    _shot(browser, "checks")
    tab = browser.find_elements(By.XPATH, "//button[normalize-space()='Partitions']")
    assert tab, "the check detail has no Partitions tab"
    tab[-1].click()
    labels = ("Failed (", "Passed (", "Execution Failed (")
    WebDriverWait(browser, RENDER_TIMEOUT).until(lambda d: all(label in _body(d) for label in labels),
                                                 f"the Partitions tab never showed all of the per-partition counts {labels}")
    text = _body(browser)
    _shot(browser, "check_partitions")
    assert "Failed (1)" in text and "Passed (2)" in text and "Execution Failed (0)" in text


def test_the_backfill_page_shows_it_completed_with_per_asset_counts(backfilled, browser):
    dev, backfill, status = backfilled
    assert status == "COMPLETED_SUCCESS"  # quarantine, not a step failure: the backfill itself completes
    text = _open(browser, f"{dev.url}/runs/b/{backfill}", "Partition selection", "player_game_summary")
    _shot(browser, "backfill")
    assert f"Runs / {backfill}" in text and f"{DATES[0]}...{DATES[-1]}" in text
    assert "Status\nSucceeded" in text
    for asset in RAW + ANALYTICS:  # targeted, in progress, succeeded, failed
        assert f"{asset}\n100% completed\n3\n0\n3\n0" in text, asset


def test_the_partition_counts_agree_with_the_warehouse(backfilled):
    """What the asset's Partitions tab counts (GraphQL `partitionStats`): the quarantined date is failed, not
    materialized, though the backfill's one run materialized the whole range; its upstream dates all published."""
    dev, _, _ = backfilled

    def stats(asset: str) -> dict:
        reply = requests.post(f"{dev.url}/graphql", json={"query": PARTITION_STATS, "variables": {"key": {"path": [asset]}}},
                              timeout=60)
        return reply.json()["data"]["assetNodeOrError"]["partitionStats"]

    assert stats("player_game_summary") == {"numMaterialized": len(DATES) - 1, "numFailed": 1, "numMaterializing": 0}
    assert stats("player_boxscores") == {"numMaterialized": len(DATES), "numFailed": 0, "numMaterializing": 0}
