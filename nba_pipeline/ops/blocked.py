"""Blocked dates: which missing dates read an upstream date that failed, traced to the root cause through the
project's partition mappings (`season_history*` inputs read within the season, as the gate trims them)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import dagster as dg
import pandas as pd

from nba_pipeline.checks.gate import READS, SEASON_SO_FAR, first_bad_upstream


def _edges(asset: dg.AssetsDefinition, known: set[dg.AssetKey]) -> list[tuple[str, int, int, bool]]:
    """(upstream, start offset, end offset, read within the season) of each daily upstream input."""
    out = []
    for name, key in asset.keys_by_input_name.items():
        if key not in known:
            continue
        mapping = asset.get_partition_mapping(key)
        lo = getattr(mapping, "start_offset", 0) if isinstance(mapping, dg.TimeWindowPartitionMapping) else 0
        hi = getattr(mapping, "end_offset", 0) if isinstance(mapping, dg.TimeWindowPartitionMapping) else 0
        in_season = asset.node_def.input_def_named(name).metadata.get(READS) == SEASON_SO_FAR
        out.append((key.to_user_string(), int(lo), int(hi), in_season))
    return out



def blocked(f: pd.DataFrame, assets: Sequence[dg.AssetsDefinition], n_dates: int, problem_states: Collection[str]) -> pd.DataFrame:
    """Marks blocked every missing date of `f` (every asset's dates, asset-major, upstream assets first) that reads
    an upstream date that is quarantined, failed or itself blocked, keeping the root cause; asset by asset, as
    an asset's blocked dates block its downstream assets."""
    known = {a.key for a in assets}
    finals: dict[str, pd.DataFrame] = {}
    for i, asset in enumerate(assets):
        name = asset.key.to_user_string()
        f_a = f.iloc[i * n_dates:(i + 1) * n_dates].copy()
        open_ = f_a["state"].isin(["missing"])
        for upstream, lo, hi, in_season in _edges(asset, known):
            if not open_.any():
                break
            up = finals[upstream]
            bad = up[up["state"].isin(problem_states)][["game_date", "day", "group", "cause_asset", "cause_date", "cause_check", "state"]]
            if bad.empty:
                continue
            hit = first_bad_upstream(f_a.loc[open_, ["game_date", "day", "group"]], bad, lo, hi, in_season)
            if hit.empty:
                continue
            idx = f_a.index[f_a["game_date"].isin(hit["game_date"]) & open_]
            hit = hit.set_index("game_date").reindex(f_a.loc[idx, "game_date"])
            f_a.loc[idx, "state"] = "blocked"
            f_a.loc[idx, ["cause_asset", "cause_date", "cause_check"]] = hit[["cause_asset", "cause_date", "cause_check"]].to_numpy()
            f_a.loc[idx, "detail"] = (
                "reads " + upstream + " on " + hit["cause_from"].to_numpy() + ", blocked by " + hit["cause_asset"].to_numpy()
                + " " + hit["cause_check"].fillna("?").to_numpy() + " on " + hit["cause_date"].to_numpy()
            )
            open_ = f_a["state"].isin(["missing"])
        finals[name] = f_a
    return pd.concat(finals.values())
