from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# `make test` runs two workers on two cores: scikit-learn's OpenMP threads (one per core in each worker, and in every
# process a test starts) would spin against each other; one each, a model fit took a third of the time (3.8 s vs 12.1 s
# for three fits while the suite ran). Set before anything loads the OpenMP runtime; an explicit setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from nba_pipeline.analytics.assets import analytics_assets
from nba_pipeline.definitions import ALL_ASSETS
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import SimulatorFaults
from nba_pipeline.sources import SimulatedLeagueSource

from nba_pipeline_tests import ephemeral as _ephemeral
from nba_pipeline_tests import progress as _progress
from nba_pipeline_tests import schedule as _schedule
from nba_pipeline_tests import tiers as _tiers
from nba_pipeline_tests.postgres import persistent_instance

REAL_API = Path(__file__).resolve().parent / "fixtures" / "nba_stats_api"  # recorded responses, see fixtures/SOURCES.md
RAW_AND_ANALYTICS = [*raw_assets, *analytics_assets]
EVERY_PHASE = ALL_ASSETS


def pytest_configure(config: pytest.Config) -> None:
    _progress.attach(config)
    _ephemeral.keep_connections()  # Dagster's ephemeral instance keeps its event log's connection (ephemeral.py)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tier-report", metavar="JSON", help="write the collected tests, their fixtures and tier here")
    parser.addoption("--tier-record", metavar="PATH", help="record what each test and shared fixture cost (PATH.<worker>): "
                     "python -m nba_pipeline_tests.tiers PATH.* rewrites nba_pipeline_tests/heavy_stories.json")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The `slow` marker, by the rule in nba_pipeline_tests/tiers.py (what `make test-fast` leaves out); then the
    longest files first (nba_pipeline_tests/schedule.py)."""
    for item in items:
        if _tiers.slow_reasons(item):
            item.add_marker(pytest.mark.slow)
    _schedule.longest_files_first(items)


_DESELECTED = pytest.StashKey[list]()


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:  # kept for --tier-report: one collection with `-m "not slow"` shows both what it keeps and what it leaves
        items[0].config.stash.setdefault(_DESELECTED, []).extend(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    report = session.config.getoption("--tier-report")
    if report:
        import json

        deselected = session.config.stash.get(_DESELECTED, [])
        rows = [{"nodeid": item.nodeid, "fixtures": list(item.fixturenames), "module": getattr(item.module, "__name__", None),
                 "slow": item.get_closest_marker("slow") is not None, "reasons": _tiers.slow_reasons(item),
                 "selected": selected}
                for selected, items in ((True, session.items), (False, deselected)) for item in items]
        Path(report).write_text(json.dumps(rows, indent=1))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _tiers.set_current(item)  # before any fixture: a heavy helper reached from here checks the marker


_recorded: dict[str, dict[str, float]] = {"tests": {}, "fixtures": {}}
_shared_setup = [0.0]  # seconds of module/session fixtures set up for the current test: theirs, not its own


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    if fixturedef.scope == "function" or not request.config.getoption("--tier-record"):
        return (yield)
    import time

    started = time.perf_counter()
    try:
        return (yield)
    finally:
        seconds = time.perf_counter() - started
        _shared_setup[0] += seconds
        key = _tiers.fixture_key(fixturedef.baseid, fixturedef.argname, getattr(request, "param", None))
        _recorded["fixtures"][key] = max(_recorded["fixtures"].get(key, 0.0), seconds)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "setup":
        _recorded["tests"][report.nodeid] = report.duration - _shared_setup[0]
        _shared_setup[0] = 0.0
    elif report.when == "call":
        _recorded["tests"][report.nodeid] = _recorded["tests"].get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    record = session.config.getoption("--tier-record")
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    if record and (worker or not getattr(session.config.option, "numprocesses", None)):  # not xdist's controller
        import json

        worker = worker or "main"
        Path(f"{record}.{worker}").write_text(json.dumps(_recorded))


@pytest.fixture
def warehouse(tmp_path) -> str:
    return str(tmp_path / "warehouse.duckdb")


@contextmanager
def shipped_instance() -> Iterator[dg.DagsterInstance]:
    """A throwaway instance configured as shipped (dagster_home/dagster.yaml: the tuned SQLite event-log storage), in
    a temporary home removed afterwards. For long runs: three weeks of raw + analytics took 4.7 s of CPU on it,
    7.6 s on `DagsterInstance.ephemeral()`'s in-memory storage and 17.8 s on Dagster's stock SQLite storage (an
    empty dagster.yaml); a one-date run pays ~0.5 s more on it for creating the home's databases."""
    with tempfile.TemporaryDirectory(prefix="nba_pipeline_home_") as home:
        instance = persistent_instance(Path(home), "local")
        try:
            yield instance
        finally:
            instance.dispose()


