"""The warehouse contract every deployment implements: write–audit–publish per date, with the publish record
kept beside the data. DuckDB (embedded default) and BigQuery (production) implement the same methods."""

from __future__ import annotations

import datetime as dt
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from nba_pipeline.datetimes import to_datetime
import pyarrow as pa

META = "pipeline"  # schema / dataset of the publish records
PUBLISHED, QUARANTINED = "published", "quarantined"
Log = logging.Logger | dg.DagsterLogManager | None
_NULLABLE_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas with nullable types, as every transform and rule expects; a DATE column (`game_date` is
    stored as one) comes back as datetime64, as transforms make it."""
    frame = table.to_pandas(types_mapper=_NULLABLE_TYPES.get, date_as_object=False)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):  # zoned: in UTC, whatever zone the engine used
            frame[column] = frame[column].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


def dated(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as they are staged: `game_date` (transforms make it a midnight datetime64) as a calendar date, so
    published tables store a DATE, not a TIMESTAMP. A time of day in it is refused, never truncated."""
    from nba_pipeline.warehouse import PARTITION_COLUMN

    if PARTITION_COLUMN not in frame or not pd.api.types.is_datetime64_any_dtype(frame[PARTITION_COLUMN]):
        return frame
    days = frame[PARTITION_COLUMN]
    if (days.dropna() != days.dropna().dt.normalize()).any():
        raise WarehouseError(f"{PARTITION_COLUMN} holds a time of day ({days[days != days.dt.normalize()].iloc[0]}): it must "
                             f"be a calendar date; {NOT_PUBLISHED}")
    naive = days.dt.tz_localize(None) if days.dt.tz else days
    as_dates = pa.array(naive, pa.timestamp("ns")).cast(pa.date32())
    return frame.assign(**{PARTITION_COLUMN: pd.Series(as_dates, index=frame.index, dtype=pd.ArrowDtype(pa.date32()))})


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or written; the message says why and what to do."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse (a DuckDB file locked by a running step) longer than the caller waits."""


class WarehouseUnreachable(WarehouseError):
    """The warehouse could not be read at all (no connection, no credentials, no such file): nothing can be said
    about what is or is not published, and readers report that rather than "missing" dates."""


class PublishOutcomeUnknown(WarehouseError):
    """A publish whose answer was lost and whose outcome could not be verified: it may still commit (or have
    committed) all of its dates or none; its staging table is left in place for the job that may still read it."""


class MissingTableError(WarehouseError):
    """An input was requested from a table that no publish has created yet."""


class UnpromotedCodeRefused(WarehouseError):
    """A step ran code that is not the promoted code version of its asset: it publishes nothing."""


class ColumnTypeChanged(WarehouseError):
    """A step's rows give a published column another type: casting them in place would change values silently."""


NOT_PUBLISHED = "nothing of this step was published"
STAGING_COLUMNS = ["table", "run_prefix", "rows"]
_STAGING_NAME = re.compile(r"^(?P<flat>[A-Za-z0-9_]+?)__(?P<run>[0-9a-f]{12})$")


PUBLISH_LOG_COLUMNS = ["asset", "game_date", "run_id", "code_version", "outcome", "rows", "failed_checks", "checks",
                       "recorded_at"]


def publish_log_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A publish log as every reader gets it from either warehouse: PUBLISH_LOG_COLUMNS, game_date as YYYY-MM-DD,
    recorded_at as naive UTC timestamps, rows as nullable integers, ordered by asset, date and time."""
    out = frame.reindex(columns=PUBLISH_LOG_COLUMNS).copy()
    out["game_date"] = to_datetime(out["game_date"]).dt.strftime("%Y-%m-%d").astype(object)
    recorded = to_datetime(out["recorded_at"])
    out["recorded_at"] = (recorded.dt.tz_convert("UTC").dt.tz_localize(None) if recorded.dt.tz is not None
                          else recorded).astype("datetime64[ns]")
    out["rows"] = pd.to_numeric(out["rows"]).astype("Int64")
    for column in ("asset", "run_id", "code_version", "outcome", "failed_checks", "checks"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out.sort_values(["asset", "game_date", "recorded_at"], kind="stable").reset_index(drop=True)


def run_prefix(run_id: str) -> str:
    """What a staging table's name keeps of its run id: the first 12 hex digits, dashes left out."""
    return run_id.replace("-", "")[:12]


