"""The production instance (`deploy/production/dagster.yaml`, Dagster storage in PostgreSQL) for tests.

Each test gets a fresh database on the real server (`CREATE DATABASE nba_pipeline_test_<random>`, dropped after), and
DAGSTER_PG_URL pointing at it, which is how the production yaml finds its database. The server is the machine's
(127.0.0.1:5432, trust auth, database `test`); NBA_PIPELINE_TEST_PG_SERVER overrides it. No server, no driver: the
test FAILS, it never skips (`make test` checks the server first, starts it if it can and says how otherwise: .ci/prerequisites).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from nba_pipeline_tests.tiers import heavy, require_slow

ROOT = Path(__file__).resolve().parents[1]
LOCAL_YAML = ROOT / "dagster_home" / "dagster.yaml"
PRODUCTION_YAML = ROOT / "deploy" / "production" / "dagster.yaml"
INSTANCE_YAMLS = {"local": LOCAL_YAML, "production": PRODUCTION_YAML}
PG_URL_ENV = "DAGSTER_PG_URL"  # read by deploy/production/dagster.yaml
SERVER_ENV = "NBA_PIPELINE_TEST_PG_SERVER"
DEFAULT_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get(SERVER_ENV, DEFAULT_SERVER)


def _admin_engine(tier_checked: bool = True):
    try:
        import psycopg2  # noqa: F401  (the driver of postgresql+psycopg2://, from the `production` extra)
        import sqlalchemy
        from sqlalchemy.pool import NullPool
    except ImportError as error:
        pytest.fail(f"PostgreSQL tests need the `production` extra (dagster-postgres, psycopg2-binary): {error}", pytrace=False)
    engine = sqlalchemy.create_engine(server_url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
    except sqlalchemy.exc.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {engine.url.render_as_string()} ({SERVER_ENV} overrides it): "
            f"{str(error).splitlines()[0]}\nStart the server (see .ci/prerequisites); these tests fail rather than skip.",
            pytrace=False,
        )
    if tier_checked:
        require_slow("PostgreSQL")  # reached, so in use (an unreachable server is a failure of its own, above)
    return engine


@heavy("PostgreSQL", guard=False)  # guarded once the server answers: _admin_engine
def create_database(prefix: str = "nba_pipeline_test", template: str | None = None) -> tuple[str, str]:
    """A new database on the server, empty or a copy of the database `template` (whose connections are closed
    first: copying needs it alone); returns its name and postgresql+psycopg2:// URL. `drop_database` removes it."""
    engine = _admin_engine()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as conn:
            if template:  # a connection its builder's instance left behind (a disposed pool's, an event watcher's)
                conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                     "AND pid <> pg_backend_pid()", (template,))
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name, engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        engine.dispose()


def drop_database(name: str) -> None:
    # no tier check: this also runs at exit (templates.py), when the last test may have been one of the fast tier
    engine = _admin_engine(tier_checked=False)
    try:
        with engine.connect() as conn:  # FORCE: a connection some dead test process left open must not keep it
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


@heavy("PostgreSQL", guard=False)  # guarded once the server answers: _admin_engine
@contextmanager
def fresh_database(prefix: str = "nba_pipeline_test", template: str | None = None) -> Iterator[str]:
    """A new database on the server (empty, or a copy of `template`); yields its postgresql+psycopg2:// URL and
    drops it afterwards."""
    name, url = create_database(prefix, template)
    try:
        yield url
    finally:
        drop_database(name)


def instance_home(home: Path, kind: str) -> Path:
    """A DAGSTER_HOME holding the shipped yaml of `kind` ("local": SQLite, "production": PostgreSQL)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_YAMLS[kind], home / "dagster.yaml")
    return home


def persistent_instance(home: Path, kind: str) -> dg.DagsterInstance:
    """The instance `kind`'s shipped yaml gives (for "production", DAGSTER_PG_URL must be set: `postgres_url`)."""
    return dg.DagsterInstance.from_config(str(instance_home(home, kind)))
