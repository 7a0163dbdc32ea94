"""Asset metadata people read at a glance: row and game counts, a per-season table for range runs, and numbers per
date and season that the UI plots over partitions (`by_date_and_season`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg
import numpy as np
import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import season_labels


def frame_summary(frame: pd.DataFrame, **extra: object) -> dict[str, dg.RawMetadataValue]:
    dates = to_datetime(frame["game_date"])
    metadata: dict[str, dg.RawMetadataValue] = {
        "rows": len(frame),
        "game_dates_with_rows": int(dates.nunique()),
    }
    if "game_id" in frame:
        metadata["games"] = int(frame["game_id"].nunique())
    if dates.nunique() > 1:
        by_season = frame.groupby(season_labels(dates).fillna("off-season"), dropna=False).agg(
            rows=("game_date", "size"), game_dates=("game_date", "nunique")
        )
        rows = [[season, r.rows, r.game_dates] for season, r in by_season.iterrows()]
        metadata["by_season"] = dg.MetadataValue.md(markdown_table(["season", "rows", "game dates"], rows))
    # an asset's own entries win: prediction_grading's by_season is hit rate and MAE by season, not row counts
    metadata.update({k: float(v) if isinstance(v, (int, float, np.number)) else v for k, v in extra.items()})
    return metadata


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Measure:
    """A number per date and per season for the UI's Plots tab: the mean of `values` over the rows of `population`
    (a share when `values` is boolean), times `scale` (100 for a percentage)."""

    values: pd.Series
    population: pd.Series
    scale: float = 100.0


def by_date_and_season(game_dates: pd.Series, measures: Mapping[str, Measure]) -> pd.DataFrame:
    """Per game date of the rows ('YYYY-MM-DD' index): `date_<name>` over that date's rows and, when the rows span
    more than one date (a range run), `season_<name>` over the rows of the date's season in the step. NaN where
    a date or season has no row of the population (no number is better than a made-up one)."""
    names = list(measures)
    frame = pd.DataFrame(
        {name: m.values.astype("Float64").astype(float).where(m.population.fillna(False).astype(bool)) * m.scale
         for name, m in measures.items()},
        index=game_dates.index,
    )
    frame["_day"] = to_datetime(game_dates).dt.strftime("%Y-%m-%d")
    per_date = frame.groupby("_day")[names].mean()
    out = per_date.add_prefix("date_")
    if len(per_date) > 1:
        frame["_season"] = season_labels(to_datetime(game_dates)).fillna("off-season")
        season_of = frame.groupby("_day")["_season"].first().reindex(per_date.index)
        per_season = frame.groupby("_season")[names].mean().reindex(season_of.to_numpy()).set_axis(per_date.index)
        out = out.join(per_season.add_prefix("season_"))
    return out.rename_axis("game_date")