def run_range(
    warehouse: str,
    start: str,
    end: str | None = None,
    faults: SimulatorFaults | None = None,
    as_of: str | None = None,
    instance: dg.DagsterInstance | None = None,
    assets: list = RAW_AND_ANALYTICS,
) -> dg.ExecuteInJobResult:
    """Materialize `assets` (raw + analytics by default) for [start, end] in one run, as a range backfill would."""
    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = SimulatedLeagueSource(faults=faults or SimulatorFaults(), as_of=as_of)
    kwargs = {"partition_key": start} if end is None else {
        "tags": {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    }
    return dg.materialize(assets, resources=resources, raise_on_error=False, instance=instance, **kwargs)


def run_results(result: dg.ExecuteInJobResult) -> list[dg.AssetCheckEvaluation]:
    """Each check's result for the whole run (range runs also log one evaluation per date, without these totals)."""
    return [e for e in result.get_asset_check_evaluations() if "dates_checked" in e.metadata]


def check_outcomes(result: dg.ExecuteInJobResult) -> dict[tuple[str, str], bool]:
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in run_results(result)}


def read_table(warehouse: str, table: str) -> pd.DataFrame:
    with duckdb.connect(warehouse, read_only=True) as conn:
        return conn.execute(f"select * from {table}").fetchdf()


@pytest.fixture(scope="session")
def simulated_season() -> dict[str, pd.DataFrame]:
    """The 2023-24 simulated season through the pure raw -> analytics transforms (no Dagster, no warehouse)."""
    import datetime as dt

    from nba_pipeline.analytics.player_game_summary import build_player_game_summary
    from nba_pipeline.analytics.team_defense import build_team_defense
    from nba_pipeline.analytics.team_offense import build_team_offense
    from nba_pipeline.simulator import FEEDS, LeagueSimulator

    sim = LeagueSimulator()
    feeds = {feed: sim.fetch(feed, dt.date(2023, 10, 24), dt.date(2024, 4, 14)) for feed in FEEDS}
    offense = build_team_offense(feeds["team_boxscores"], feeds["player_boxscores"], feeds["schedule"], 5)
    feeds["team_offense_game_summary"] = offense
    feeds["team_defense_game_summary"] = build_team_defense(offense)
    feeds["player_game_summary"] = build_player_game_summary(
        feeds["player_boxscores"], offense, feeds["shot_zones"], feeds["schedule"], 68
    )
    return feeds


@pytest.fixture
def postgres_url(monkeypatch) -> str:
    """A fresh database on the real PostgreSQL server, dropped after the test; DAGSTER_PG_URL points at it, as the
    production instance (`deploy/production/dagster.yaml`) expects. Fails, never skips, without a server."""
    from nba_pipeline_tests.postgres import PG_URL_ENV, fresh_database

    with fresh_database() as url:
        monkeypatch.setenv(PG_URL_ENV, url)
        yield url


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory) -> str:
    """The REST endpoint of a real BigQuery emulator server, one per test session (killed at its end)."""
    from nba_pipeline_tests.bigquery_emulator import running_emulator

    with running_emulator(tmp_path_factory.mktemp("bigquery") / "emulator.log") as endpoint:
        yield endpoint
