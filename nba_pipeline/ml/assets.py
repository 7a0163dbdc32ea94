"""ML assets: the feature store (per game date) and the points model trained over a range of it."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from nba_pipeline.plumbing.automation import model_retrain
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs
from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.dates import parse_game_date
from nba_pipeline.metadata import markdown_table
from nba_pipeline.ml import checks, features
from nba_pipeline.ml.features import build_feature_store, with_labels
from nba_pipeline.ml.model import WalkForwardModels, train_walk_forward
from nba_pipeline.tables import Table, published_table
from nba_pipeline.checks.gate import take_held_back
from nba_pipeline.warehouse import WAREHOUSE_POOL, step_session_key


@published_table("ml", checks.FEATURE_STORE_RULES, code=[features])
def ml_feature_store(player_daily_cache: pd.DataFrame) -> Table:
    """One row per player on a date's pre-game slate: the v1 feature list, its completeness and the latest input
    date behind it. No label: a date's rows exist before its games tip off (the model joins labels when it
    trains). Source: precompute.player_daily_cache, same date."""
    frame = build_feature_store(player_daily_cache)
    past = frame[~frame["bootstrap"]]
    extra = {"feature_completeness_pct_past_bootstrap": 100 * past["feature_completeness"].mean()} if len(past) else {}
    return Table(frame, metadata=extra, audited=checks.with_completeness_pct)


class PointsModelConfig(dg.Config):
    train_start: str | None = Field(None, description="First game date to train on (YYYY-MM-DD); default: the first stored.")
    train_end: str | None = Field(None, description="Last game date to train on (YYYY-MM-DD); default: the last stored.")
    walk_forward_days: int = Field(14, ge=1, description="Days between walk-forward cutoffs: one model per cutoff.")


@dg.asset(
    group_name="ml",
    io_manager_key="model_io",
    kinds={"sklearn"},
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=model_retrain,
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(
        names.BEATS_BEST_SIMPLE_BASELINE, asset="points_model", blocking=False,
        description="The newest model's MAE on its validation rows (those its predecessors predicted out of sample) is "
                    "below that of the best of the 10-game average, the season average and the EWMA on the same rows.",
    )],
)
def points_model(
    context: dg.AssetExecutionContext,
    config: PointsModelConfig,
    ml_feature_store: pd.DataFrame,
    player_game_summary: pd.DataFrame,
    thresholds: ThresholdsResource,
) -> Iterator[dg.Output[WalkForwardModels] | dg.AssetCheckResult]:
    """Walk-forward models: a ridge + gradient-boosting blend predicting a player's points from the v2 features
    (early-season rows shrunk toward the season so far and the player's role), one trained at every cutoff (every
    `walk_forward_days`, and through the last labelled date) on all labelled rows up to it, each judged on the
    rows its predecessors predicted out of sample against the 10-game average, the season average and the EWMA,
    and its P(OVER) calibrated on them. Predictions for a date use the latest model trained strictly before it. Refuses to train when any date of its training range fails
    feature completeness. Source: ml.ml_feature_store (every readable date: one that did not pass is left out and
    named in the metadata), labelled with points and minutes from
    analytics.player_game_summary (all stored dates; a row without a box score is not learned from). Retrained
    Mondays 07:00 ET."""
    left_out = take_held_back(step_session_key(context.run.run_id, context.op_def.name))
    stored = ml_feature_store["game_date"]
    first = pd.Timestamp(parse_game_date(config.train_start)) if config.train_start else stored.min()
    last = pd.Timestamp(parse_game_date(config.train_end)) if config.train_end else stored.max()
    store = ml_feature_store[stored.between(first, last)]
    if store.empty:
        raise dg.Failure("refusing to train: ml_feature_store has no rows in the training range")
    limits = thresholds.load()
    dates = sorted(store["game_date"].unique())
    failing = checks.failing_feature_dates(store, CheckInputs(checks.with_completeness_pct(store), dates, limits))
    if not failing.empty:
        named = ", ".join(f"{d:%Y-%m-%d}" for d in failing["game_date"][:30])
        raise dg.Failure(
            description=f"refusing to train: ml_feature_store fails {checks.FEATURE_COMPLETENESS_RULE.name} on "
            f"{len(failing)} date(s) of the training range: {named}",
            metadata={"failing_dates": named, "floor_pct": limits.ml_feature_store.feature_completeness_min_pct},
        )
    labelled = with_labels(store, player_game_summary[player_game_summary["game_date"].between(first, last)])
    try:
        models = train_walk_forward(labelled, every_days=config.walk_forward_days)
    except ValueError as err:  # e.g. a single labelled date: nothing to walk forward over
        raise dg.Failure(description=f"refusing to train: {err}") from None
    model = models.latest
    m = model.metrics
    comparison = markdown_table(
        ["model", "trained through", "train rows", "validation rows", "validation dates", "MAE", "10-game", "season", "EWMA",
         "beats best simple", "P(OVER) slope"],
        [[mod.version, f"{mod.trained_through}", mod.metrics["train_rows"], mod.metrics["validation_rows"], mod.metrics["validation_dates"],
          *[f"{mod.metrics.get(k, float('nan')):.3f}" for k in ("mae", "baseline_mae_10_game_avg", "baseline_mae_season_avg", "baseline_mae_ewma_10")],
          "yes" if mod.metrics["beats_best_simple_baseline"] else "no", f"{mod.metrics['calibration_slope']:.2f}"] for mod in models.models],
    )
    beats = bool(m["beats_best_simple_baseline"])
    verdict = (f"{model.version}: MAE {m['mae']:.3f} on {m['compared_rows']} validation rows ({m['validation_dates']}) vs "
               f"{m['best_simple_baseline_mae']:.3f} for the best simple baseline ({m['best_simple_baseline']})"
               if m["compared_rows"] else f"{model.version}: no validation rows (the first model has no predecessor)")
    yield dg.Output(
        models,
        metadata={**m, "verdict": ("beats the best simple baseline" if beats else "does not beat the best simple baseline"),
                  "models": len(models.models), "residual_std": model.residual_std, "feature_version": model.feature_version,
                  "trained_through": str(model.trained_through), "first_trained_through": str(models.models[0].trained_through),
                  "walk_forward": dg.MetadataValue.md(comparison), "dates_left_out": len(left_out),
                  **({"left_out": dg.MetadataValue.md(markdown_table(
                      ["game date", "of", "why"], left_out[["game_date", "upstream", "why"]].head(100).values.tolist()))}
                     if len(left_out) else {})},
    )
    yield dg.AssetCheckResult(
        check_name=names.BEATS_BEST_SIMPLE_BASELINE, passed=beats,
        description=("beats the best simple baseline: " if beats else "does not beat the best simple baseline: ") + verdict,
        metadata={"mae": m["mae"], "best_simple_baseline": m["best_simple_baseline"], "best_simple_baseline_mae": m["best_simple_baseline_mae"],
                  "validation_rows": m["compared_rows"]},
    )


ml_assets = [ml_feature_store, points_model]
