"""The order `make test` hands test files to its workers: longest first (nba_pipeline_tests/file_seconds.json, seconds
per file as last measured on this 2-core machine), so a long story never starts last and leaves one worker running
alone at the end. xdist's `--dist loadfile` keeps each file on one worker; `--no-loadscope-reorder` keeps this order
(xdist's own puts files with the most tests first, which started the one-test stories last). A file not yet
measured goes last, where short files fill the gaps.

    python -m nba_pipeline_tests.schedule REPORT.xml   # rewrite file_seconds.json from `pytest --junitxml=REPORT.xml`
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

TESTS_ROOT = Path(__file__).resolve().parent
SECONDS_FILE = TESTS_ROOT / "file_seconds.json"


def file_seconds() -> dict[str, float]:
    return json.loads(SECONDS_FILE.read_text()) if SECONDS_FILE.exists() else {}


def longest_files_first(items: list[pytest.Item]) -> None:
    """Reorder `items` in place: by their file's measured seconds, longest first; tests keep their order in a file."""
    seconds = file_seconds()
    position = {}
    for index, item in enumerate(items):
        position.setdefault(item.nodeid.split("::")[0], index)
    items.sort(key=lambda item: (-seconds.get(item.nodeid.split("::")[0], 0.0), position[item.nodeid.split("::")[0]]))


def seconds_from_junit(report: Path) -> dict[str, float]:
    """Seconds per test file (setup + call + teardown of its tests) from a junit XML report."""
    totals: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        totals[path] += float(case.get("time") or 0.0)
    return {path: round(s, 1) for path, s in sorted(totals.items(), key=lambda kv: -kv[1])}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m nba_pipeline_tests.schedule REPORT.xml")
    measured = seconds_from_junit(Path(sys.argv[1]))
    missing = [p for p in measured if not (TESTS_ROOT.parent / p).exists()]
    if missing:
        sys.exit(f"not test files here: {missing[:3]}")
    SECONDS_FILE.write_text(json.dumps(measured, indent=1) + "\n")
    print(f"{SECONDS_FILE}: {len(measured)} files, {sum(measured.values()):.0f} s in all")
