"""prediction_grading: each prediction against what happened once the game is final, and the summary that keeps the
model honest: its MAE against the simple averages on the same rows, its picks per side and per line source (never
mixed; "against the market" only on vendor lines), and how well its P(OVER) is calibrated (reliability table,
Brier score, a text plot the UI shows as it is)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.metadata import Measure, by_date_and_season, markdown_table
from nba_pipeline.ml.model import BASELINES
from nba_pipeline.predictions.predict import POINTS_PROP_PREDICTIONS
from nba_pipeline.raw.lines import VENDOR

GRADED_RESULTS = ("WIN", "LOSS", "PUSH", "VOID", "NO_BET")

PREDICTION_GRADING = {
    **POINTS_PROP_PREDICTIONS,
    "game_final": schemas.BOOL,
    "played": schemas.BOOL,
    "actual_points": schemas.INT,
    "abs_error": schemas.FLOAT,
    "result": schemas.STR,
    "graded": schemas.BOOL,
    "baseline_abs_error": schemas.FLOAT,
    "baseline_result": schemas.STR,
    "went_over": schemas.BOOL,
}
BASELINE_COLUMNS = {"10_game_avg": "baseline_points", "season_avg": "baseline_season_avg", "ewma_10": "baseline_ewma_10"}
MINUTES_BUCKETS = (0.0, 15.0, 25.0, 32.0, 60.0)
RELIABILITY_BUCKETS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 1.0)


def grade_predictions(predictions: pd.DataFrame, player_game_summary: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
    """WIN/LOSS/PUSH for OVER/UNDER calls, NO_BET for a PASS, VOID when the player did not play, PENDING until final."""
    final_ids = schedule.loc[schedule["game_status"] == "Final", "game_id"]
    actual = player_game_summary[["game_date", "player_id", "pts", "played"]].drop_duplicates(["game_date", "player_id"])
    g = predictions.merge(actual, on=["game_date", "player_id"], how="left")
    g["game_final"] = g["game_id"].isin(final_ids).astype("boolean")
    played = g["played"].fillna(False).astype(bool)
    g["actual_points"] = g["pts"].where(played & g["game_final"])
    g["abs_error"] = (g["predicted_points"] - g["actual_points"]).abs()
    actual_pts = g["actual_points"].astype("Float64")
    over = (actual_pts > g["prop_line"]).to_numpy(dtype=bool, na_value=False)
    push = (actual_pts == g["prop_line"]).to_numpy(dtype=bool, na_value=False)
    call = g["recommendation"].to_numpy()
    won = ((call == "OVER") & over) | ((call == "UNDER") & ~over & ~push)
    g["result"] = np.select(
        [~g["game_final"].to_numpy(dtype=bool), ~played.to_numpy(), ~np.isin(call, ["OVER", "UNDER"]), push, won],
        ["PENDING", "VOID", "NO_BET", "PUSH", "WIN"],
        default="LOSS",
    )
    g["graded"] = g["result"].isin(GRADED_RESULTS).astype("boolean")
    # the naive baseline (10-game average, else season average) graded on the same lines: OVER when above the line
    g["baseline_abs_error"] = (g["baseline_points"] - g["actual_points"]).abs()
    base_call = np.where((g["baseline_points"] > g["prop_line"]).to_numpy(dtype=bool, na_value=False), "OVER", "UNDER")
    base_won = ((base_call == "OVER") & over) | ((base_call == "UNDER") & ~over & ~push)
    g["baseline_result"] = np.select(
        [~g["game_final"].to_numpy(dtype=bool), ~played.to_numpy(), g["baseline_points"].isna().to_numpy(), push, base_won],
        ["PENDING", "VOID", "NO_BET", "PUSH", "WIN"],
        default="LOSS",
    )
    # the outcome P(OVER) is about, on every final played row with a line (a push is neither)
    g["went_over"] = pd.array(np.where(over, True, np.where(push | np.isnan(actual_pts.to_numpy(dtype=float, na_value=np.nan)), None, False)), dtype="boolean")
    return schemas.conform(g, PREDICTION_GRADING, "prediction_grading")


def _baseline_errors(rows: pd.DataFrame) -> pd.DataFrame:
    actual = rows["actual_points"].astype("Float64").astype(float)
    errors = {"model": (rows["predicted_points"].astype("Float64").astype(float) - actual).abs()}
    for name, column in BASELINE_COLUMNS.items():
        values = rows[column] if column in rows else pd.Series(np.nan, index=rows.index)
        errors[name] = (values.astype("Float64").astype(float) - actual).abs()
    return pd.DataFrame(errors, index=rows.index)


def compared_rows(graded: pd.DataFrame) -> pd.DataFrame:
    """The rows the model and the simple averages are compared on: out of sample, the player played, the model and
    every average known — the same rows for all of them."""
    oos = graded[graded["out_of_sample"].fillna(False).astype(bool)]
    errors = _baseline_errors(oos)
    return oos[errors.notna().all(axis=1)]


def _mae_table(rows: pd.DataFrame, by: pd.Series, label: str) -> str:
    errors = _baseline_errors(rows)
    maes = errors.groupby(by.to_numpy(), dropna=False).agg(["mean", "size"]) if len(rows) else pd.DataFrame()
    out = []
    for key, r in maes.iterrows():
        best = min(BASELINES, key=lambda n: r[(n, "mean")])
        out.append([str(key), int(r[("model", "size")]), f"{r[('model', 'mean')]:.3f}",
                    *[f"{r[(n, 'mean')]:.3f}" for n in BASELINES], best, "yes" if r[("model", "mean")] < r[(best, "mean")] else "no"])
    return markdown_table([label, "rows", "model MAE", *[f"{n} MAE" for n in BASELINES], "best simple", "model beats it"], out)


def minutes_bucket(minutes: pd.Series) -> pd.Series:
    edges = list(MINUTES_BUCKETS)
    labels = [f"{lo:.0f}-{hi:.0f} min" for lo, hi in zip(edges[:-1], edges[1:])]
    cut = pd.cut(minutes.astype("Float64").astype(float), edges, labels=labels, right=False, include_lowest=True)
    return cut.astype("string").fillna("unknown")


def baseline_comparison(graded: pd.DataFrame) -> dict[str, object]:
    """The model's MAE against the 10-game average, the season average and the EWMA (halflife 10 games), on the same
    rows: overall, and as tables by season, by expected-minutes bucket and by month."""
    rows = compared_rows(graded)
    errors = _baseline_errors(rows).mean()
    out: dict[str, object] = {"compared_rows": len(rows), "out_of_sample_mae_compared": float(errors["model"])}
    for name in BASELINES:
        out[f"baseline_mae_{name}"] = float(errors[name])
    best = min(BASELINES, key=lambda n: errors[n]) if len(rows) else "n/a"
    beats = bool(len(rows) and errors["model"] < errors[best])
    out["best_simple_baseline"] = best
    out["best_simple_baseline_mae"] = float(errors[best]) if len(rows) else float("nan")
    out["beats_best_simple_baseline"] = beats
    out["verdict"] = (
        f"beats the best simple baseline ({best}): MAE {errors['model']:.3f} vs {errors[best]:.3f}" if beats
        else f"does not beat the best simple baseline ({best}): MAE {errors['model']:.3f} vs {errors[best]:.3f}"
        if len(rows) else "no out-of-sample rows to compare"
    )
    out["mae_by_season"] = _mae_table(rows, rows["season"].astype("string"), "season")
    minutes = rows["expected_minutes"] if "expected_minutes" in rows else pd.Series(np.nan, index=rows.index)
    out["mae_by_minutes"] = _mae_table(rows, minutes_bucket(minutes), "expected minutes")
    out["mae_by_month"] = _mae_table(rows, to_datetime(rows["game_date"]).dt.strftime("%Y-%m"), "month")
    return out


def pick_summary(graded: pd.DataFrame) -> dict[str, object]:
    """OVER and UNDER picks apart, per line source (never mixed): picks, decided bets, hit rate and the break-even
    they needed. `hit_rate_against_the_market` only on vendor lines."""
    oos = graded[graded["out_of_sample"].fillna(False).astype(bool) & graded["recommendation"].isin(["OVER", "UNDER"])]
    source = oos["line_source"].astype("string").fillna("unknown") if "line_source" in oos else pd.Series("unknown", index=oos.index)
    decided = oos["result"].isin(["WIN", "LOSS"])
    table, out = [], {}
    for (src, side), part in oos.groupby([source.to_numpy(), oos["recommendation"].to_numpy()]):
        d = decided.loc[part.index]
        wins = int((part.loc[d, "result"] == "WIN").sum())
        rate = wins / int(d.sum()) if d.any() else float("nan")
        needs = float(part["break_even"].astype("Float64").astype(float).mean()) if "break_even" in part else float("nan")
        table.append([src, side, len(part), int(d.sum()), wins, f"{rate:.3f}", f"{needs:.3f}", "yes" if rate > needs else "no"])
        out[f"{side.lower()}_picks_{src}"] = len(part)
        out[f"{side.lower()}_hit_rate_{src}"] = rate
    for src in sorted(set(source)):
        d = decided & (source == src)
        out[f"hit_rate_{src}"] = float((oos.loc[d, "result"] == "WIN").mean()) if d.any() else float("nan")
    out["hit_rate_against_the_market"] = out.get(f"hit_rate_{VENDOR}", "n/a: no vendor lines (synthetic or simulated only)")
    out["picks"] = markdown_table(["line source", "side", "picks", "decided", "wins", "hit rate", "break-even", "clears it"], table)
    return out


def reliability(graded: pd.DataFrame) -> dict[str, object]:
    """Predicted P(OVER) against the observed OVER rate, out of sample, per line source: the reliability table by
    bucket, the slope of observed on predicted (1 = calibrated), the Brier score and that of the constant OVER rate
    of the same rows, and the reliability plot (`reliability_plot`)."""
    oos = graded[graded["out_of_sample"].fillna(False).astype(bool) & graded["went_over"].notna() & graded["p_over"].notna()]
    source = oos["line_source"].astype("string").fillna("unknown") if "line_source" in oos else pd.Series("unknown", index=oos.index)
    out: dict[str, object] = {}
    tables, curves = [], {}
    for src in sorted(set(source)):
        part = oos[source == src]
        p = part["p_over"].astype(float).to_numpy()
        y = part["went_over"].astype(bool).to_numpy().astype(float)
        rate = y.mean()
        slope = float(np.polyfit(p, y, 1)[0]) if len(p) > 2 and p.std() > 0 else float("nan")
        out[f"calibration_slope_{src}"] = slope
        out[f"brier_{src}"] = float(np.mean((p - y) ** 2))
        out[f"brier_constant_{src}"] = float(np.mean((rate - y) ** 2))
        out[f"over_rate_{src}"] = float(rate)
        out[f"calibration_rows_{src}"] = len(part)
        bucket = pd.cut(p, list(RELIABILITY_BUCKETS), right=False, include_lowest=True)
        stats = pd.DataFrame({"p": p, "y": y}).groupby(bucket, observed=True).agg(rows=("p", "size"), predicted=("p", "mean"), observed=("y", "mean"))
        tables += [[src, str(b), int(r.rows), f"{r.predicted:.3f}", f"{r.observed:.3f}"] for b, r in stats.iterrows()]
        curves[src] = stats
    out["reliability"] = markdown_table(["line source", "P(OVER) bucket", "rows", "mean predicted", "observed OVER rate"], tables)
    out["reliability_plot"] = reliability_plot(curves)
    return out


def reliability_plot(curves: dict[str, pd.DataFrame], width: int = 50) -> str:
    """The reliability diagram as Markdown the UI shows as it is (its sanitizer drops inline images): per line
    source and P(OVER) bucket, `P` where the bucket's mean prediction lies on a 0-1 axis and `o` its observed OVER
    rate (`*` where they meet: calibrated), and `#` bars for its share of rows."""
    lines = []
    for src, stats in curves.items():
        total = max(int(stats["rows"].sum()), 1)
        lines += [f"{src}: P = mean predicted P(OVER), o = observed OVER rate, * = both", f"{'bucket':<12} 0{' ' * (width - 2)}1  rows"]
        for bucket, r in stats.iterrows():
            axis = [" "] * (width + 1)
            p, o = int(round(r.predicted * width)), int(round(r.observed * width))
            axis[p] = "P"
            axis[o] = "*" if o == p else "o"
            lines.append(f"{str(bucket):<12}|{''.join(axis)}| {int(r.rows):>6} {'#' * int(round(30 * r.rows / total))}")
        lines.append("")
    return "```\n" + "\n".join(lines) + "\n```"


def _scores(graded: pd.DataFrame) -> pd.Series:
    """Hit rate over decided bets and MAE over players who played, for the model and the naive baseline."""
    bets = graded["result"].isin(["WIN", "LOSS"])
    base_bets = graded["baseline_result"].isin(["WIN", "LOSS"])
    return pd.Series(
        {
            "predictions": len(graded),
            "bets": int(bets.sum()),
            "hit_rate": float((graded.loc[bets, "result"] == "WIN").mean()) if bets.any() else float("nan"),
            "baseline_hit_rate": float((graded.loc[base_bets, "baseline_result"] == "WIN").mean()) if base_bets.any() else float("nan"),
            "mae": float(graded["abs_error"].astype(float).mean()),
            "baseline_mae": float(graded.loc[graded["abs_error"].notna(), "baseline_abs_error"].astype(float).mean()),
        }
    )


def _score_table(graded: pd.DataFrame, by: str, label: str) -> str:
    scores = graded.groupby(by, dropna=False)[list(graded.columns)].apply(_scores) if len(graded) else pd.DataFrame()
    rows = [
        [str(key), int(r.predictions), int(r.bets), f"{r.hit_rate:.3f}", f"{r.baseline_hit_rate:.3f}", f"{r.mae:.2f}", f"{r.baseline_mae:.2f}"]
        for key, r in scores.iterrows()
    ]
    return markdown_table([label, "predictions", "bets", "hit rate", "10-game hit rate", "MAE", "10-game MAE"], rows)


MARKDOWN_KEYS = ("by_season", "by_confidence_bucket", "mae_by_season", "mae_by_minutes", "mae_by_month", "picks",
                 "reliability", "reliability_plot")


def grading_summary(graded: pd.DataFrame) -> dict[str, float | int | str]:
    """Out of sample by construction (walk-forward). The model against the simple averages on the same rows
    (`baseline_comparison`), its picks per side and line source (`pick_summary`), its calibration
    (`reliability`); hit rate and MAE against the 10-game average's own calls by season and confidence bucket,
    per line source. Markdown entries: MARKDOWN_KEYS."""
    oos = graded[graded["out_of_sample"].fillna(False)]
    overall = _scores(oos)
    sources = oos["line_source"].astype("string").fillna("unknown") if "line_source" in oos else pd.Series("unknown", index=oos.index)
    by = oos.assign(_group=oos["season"].astype("string").fillna("?") + " / " + sources)
    one_source = sources.nunique() <= 1
    return {
        "predictions": len(graded),
        "graded": int(graded["graded"].sum()),
        "bets": int(graded["result"].isin(["WIN", "LOSS"]).sum()),
        "out_of_sample_predictions": len(oos),
        "line_sources": ", ".join(sorted(set(sources))) or "none",
        # one hit rate over lines of different sources would mix a market with made-up lines
        "out_of_sample_hit_rate": overall["hit_rate"] if one_source else float("nan"),
        "baseline_hit_rate": overall["baseline_hit_rate"] if one_source else float("nan"),
        "out_of_sample_mae": overall["mae"],
        "baseline_mae": overall["baseline_mae"],
        **baseline_comparison(graded),
        **pick_summary(graded),
        **reliability(graded),
        "by_season": _score_table(by, "_group", "season / line source"),
        "by_confidence_bucket": _score_table(by.assign(_group=by["confidence_bucket"].astype("string") + " / " + sources), "_group", "confidence / line source"),
    }


def grading_by_date(graded: pd.DataFrame) -> pd.DataFrame:
    """The summary's out-of-sample hit rate and MAE, model and baselines, per date and season (plotted in the UI)."""
    oos = graded["out_of_sample"].fillna(False).astype(bool)
    bets, base_bets = graded["result"].isin(["WIN", "LOSS"]), graded["baseline_result"].isin(["WIN", "LOSS"])
    played = graded["abs_error"].notna()
    ewma_error = (graded["baseline_ewma_10"].astype("Float64") - graded["actual_points"].astype("Float64")).abs()
    return by_date_and_season(graded["game_date"], {
        "hit_rate": Measure(graded["result"] == "WIN", oos & bets, scale=1.0),
        "baseline_hit_rate": Measure(graded["baseline_result"] == "WIN", oos & base_bets, scale=1.0),
        "mae": Measure(graded["abs_error"], oos & played, scale=1.0),
        "baseline_mae": Measure(graded["baseline_abs_error"], oos & played, scale=1.0),
        "ewma_mae": Measure(ewma_error, oos & played & ewma_error.notna(), scale=1.0),
    })
