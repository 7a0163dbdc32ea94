"""The points model on the real 2023-24 replay (and, beside it, the simulated season), out of sample: every phase in
one range run on a fresh warehouse and instance (`real_season.run_season`), then from prediction_grading the MAE of
the model, of each simple average and of the line on the same played rows, the calibration of P(OVER) (slope of
observed on predicted, Brier score against the constant OVER rate), and the OVER and UNDER picks with their hit rates.

Targets (issue 21): on the real replay, MAE <= 5.03, <= 0.973 x the 10-game average's and below the best simple
average's; calibration slope within 0.8-1.2; Brier below the constant's.

    python benchmarks/model_benchmark.py [--sources season_2023_24 simulator] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MAE, TARGET_RATIO, SLOPE_RANGE = 5.03, 0.973, (0.8, 1.2)


def measure(graded, grading: dict) -> dict[str, float]:
    """The benchmark's numbers from the stored grading rows (and the grading metadata for the picks)."""
    import numpy as np

    from nba_pipeline.predictions.grading import compared_rows

    rows = compared_rows(graded)
    actual = rows["actual_points"].astype(float)
    out = {"rows": len(rows), "model": float((rows["predicted_points"].astype(float) - actual).abs().mean())}
    for name, column in (("10-game average", "baseline_points"), ("season average", "baseline_season_avg"),
                         ("EWMA (halflife 10 games)", "baseline_ewma_10"), ("the line", "prop_line")):
        out[name] = float((rows[column].astype(float) - actual).abs().mean())
    calibrated = rows[rows["went_over"].notna()]
    p, y = calibrated["p_over"].astype(float).to_numpy(), calibrated["went_over"].astype(bool).to_numpy().astype(float)
    out["slope"] = float(np.polyfit(p, y, 1)[0])
    out["brier"], out["brier_constant"] = float(np.mean((p - y) ** 2)), float(np.mean((y.mean() - y) ** 2))
    out["picks"] = grading.get("picks", "")
    return out


def run(source: str, folder: Path) -> tuple[dict[str, float], float]:
    import dagster as dg
    import duckdb

    from nba_pipeline.real_season import run_season
    from nba_pipeline.resources import resources_for

    os.environ["NBA_PIPELINE_SOURCE"] = source
    os.environ.pop("NBA_PIPELINE_THRESHOLDS", None)
    warehouse = folder / source / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_season(resources_for("local", warehouse_path=str(warehouse)), instance)
    seconds = time.perf_counter() - started
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        graded = conn.execute("select * from predictions.prediction_grading").fetchdf()
    return measure(graded, result.grading), seconds


def report(source: str, m: dict, seconds: float) -> list[str]:
    baselines = ("10-game average", "season average", "EWMA (halflife 10 games)")
    best = min(baselines, key=lambda b: m[b])
    out = [f"\n== {source}: {m['rows']} played out-of-sample rows (replay {seconds:.0f} s)", "| method | MAE |", "|---|---|",
           f"| the model | {m['model']:.3f} |"]
    out += [f"| {name} | {m[name]:.3f} |" for name in (*baselines, "the line")]
    out.append(f"model / 10-game average: {m['model'] / m['10-game average']:.4f}; best simple average: {best} {m[best]:.3f}")
    out.append(f"P(OVER): slope of observed on predicted {m['slope']:.3f}; Brier {m['brier']:.4f} vs constant {m['brier_constant']:.4f}")
    out.append(m["picks"])
    if source == "season_2023_24":
        met = {
            f"MAE <= {TARGET_MAE}": m["model"] <= TARGET_MAE,
            f"MAE <= {TARGET_RATIO} x 10-game": m["model"] <= TARGET_RATIO * m["10-game average"],
            "MAE below the best simple average": m["model"] < m[best],
            f"slope within {SLOPE_RANGE}": SLOPE_RANGE[0] <= m["slope"] <= SLOPE_RANGE[1],
            "Brier below the constant's": m["brier"] < m["brier_constant"],
        }
        out += [f"target {name}: {'met' if ok else 'NOT met'}" for name, ok in met.items()]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="+", default=["season_2023_24", "simulator"], choices=["season_2023_24", "simulator"])
    parser.add_argument("--keep", help="keep the warehouses in this folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nba_model_bench_") as tmp:
        folder = Path(args.keep or tmp)
        for source in args.sources:
            m, seconds = run(source, folder)
            print("\n".join(report(source, m, seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
