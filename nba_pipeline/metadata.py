"""Asset metadata people read at a glance: row and game counts, and a per-season table for range runs."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from nba_pipeline.league.seasons import season_labels


def frame_summary(frame: pd.DataFrame, **extra: object) -> dict[str, dg.RawMetadataValue]:
    dates = pd.to_datetime(frame["game_date"])
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
