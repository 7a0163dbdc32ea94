"""ML assets: the feature store (per game date) and the points model trained over a range of it."""

import dagster as dg
import pandas as pd
from pydantic import Field

from nba_pipeline.automation import model_retrain
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
    validation_share: float = Field(0.2, gt=0, lt=1, description="Share of the latest dates held out for validation.")
    walk_forward_days: int = Field(14, ge=1, description="Days between walk-forward cutoffs: one model per cutoff.")


@dg.asset(
    group_name="ml",
    io_manager_key="model_io",
    kinds={"sklearn"},
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=model_retrain,
    pool=WAREHOUSE_POOL,
)
def points_model(
    context: dg.AssetExecutionContext,
    config: PointsModelConfig,
    ml_feature_store: pd.DataFrame,
    player_game_summary: pd.DataFrame,
    thresholds: ThresholdsResource,
) -> dg.Output[WalkForwardModels]:
    """Walk-forward models: gradient-boosted trees predicting a player's points from the v1 features, one trained
    at every cutoff (every `walk_forward_days`, and through the last labelled date), each on the rows up to its
    cutoff only, each judged on its own latest dates against the naive 10-game average. Predictions for a date
    use the latest model trained strictly before it. Refuses to train when any date of its training range fails
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
        models = train_walk_forward(labelled, every_days=config.walk_forward_days, validation_share=config.validation_share)
    except ValueError as err:  # e.g. every row still in bootstrap: nothing a model may learn from yet
        raise dg.Failure(description=f"refusing to train: {err} (rows of players with under 10 games are not learned from)") from None
    model = models.latest
    m = model.metrics
    comparison = markdown_table(
        ["model", "trained through", "validation dates", "validation MAE", "naive 10-game MAE"],
        [[mod.version, f"{mod.trained_through}", mod.metrics["validation_dates"], f"{mod.metrics['mae_on_baseline_rows']:.3f}",
          f"{mod.metrics['baseline_mae_10_game_avg']:.3f}"] for mod in models.models],
    )
    return dg.Output(
        models,
        metadata={**m, "models": len(models.models), "residual_std": model.residual_std, "feature_version": model.feature_version,
                  "trained_through": str(model.trained_through), "first_trained_through": str(models.models[0].trained_through),
                  "walk_forward": dg.MetadataValue.md(comparison), "dates_left_out": len(left_out),
                  **({"left_out": dg.MetadataValue.md(markdown_table(
                      ["game date", "of", "why"], left_out[["game_date", "upstream", "why"]].head(100).values.tolist()))}
                     if len(left_out) else {})},
    )


ml_assets = [ml_feature_store, points_model]
