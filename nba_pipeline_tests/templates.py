"""Starting states built once per test process and copied for every test that starts from them.

Several modules start each test from the same night (a few dates of raw + analytics run on a persistent instance,
one date failing): building it is a real run (~4 s of CPU), copying it is a file copy. `copy_of` builds it the
first time into a folder of its own (a DAGSTER_HOME, a DuckDB warehouse and its read copies, laid out as the test's
tmp_path will hold them) and copies that folder into each test's tmp_path; on the production instance the
PostgreSQL database is built once too and each test gets a clone (`CREATE DATABASE ... TEMPLATE`). Each test owns
its copy: what it does to it reaches no other test. The builds are deterministic (the simulator is seeded), so a
copy holds what building the night again would: the same rows, checks and verdicts (run ids and times aside).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nba_pipeline_tests.postgres import PG_URL_ENV, create_database, drop_database, fresh_database


@dataclass(frozen=True)
class _Built:
    folder: Path
    database: str | None  # the template database of a production build
    value: Any


_BUILT: dict[str, _Built] = {}


def _build(build: Callable[[Path], Any], postgres: bool) -> _Built:
    folder = Path(tempfile.mkdtemp(prefix="nba_pipeline_built_"))
    atexit.register(shutil.rmtree, folder, True)
    if not postgres:
        return _Built(folder, None, build(folder))
    name, url = create_database("nba_pipeline_template")
    atexit.register(drop_database, name)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(PG_URL_ENV, url)
        value = build(folder)  # which disposes its instance: a database being copied may have no connection
    return _Built(folder, name, value)


def _copy(key: str, dest: Path, build: Callable[[Path], Any], postgres: bool) -> _Built:
    """The build of `key` (made now if this process has none yet), its folder copied into `dest`."""
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _build(build, postgres)
    shutil.copytree(built.folder, dest, dirs_exist_ok=True)
    return built


def copied(key: str, dest: Path, build: Callable[[Path], Any]) -> Any:
    """The files `build(folder)` leaves in `folder`, copied into `dest`; returns what `build` returned. Built once
    per process and `key`."""
    return _copy(key, dest, build, postgres=False).value


@contextmanager
def copy_of(key: str, dest: Path, build: Callable[[Path], Any], *, postgres: bool = False) -> Iterator[Any]:
    """As `copied`; with `postgres`, also the database DAGSTER_PG_URL names while `build` runs: a fresh clone of it
    for the block, DAGSTER_PG_URL pointing at it, dropped at the block's end."""
    built = _copy(key, dest, build, postgres)
    if built.database is None:
        yield built.value
        return
    with fresh_database(template=built.database) as url, pytest.MonkeyPatch.context() as env:
        env.setenv(PG_URL_ENV, url)
        yield built.value
