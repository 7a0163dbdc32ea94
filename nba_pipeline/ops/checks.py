"""The instance's check evaluations for status: every check's latest evaluation per date in one read, pass rates
per check and season, and the failing evaluations with why (their description, or their measured value)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.plumbing.dagster_private import check_partition_frame, failed_check_evaluations
from nba_pipeline.league.seasons import season_labels

LONG_RANGE_DATES = 120


def with_unit(values: pd.Series, units: pd.Series) -> pd.Series:
    """Numbers as people read them: at most two decimals, then the check's unit ("32.12 %", "3 rows"); blank if none."""
    text = values.map(lambda v: "" if pd.isna(v) else f"{float(v):,.2f}".rstrip("0").rstrip("."))
    unit = units.fillna("").astype(str)
    spaced = unit.where(unit.str.startswith("/") | (unit == ""), " " + unit)
    return (text + spaced).where(text != "", "")
MAX_EVALUATIONS_FETCHED = 500


def check_infos(instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str]) -> pd.DataFrame:
    """Every check's latest evaluation per date of `dates`, in one read (`dagster_private.check_partition_frame`):
    what the dates' states and the check table both read."""
    keys = [dg.AssetCheckKey(a.key, s.name) for a in assets for s in a.check_specs]
    # read as a range of dates (first to last); a short one also as a list of them, which Dagster's own method
    # (storages other than SQLite) needs not to read every record, and an IN list of every date of a long one
    # costs more than the rows it spares
    listed = dates if len(set(dates)) <= LONG_RANGE_DATES else None
    frame = check_partition_frame(instance, keys, listed, between=(min(dates), max(dates)))
    return frame[frame["partition"].isin(dates)].reset_index(drop=True)



def check_table(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetsDefinition], dates: list[str], infos: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pass rates per check and season, failing evaluations with why) — one check-partition read for every check
    in range (or `infos`, `check_infos` already fetched), one event query per failing check for the evaluations'
    descriptions."""
    specs = [(a.key, s.name, s.blocking) for a in assets for s in a.check_specs]
    if infos is None:
        infos = check_partition_frame(instance, [dg.AssetCheckKey(k, n) for k, n, _ in specs], dates)
    infos = infos[infos["partition"].isin(dates)]
    frame = infos[["asset", "check", "partition", "status", "check_event_storage_id"]].rename(
        columns={"partition": "game_date", "check_event_storage_id": "storage_id"})
    blocking = pd.DataFrame([(k.to_user_string(), n, b) for k, n, b in specs], columns=["asset", "check", "blocking"])
    frame = frame.merge(blocking, on=["asset", "check"])
    seasons = season_labels(to_datetime(pd.Series(dates))).fillna("off-season")  # per date, looked up per record
    frame["season"] = seasons.iloc[pd.Index(dates).get_indexer(frame["game_date"])].set_axis(frame.index)
    frame["passed"] = frame["status"].eq("SUCCEEDED")
    frame["failed"] = frame["status"].eq("FAILED")
    grid = blocking.merge(pd.DataFrame({"season": sorted(set(seasons))}), how="cross")
    rates = frame.groupby(["asset", "check", "season"]).agg(
        evaluated=("game_date", "size"), passed=("passed", "sum"), failed=("failed", "sum")
    ).reset_index()
    rates = grid.merge(rates, on=["asset", "check", "season"], how="left").fillna({"evaluated": 0, "passed": 0, "failed": 0})
    season_dates = seasons.value_counts()
    rates["dates"] = rates["season"].map(season_dates).astype(int)
    rates[["evaluated", "passed", "failed"]] = rates[["evaluated", "passed", "failed"]].astype(int)
    rates["other"] = rates["dates"] - rates["passed"] - rates["failed"]  # planned, never evaluated, no record
    judged = rates["passed"] + rates["failed"]
    rates["pass_pct"] = (100.0 * rates["passed"] / judged.where(judged > 0)).round(2)
    rates = rates[["asset", "check", "blocking", "season", "dates", "passed", "failed", "other", "pass_pct"]]

    failing = frame[frame["failed"]].sort_values("storage_id", ascending=False)
    fetched = failing.head(MAX_EVALUATIONS_FETCHED)
    wanted = fetched.groupby(["asset", "check"])["game_date"].agg(list)
    evaluations = failed_check_evaluations(
        instance, {dg.AssetCheckKey(dg.AssetKey(asset), check): v for (asset, check), v in wanted.items()}
    )
    events = pd.DataFrame(
        [(key.asset_key.to_user_string(), key.name, day, desc, meta.get("value"), meta.get("threshold"), meta.get("unit"),
          meta.get("detail")) for key, day, desc, meta in evaluations],
        columns=["asset", "check", "game_date", "description", "value", "threshold", "unit", "meta_detail"],
    )
    failing = failing.merge(events, on=["asset", "check", "game_date"], how="left")
    failing["value"] = pd.to_numeric(failing["value"], errors="coerce")
    failing["threshold"] = pd.to_numeric(failing["threshold"], errors="coerce")
    failing["value"] = failing["value"].round(2)
    failing["unit"] = failing["unit"].fillna("")
    detail = failing["meta_detail"].where(~failing["meta_detail"].isin(["passed", ""]))
    measured = ("value " + with_unit(failing["value"], failing["unit"])
                + (" (threshold " + with_unit(failing["threshold"], failing["unit"]) + ")").where(failing["threshold"].notna(), ""))
    failing["why"] = (failing["description"].where(failing["description"].fillna("") != "")
                      .fillna(detail).fillna(measured.where(failing["value"].notna())).fillna(""))
    failures = failing[["asset", "game_date", "check", "blocking", "value", "threshold", "unit", "why"]]
    return rates, failures.sort_values(["game_date", "asset", "check"]).reset_index(drop=True)
