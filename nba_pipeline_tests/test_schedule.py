"""nba_pipeline_tests/schedule.py: `make test` hands the longest files to its workers first, and keeps that order."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

from nba_pipeline_tests import schedule

ROOT = Path(__file__).resolve().parents[1]


def _items(*nodeids: str) -> list:
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_the_longest_file_goes_first_and_a_file_keeps_its_tests_in_order(monkeypatch):
    monkeypatch.setattr(schedule, "file_seconds", lambda: {"a.py": 5.0, "b.py": 300.0})
    items = _items("a.py::t1", "c.py::t1", "b.py::t2", "a.py::t2", "b.py::t1")
    schedule.longest_files_first(items)
    assert [i.nodeid for i in items] == ["b.py::t2", "b.py::t1", "a.py::t1", "a.py::t2", "c.py::t1"]  # c: not measured


def test_the_recorded_seconds_name_only_test_files_that_exist():
    recorded = schedule.file_seconds()
    assert len(recorded) > 50
    assert [p for p in recorded if not (ROOT / p).is_file()] == []


def test_make_test_keeps_the_order_instead_of_xdists_own():
    """xdist's --dist loadfile sorts files by how many tests they hold unless told not to: the one-test stories ran last."""
    make = (ROOT / "Makefile").read_text()
    commands = [line.strip() for line in make.splitlines() if "$(BIN)/pytest" in line]
    assert commands and all("--dist loadfile" in c and "--no-loadscope-reorder" in c for c in commands), commands


def test_seconds_are_summed_per_file_from_a_junit_report(tmp_path):
    suite = ET.Element("testsuite")
    for name, classname, seconds in (("t1", "nba_pipeline_tests.ops.test_x", "1.5"), ("t2", "nba_pipeline_tests.ops.test_x", "2"),
                                     ("t3", "nba_pipeline_tests.test_y", "0.3")):
        ET.SubElement(suite, "testcase", name=name, classname=classname, time=seconds)
    report = tmp_path / "report.xml"
    ET.ElementTree(suite).write(report)
    assert schedule.seconds_from_junit(report) == {"nba_pipeline_tests/ops/test_x.py": 3.5, "nba_pipeline_tests/test_y.py": 0.3}
