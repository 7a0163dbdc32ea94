"""The system's headless Chromium (Debian's `chromium` and `chromium-driver`; browsers cannot be downloaded here),
for tests that look at pages as a user does. Missing browser = a failed test saying what to install, never a skip.
Screenshots go to `test-artifacts/` at the repository root (gitignored; NBA_PIPELINE_TEST_ARTIFACTS moves it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from nba_pipeline_tests.tiers import heavy

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "apt-get install -y chromium chromium-driver (make test does this: .ci/prerequisites)"


def artifacts_dir(*parts: str) -> Path:
    path = Path(os.environ.get("NBA_PIPELINE_TEST_ARTIFACTS", ROOT / "test-artifacts")).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@heavy("a browser", guard=False)
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, f"no chromium on PATH: {INSTALL}"
    return found


@heavy("a browser", guard=False)
def chromedriver() -> str:
    found = shutil.which("chromedriver")
    assert found, f"no chromedriver on PATH: {INSTALL}"
    return found


@heavy("a browser")
def screenshot_file(page: Path, png: Path, width: int = 1400, height: int = 900) -> Path:
    """A PNG of a local HTML file, rendered by headless Chromium from the command line."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:  # its own: tests run side by side
        command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                   "--disable-background-networking", f"--user-data-dir={profile}",
                   f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and png.exists() and png.stat().st_size > 0, done.stderr[-2000:]
    return png


@heavy("a browser")
def webdriver():
    """A Selenium session on headless Chromium through the system's chromedriver (no Selenium Manager download)."""
    from selenium import webdriver as wd
    from selenium.webdriver.chrome.service import Service

    options = wd.ChromeOptions()
    options.binary_location = chromium()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(flag)
    return wd.Chrome(service=Service(executable_path=chromedriver()), options=options)
