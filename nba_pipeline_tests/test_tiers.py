"""The `slow` marker (nba_pipeline_tests/tiers.py): what `make test-fast` collects starts nothing heavy, the stories that
do are left out, and a test reaching a heavy helper without the marker fails, naming itself."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nba_pipeline_tests import tiers

ROOT = Path(__file__).resolve().parents[1]


def _collect(tmp_path: Path, *args: str) -> list[dict]:
    report = tmp_path / "tiers.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", f"--tier-report={report}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTEST_ADDOPTS": ""},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(report.read_text())


@pytest.fixture(scope="module")
def fast_and_all(tmp_path_factory) -> tuple[list[dict], list[dict]]:
    """What `make test-fast`'s `-m "not slow"` keeps, and every test (what it keeps and what it leaves), from one
    collection."""
    everything = _collect(tmp_path_factory.mktemp("tiers"), "-m", "not slow")
    return [t for t in everything if t["selected"]], everything


def _heavy_names(module_name: str) -> dict[str, str]:
    module = importlib.import_module(module_name)
    return {name: value.__heavy__ for name, value in vars(module).items() if isinstance(getattr(value, "__heavy__", None), str)}


def test_the_fast_tier_takes_no_heavy_fixture_helper_parameter_or_directory(fast_and_all):
    fast, _ = fast_and_all
    assert fast, "make test-fast would collect nothing"
    for test in fast:
        assert not test["slow"] and not test["reasons"], test["nodeid"]
        assert not set(test["fixtures"]) & set(tiers.HEAVY_FIXTURES), test["nodeid"]
        assert not _heavy_names(test["module"]), (test["nodeid"], _heavy_names(test["module"]))
        params = test["nodeid"].partition("[")[2].rstrip("]").split("-")
        assert not set(params) & set(tiers.HEAVY_PARAMS), test["nodeid"]
        assert not test["nodeid"].startswith("nba_pipeline_tests/deploy/"), test["nodeid"]


def test_the_stories_on_dagster_dev_a_browser_emulators_and_postgres_are_slow(fast_and_all):
    fast, everything = fast_and_all
    fast_ids = {t["nodeid"] for t in fast}
    slow = {t["nodeid"] for t in everything} - fast_ids
    assert {t["nodeid"] for t in everything if t["slow"]} == slow  # -m "not slow" leaves out exactly the marked ones
    for story in ("test_daemon_story.py", "ops/test_crash_recovery.py", "test_ui.py", "test_bigquery_emulator.py",
                  "ops/test_html.py", "ops/test_both_warehouses.py", "warehouse/test_gcs_model_store.py"):
        ids = [i for i in slow if i.startswith(f"nba_pipeline_tests/{story}::")]
        assert ids and not any(i.startswith(f"nba_pipeline_tests/{story}::") for i in fast_ids), story
    assert any(i.endswith("[production]") for i in slow) and any(i.endswith("[bigquery]") for i in slow)
    assert any(i.endswith("[duckdb]") for i in fast_ids)  # the in-process variant of a parametrized test stays fast
    assert any(i.startswith("nba_pipeline_tests/test_dates.py::") for i in fast_ids)


def test_a_heavy_helper_reached_from_an_unmarked_test_fails_it_by_name(request):
    assert request.node.get_closest_marker("slow") is None
    started = []
    start = tiers.heavy("a pretend server")(lambda: started.append(True))
    with pytest.raises(pytest.fail.Exception, match=r"test_tiers\.py::test_a_heavy_helper_reached.* starts a pretend server "
                                                    r"but is not marked 'slow'"):
        start()
    assert not started  # failed before starting anything
