"""Promotion: which code version of each table may publish, decided by an explicit, recorded act, never by timing.

The warehouse keeps, per table, the promoted code version (`pipeline.promotions`, append-only: who, when, from
which version). A publish by any other version is refused inside the publish transaction, naming both versions —
on every retry, however late or often a stale checkout runs. A table's very first publish promotes its own
version; after that only `nba-pipeline promote`, run from the checkout whose code should win, changes it (as
SQLMesh's plan/apply: a version reaches the warehouse only once applied).

Promoting makes every date whose latest publish is by another version *stale*: it is reported here and in the
UI (an observation on the asset carrying `promoted_code_version`), and the promoted code location's automation
rebuilds those dates (`automation.PublishedByOtherCode`). Nothing stale is hidden or blocked meanwhile: its rows
passed their checks when they were published.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
from collections.abc import Collection
from pathlib import Path

import dagster as dg
import pandas as pd

from nba_pipeline.tables import PUBLISHED_TABLES
from nba_pipeline.warehouse.base import Warehouse, latest_promotions

PROMOTED_CODE_VERSION = "promoted_code_version"  # observation metadata key the automation condition reads


def table_versions(defs: dg.Definitions, select: Collection[str] | None = None) -> dict[str, str]:
    """Code version of every published table in `defs` (or of the named ones; an unknown name is a ValueError)."""
    graph = defs.resolve_asset_graph()
    versions = {
        key.to_user_string(): graph.get(key).code_version
        for key in graph.get_all_asset_keys()
        if key.to_user_string() in PUBLISHED_TABLES and graph.get(key).code_version
    }
    if select is None:
        return versions
    unknown = sorted(set(select) - set(versions))
    if unknown:
        raise ValueError(f"not a published table: {', '.join(unknown)} (tables: {', '.join(sorted(versions))})")
    return {name: versions[name] for name in select}


def who() -> str:
    """user@host, and the checkout's git commit when there is one: what a promotion record says about its author."""
    commit = ""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=Path(__file__).resolve().parent,
                               capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            commit = f" at {out.stdout.strip()}" + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return f"{getpass.getuser()}@{socket.gethostname()}{commit}"


def promote(
    warehouse: Warehouse, defs: dg.Definitions, *, instance: dg.DagsterInstance | None = None,
    select: Collection[str] | None = None, promoted_by: str | None = None, note: str = "", dry_run: bool = False,
) -> pd.DataFrame:
    """Promote `defs`' code versions of its tables (all, or `select`): recorded in the warehouse, and, for the
    tables whose version changed, an observation on the instance. Returns one row per table (see `Warehouse.promote`)."""
    versions = table_versions(defs, select)
    if dry_run:
        current = latest_promotions(warehouse.promotions()).set_index("asset")["code_version"]
        previous = pd.Series(versions).index.map(current.to_dict())
        return pd.DataFrame({
            "asset": list(versions), "previous_version": previous, "code_version": list(versions.values()),
            "changed": [p != v for p, v in zip(previous, versions.values())], "stale_dates": None,
        })
    promoted_by = promoted_by or who()
    result = warehouse.promote(versions, promoted_by, note)
    if instance is not None:
        for row in result[result["changed"]].itertuples():  # one event per promoted table
            instance.report_runless_asset_event(dg.AssetObservation(
                asset_key=dg.AssetKey(row.asset),
                metadata={PROMOTED_CODE_VERSION: row.code_version, "previous_code_version": str(row.previous_version),
                          "promoted_by": promoted_by, "stale_dates": int(row.stale_dates), "note": note},
            ))
    return result


def format_promotion(result: pd.DataFrame, dry_run: bool = False) -> str:
    changed = result[result["changed"]]
    if changed.empty:
        return f"every table's promoted code version is already this checkout's ({len(result)} tables); nothing to do"
    verb = "would promote" if dry_run else "promoted"
    lines = [f"{verb} {len(changed)} of {len(result)} tables:"]
    for row in changed.itertuples():
        stale = "" if pd.isna(row.stale_dates) else (
            f"; {int(row.stale_dates)} date(s) published by another version are now stale" if row.stale_dates else "")
        lines.append(f"  {row.asset}: {row.previous_version or '(none)'} -> {row.code_version}{stale}")
    if not dry_run and changed["stale_dates"].sum():
        lines.append("Stale dates are rebuilt by this code's automation (make dev), or now: nba-pipeline materialize "
                     "--select <table>+ --partition-range <first>...<last>")
    return "\n".join(lines)
