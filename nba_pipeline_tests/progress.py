"""Progress lines of long tests, shown while the suite runs (`make test` is `pytest -q`, which captures output).

The real-daemon stories wait minutes for backfills and automation: without this the suite sat silent for five
minutes. `progress()` writes past pytest's capture to the terminal, one timestamped line, as the test goes."""

from __future__ import annotations

import os
import sys
import time

import pytest

_config: pytest.Config | None = None


def attach(config: pytest.Config) -> None:
    global _config
    _config = config


def progress(message: str) -> None:
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" (")[0].rsplit("/", 1)[-1]
    line = f"[{time.strftime('%H:%M:%S')}] {test + ': ' if test else ''}{message}"
    reporter = _config.pluginmanager.getplugin("terminalreporter") if _config else None
    capture = _config.pluginmanager.getplugin("capturemanager") if _config else None
    if capture is None:
        print(line, flush=True)
        return
    with capture.global_and_fixture_disabled():
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker or reporter is None:  # a pytest-xdist worker's reporter goes nowhere; its stderr is the terminal's
            print(f"\n[{worker}] {line}" if worker else line, file=sys.stderr, flush=True)
            return
        reporter.ensure_newline()
        reporter.write_line(line)