def staging_names(names: Collection[str]) -> pd.DataFrame:
    """table, run_prefix of the names among `names` that `stage` makes (`<schema>__<table>__<run prefix>`)."""
    tables = pd.Series(list(names), dtype="string")
    found = pd.DataFrame({"table": tables, "run_prefix": tables.str.extract(_STAGING_NAME)["run"]}).dropna()
    return found.astype(str).sort_values("table", ignore_index=True)


@dataclass(frozen=True)
class TableRef:
    schema: str
    table: str

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def flat(self) -> str:
        return f"{self.schema}__{self.table}"


PROMOTION_COLUMNS = ["asset", "code_version", "previous_version", "promoted_at", "promoted_by", "note"]
FIRST_PUBLISH = "first publish"  # promoted_by of the version that created a table (nothing else was ever published)


def unpromoted_message(asset: str, code_version: str, promoted: Mapping[str, Any] | None) -> str:
    """Why a publish of `code_version` is refused; `promoted`: the asset's current promotion (None: no version is)."""
    if promoted is None:
        return (
            f"refusing to publish {asset} with code version {code_version}: no code version of {asset} is promoted, "
            "but the warehouse holds dates of it published before promotions were recorded. Run `nba-pipeline promote` "
            f"from the checkout whose code should publish; {NOT_PUBLISHED}."
        )
    return (
        f"refusing to publish {asset} with code version {code_version}: the promoted code version of {asset} is "
        f"{promoted['code_version']} (promoted {pd.Timestamp(promoted['promoted_at']):%Y-%m-%d %H:%M:%S} UTC by "
        f"{promoted['promoted_by']}). Only the promoted version publishes, however often or late another one runs. "
        f"If this checkout's code is the one that should win, promote it: `nba-pipeline promote`; {NOT_PUBLISHED}."
    )


def latest_promotions(history: pd.DataFrame) -> pd.DataFrame:
    """The current promotion per asset from the promotion history (one row per asset)."""
    if history.empty:
        return history.reindex(columns=PROMOTION_COLUMNS)
    return (history.sort_values("promoted_at", kind="stable").groupby("asset", as_index=False).tail(1)
            .sort_values("asset").reset_index(drop=True)[PROMOTION_COLUMNS])


def legacy_first_seen(promotions_so_far: int) -> dt.datetime:
    """What a promotion writes into the legacy `code_versions` table (`first_seen_at` of the promoted version).

    Checkouts from before promotions existed refuse to publish over dates of a version "first seen" after
    their own; a promoted version dated in the year 9000 (one second later per promotion) is after every real
    run, so those old checkouts are refused by their own rule too."""
    return dt.datetime(9000, 1, 1) + dt.timedelta(seconds=promotions_so_far)  # past pandas' range: a datetime


def column_type_message(table: str, changed: list[tuple[str, str, str]]) -> str:
    """`changed`: (column, published type, staged type) of the columns whose staged rows hold values."""
    named = "; ".join(f"{column} is {published} in {table} but {staged} in this step's rows" for column, published, staged in changed)
    return (
        f"refusing to publish {table}: {named}. A column's type does not change in place (the cast would alter or "
        f"reject published values silently); keep the type in the asset's code, or drop the table and re-materialize "
        f"its dates. {NOT_PUBLISHED}."
    )


def changed_types(
    published: dict[str, str], staged: dict[str, str], widening: set[tuple[str, str]], holds_values
) -> list[tuple[str, str, str]]:
    """Columns both sides have, typed differently, except a lossless widening (published is the wider) and a staged
    column with no value in it (`holds_values(column)`: a NULL casts to anything)."""
    return [
        (column, published[column], kind)
        for column, kind in staged.items()
        if column in published and published[column] != kind and (kind, published[column]) not in widening
        and holds_values(column)
    ]


