"""The test tiers: which tests are `slow`, decided by construction when pytest collects them, and the guard that fails
a test reaching a heavy helper without that marker. `make test` runs every test; `make test-fast` runs
`-m "not slow"` (the inner loop: no `dagster dev`, browser, BigQuery emulator, PostgreSQL server or containers).

A test is `slow` when any of these holds (`slow_reasons`):
- it takes a fixture that starts a server: `postgres_url` (PostgreSQL), `bigquery_emulator` (the emulator);
- its module holds (imports) a helper declared `@heavy` here: `start_dagster_dev` and `DagsterDev`
  (dagster_dev.py), `webdriver` / `screenshot_file` / `chromium` / `chromedriver` (browser.py), `running_emulator`
  (bigquery_emulator.py), `fresh_database` (postgres.py) — the whole module, as its fixtures may start them;
- its module holds anything of an emulator package (`gcp_storage_emulator`, `bqemulator`);
- it is parametrized with a backend that needs a server: `production` (the PostgreSQL instance, which the fixture
  asks for with `request.getfixturevalue("postgres_url")`) or `bigquery` / `bigquery_rest` (the emulator, the same
  way);
- it lives under `nba_pipeline_tests/deploy/` (containers);
- its test body asks for a heavy fixture itself (`request.getfixturevalue("bigquery_emulator")`, directly or in a
  module function it calls);
- it is a heavy story: in the last measured run of the fast tier (`--tier-record`, on this 2-core machine) its own
  setup + call, or the setup of a module/session fixture it takes, cost `STORY_SECONDS` or more. Those are listed
  with their seconds in nba_pipeline_tests/heavy_stories.json (`python -m nba_pipeline_tests.tiers RECORD...`
  rewrites it); a new test is fast until a recording says otherwise.
What the rule cannot see (a helper reached some other way) the guard catches: every heavy helper calls
`require_slow` first, which fails the running test if it is not marked, saying so — in `make test` as well.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

MARKER = "slow"
HEAVY_FIXTURES = {"postgres_url": "PostgreSQL", "bigquery_emulator": "the BigQuery emulator"}
HEAVY_PARAMS = {"production": "PostgreSQL (the production instance)", "bigquery": "the BigQuery emulator",
                "bigquery_rest": "the BigQuery emulator (table reads over REST)"}
EMULATOR_PACKAGES = ("gcp_storage_emulator", "bqemulator")
SLOW_DIRS = ("deploy",)  # under nba_pipeline_tests/: container tests
TESTS_ROOT = Path(__file__).resolve().parent

STORY_SECONDS = 5.0
STORIES_FILE = TESTS_ROOT / "heavy_stories.json"

_current: pytest.Item | None = None  # the test being set up, run or torn down in this process (one per xdist worker)
F = TypeVar("F", bound=Callable)


def heavy(what: str, guard: bool = True) -> Callable[[F], F]:
    """Declare a helper that starts `what`: modules holding it are `slow`, and (with `guard`) calling it from a test
    that is not marked `slow` fails that test."""

    def declare(helper: F) -> F:
        if guard:
            @functools.wraps(helper)
            def guarded(*args, **kwargs):
                require_slow(what)
                return helper(*args, **kwargs)
        else:
            guarded = helper
        guarded.__heavy__ = what
        return guarded  # type: ignore[return-value]

    return declare


def require_slow(what: str) -> None:
    """Fail the running test if it reaches `what` without the `slow` marker (outside a test: nothing to check)."""
    if _current is not None and _current.get_closest_marker(MARKER) is None:
        pytest.fail(
            f"{_current.nodeid} starts {what} but is not marked {MARKER!r}: the rule in nba_pipeline_tests/tiers.py "
            f"did not see it (take the fixture, import the helper at module level, or name the parameter)",
            pytrace=False,
        )


def set_current(item: pytest.Item | None) -> None:
    global _current
    _current = item


def slow_reasons(item: pytest.Item) -> list[str]:
    """Why `item` is `slow` (empty: it belongs to the fast tier)."""
    reasons = [f"fixture {name} ({what})" for name, what in HEAVY_FIXTURES.items() if name in item.fixturenames]
    module = getattr(item, "module", None)
    for name, value in sorted(vars(module).items()) if module else []:
        what = getattr(value, "__heavy__", None)
        if isinstance(what, str):
            reasons.append(f"module holds {name} ({what})")
        elif str(getattr(value, "__module__", None) or getattr(value, "__name__", "")).split(".")[0] in EMULATOR_PACKAGES:
            reasons.append(f"module holds {name} (an emulator)")
    callspec = getattr(item, "callspec", None)
    for param, value in (callspec.params.items() if callspec else []):
        if isinstance(value, str) and value in HEAVY_PARAMS:
            reasons.append(f"parameter {param}={value} ({HEAVY_PARAMS[value]})")
    try:
        relative = Path(str(item.path)).resolve().relative_to(TESTS_ROOT)
    except ValueError:
        relative = None
    if relative is not None and relative.parts[0] in SLOW_DIRS:
        reasons.append(f"under nba_pipeline_tests/{relative.parts[0]}/ (containers)")
    for name in sorted(_dynamic_requests(getattr(item, "function", None), module)):
        reasons.append(f"asks for fixture {name} ({HEAVY_FIXTURES[name]}) in its body")
    stories = _stories()
    if item.nodeid in stories["tests"]:
        reasons.append(f"a heavy story ({stories['tests'][item.nodeid]:.0f} s measured)")
    for key in fixture_keys(item):
        if key in stories["fixtures"]:
            reasons.append(f"takes {key} ({stories['fixtures'][key]:.0f} s measured)")
    return reasons


def fixture_keys(item: pytest.Item) -> list[str]:
    """`<where it is defined>::<name>[<param>]` of each module/session-scoped fixture `item` takes."""
    info = getattr(item, "_fixtureinfo", None)
    callspec = getattr(item, "callspec", None)
    keys = []
    for name in getattr(item, "fixturenames", []):
        defs = info.name2fixturedefs.get(name) if info else None
        if defs and defs[-1].scope != "function":
            param = callspec.params.get(name) if callspec else None
            keys.append(fixture_key(defs[-1].baseid, name, param))
    return keys


def fixture_key(baseid: str, name: str, param: object = None) -> str:
    return f"{baseid}::{name}" + (f"[{param}]" if param is not None else "")


@functools.cache
def _stories() -> dict[str, dict[str, float]]:
    import json

    return json.loads(STORIES_FILE.read_text()) if STORIES_FILE.exists() else {"tests": {}, "fixtures": {}}


def _dynamic_requests(function, module, seen: set | None = None) -> set[str]:
    """Heavy fixtures that `function`, or a function of its module it calls, asks for by `getfixturevalue`."""
    import types

    code = getattr(getattr(function, "__wrapped__", function), "__code__", None)
    seen = set() if seen is None else seen
    if code is None or code in seen:
        return set()
    seen.add(code)
    found, stack = set(), [code]
    while stack:
        current = stack.pop()
        if "getfixturevalue" in current.co_names:
            found |= {c for c in current.co_consts if isinstance(c, str) and c in HEAVY_FIXTURES}
        stack += [c for c in current.co_consts if isinstance(c, types.CodeType)]
        for name in current.co_names:
            called = getattr(module, name, None) if module else None
            if isinstance(called, types.FunctionType) and called.__module__ == getattr(module, "__name__", None):
                found |= _dynamic_requests(called, module, seen)
    return found


def write_stories(records: list[Path], threshold: float = STORY_SECONDS) -> dict:
    """heavy_stories.json from the recordings of a fast-tier run (one file per xdist worker)."""
    import json

    tests, fixtures = {}, {}
    for record in records:
        data = json.loads(record.read_text())
        for kind, into in (("tests", tests), ("fixtures", fixtures)):
            for key, seconds in data[kind].items():
                into[key] = max(into.get(key, 0.0), seconds)
    stories = {
        "threshold_seconds": threshold,
        "tests": {k: round(v, 1) for k, v in sorted(tests.items()) if v >= threshold},
        "fixtures": {k: round(v, 1) for k, v in sorted(fixtures.items()) if v >= threshold},
    }
    STORIES_FILE.write_text(json.dumps(stories, indent=1) + "\n")
    return stories


if __name__ == "__main__":
    import sys

    written = write_stories([Path(a) for a in sys.argv[1:]])
    print(f"{STORIES_FILE}: {len(written['tests'])} tests, {len(written['fixtures'])} fixtures of {STORY_SECONDS:.0f} s or more")