class Warehouse(dg.ConfigurableResource, ABC):
    """Staging, audit-gated publish and quarantine, publish records, gated reads."""

    @contextmanager
    def session(self, log: Log = None, *, step: str | None = None, keep: bool = False) -> Iterator[None]:
        """Consecutive operations of one step that may share one connection (the step holds the warehouse pool
        slot throughout). `step` names the step; `keep` leaves the connection for that step's next session (its
        inputs, then its body), which closes it. A warehouse without a connection cost worth saving does nothing."""
        yield

    @abstractmethod
    def stage(self, ref: TableRef, frame: pd.DataFrame, run_id: str, log: Log = None) -> str:
        """Write a step's rows to a staging table nobody reads; returns its name."""

    @abstractmethod
    def read_staged(self, staging: str, log: Log = None) -> pd.DataFrame: ...

    @abstractmethod
    def publish(
        self,
        ref: TableRef,
        staging: str,
        outcomes: pd.DataFrame,
        *,
        asset: str,
        run_id: str,
        code_version: str,
        log: Log = None,
    ) -> None:
        """In one transaction: replace the passed dates, quarantine the failed ones, record every date; refuse
        (writing nothing, `UnpromotedCodeRefused`) unless `code_version` is the promoted version of `asset`. The
        first publish of an asset that has no publish record promotes its version (`FIRST_PUBLISH`)."""

    @abstractmethod
    def promotions(self, log: Log = None) -> pd.DataFrame:
        """Every promotion ever recorded (PROMOTION_COLUMNS), oldest first."""

    @abstractmethod
    def promote(self, versions: Mapping[str, str], promoted_by: str, note: str = "", log: Log = None) -> pd.DataFrame:
        """Record `versions` (asset -> code version) as promoted, for the assets whose promoted version differs.
        Returns one row per asset of `versions`: asset, previous_version, code_version, changed, stale_dates (dates
        whose latest publish is by another version: what the promoted code must rebuild)."""

    @abstractmethod
    def drop_staging(self, staging: str, log: Log = None) -> None: ...

    @abstractmethod
    def staging_tables(self, log: Log = None) -> pd.DataFrame:
        """Every staging table there is (STAGING_COLUMNS): table, as `stage` named it and `drop_staging` takes it;
        run_prefix, `run_prefix(run id)` of the run that staged it; rows."""

    def for_housekeeping(self) -> "Warehouse | None":
        """This warehouse for a sweep that must not wait on a running step: raises WarehouseBusy after a short wait
        where the warehouse admits one writer and a step holds it. None if there is no warehouse yet to sweep."""
        return self

    @abstractmethod
    def read(self, ref: TableRef, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        """Published rows of `dates` (all dates when None)."""

    @abstractmethod
    def publish_records(self, asset: str, dates: Collection[str] | None, log: Log = None) -> pd.DataFrame:
        """Per date, the latest publish or quarantine record of `asset`: game_date (YYYY-MM-DD), run_id,
        code_version, outcome, rows, recorded_at."""

    @abstractmethod
    def unrecorded_dates(self, ref: TableRef, asset: str, log: Log = None) -> list[str]:
        """Dates with rows in the table but no publish record: written by something other than a publish."""

    # -- what readers read (status, validation, alerts, freshness): never waits on a writer --------------------------
    @abstractmethod
    def where(self) -> str:
        """Where this warehouse is, for a report's header: a file path, or a BigQuery project (and endpoint)."""

    @abstractmethod
    def publish_log(
        self, start: str | None = None, end: str | None = None, *, recorded_after: dt.datetime | None = None,
        latest: bool = True, log: Log = None,
    ) -> pd.DataFrame:
        """The publish records (`publish_log_frame`) of game dates in [start, end] (open ends: every date), recorded
        after `recorded_after` (naive UTC) if given; with `latest`, only each asset and date's newest record. Empty
        when nothing was ever published; `WarehouseUnreachable` when the warehouse cannot be read."""

    @abstractmethod
    def read_published(
        self, ref: TableRef, start: str, end: str, columns: Collection[str] | None = None, log: Log = None
    ) -> pd.DataFrame:
        """The published rows of `ref` with game dates in [start, end] (`columns` only, if given; the date filter
        runs in the warehouse). Empty, with `columns`, when the table was never published."""
