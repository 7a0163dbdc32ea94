"""Feature store and points model: leakage guard, refusal on incomplete features, honest comparison."""

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.definitions import ALL_ASSETS
from nba_pipeline.checks import names
from nba_pipeline.ml import checks
from nba_pipeline.ml.assets import points_model
from nba_pipeline.analytics.checks import PLAYER_GAME_SUMMARY_RULES
from nba_pipeline.ml.features import FEATURE_VERSION, FEATURES, LABELS, build_feature_store, with_labels
from nba_pipeline.ml.model import (
    FeatureVersionMismatch,
    compare_with_baselines,
    out_of_sample_predictions,
    simple_baselines,
    train_walk_forward,
    training_rows,
)
from nba_pipeline.precompute.composite_factors import build_player_composite_factors
from nba_pipeline.precompute.daily_cache import build_player_daily_cache
from nba_pipeline.resources import resources_for
from nba_pipeline.tables import Table, published_table

DATES = list(pd.date_range("2023-10-24", "2024-01-31"))


@pytest.fixture(scope="module")
def features(simulated_season):
    """The stored feature rows: pre-game, no label."""
    s = simulated_season
    factors = build_player_composite_factors(
        s["player_game_summary"], s["team_defense_game_summary"], s["schedule"], s["injury_report"], s["prop_lines"], DATES
    )
    cache = build_player_daily_cache(factors, s["injury_report"], s["prop_lines"])
    return build_feature_store(cache)


@pytest.fixture(scope="module")
def store(features, simulated_season):
    """The feature rows with their labels, as the model trains on them."""
    return with_labels(features, simulated_season["player_game_summary"])


def test_the_stored_features_hold_no_label(features, store):
    assert not set(LABELS) & set(features.columns)
    assert store["played"].sum() > 10_000 and store.loc[~store["played"], "actual_points"].isna().all()


def test_every_feature_comes_from_before_the_game(store):
    dated = store["latest_input_game_date"].notna()
    assert (store.loc[dated, "latest_input_game_date"] < store.loc[dated, "game_date"]).all()
    past = store[~store["bootstrap"]]
    assert past["feature_completeness"].mean() > 0.95
    assert set(FEATURES) <= set(store.columns) and (store["feature_version"] == FEATURE_VERSION).all()


@pytest.fixture(scope="module")
def walk_forward(store):
    return train_walk_forward(store, every_days=14, workers=2)


def test_each_model_learns_all_history_and_is_judged_out_of_sample_against_every_simple_average(store, walk_forward):
    models = walk_forward.models
    rows = training_rows(store)
    for model in models:  # every labelled row up to the cutoff, none held out
        assert model.metrics["train_rows"] == int((rows["game_date"] <= pd.Timestamp(model.trained_through)).sum())
    assert (rows["bootstrap"]).any() and models[-1].metrics["train_rows"] == len(rows)  # early-season rows included
    first, latest = models[0].metrics, models[-1].metrics
    assert first["validation_rows"] == 0 and first["calibration_out_of_sample"] is False
    m = latest
    assert m["validation_rows"] > 1000 and m["train_rows"] > m["validation_rows"]
    assert m["validation_dates"].split("..")[0] > f"{models[0].trained_through:%Y-%m-%d}"  # the first model's out-of-sample rows
    # the same numbers, recomputed from the walk-forward predictions: each row by the latest model before its date
    predicted = out_of_sample_predictions(rows, list(models))
    valid = ~pd.isna(predicted)
    again = compare_with_baselines(predicted[valid], rows["actual_points"].astype(float).to_numpy()[valid], simple_baselines(rows[valid]))
    assert again == {k: m[k] for k in again}
    assert 2 < m["mae"] < 6 and m["best_simple_baseline"] in ("10_game_avg", "season_avg", "ewma_10")
    assert m["beats_best_simple_baseline"] == (m["mae"] < m["best_simple_baseline_mae"])
    with pytest.raises(FeatureVersionMismatch):
        models[-1].predict(store.assign(feature_version="v0").head())


def test_early_season_rows_are_shrunk_toward_what_is_known(walk_forward):
    from nba_pipeline.ml.model import Shrinkage

    rows = pd.DataFrame({"games_before": [0, 0, 2, 20], "points_season_avg": [None, None, 30.0, 30.0],
                         "minutes_ewma_10": [None, None, 20.0, 20.0], "prop_line": [None, 14.5, 14.5, 14.5]})
    s = Shrinkage(prior_games=2.0, points_per_minute=0.5, new_player_points=6.0)
    # no game: the line if priced, else a new player's typical first game; two games: half the season, half the role
    assert s.estimate(rows).tolist() == pytest.approx([6.0, 14.5, 0.5 * 30 + 0.5 * 10, 20 / 22 * 30 + 2 / 22 * 10], rel=1e-12)
    model = walk_forward.latest
    store = pd.DataFrame({f: [pd.NA] for f in FEATURES}).assign(feature_version=FEATURE_VERSION, games_before=0, prop_line=pd.NA)
    assert model.predict(store).tolist() == [model.shrinkage.new_player_points]  # a new player: no tree's guess


def test_p_over_is_calibrated_out_of_sample(store, walk_forward):
    import numpy as np

    rows = training_rows(store)
    rows = rows[rows["prop_line"].notna()]
    which = walk_forward.model_index(rows["game_date"])
    rows, which = rows[which >= 0], which[which >= 0]
    predicted = out_of_sample_predictions(rows, list(walk_forward.models))
    line = rows["prop_line"].astype(float).to_numpy()
    p = np.concatenate([walk_forward.models[i].p_over(predicted[which == i], line[which == i]) for i in np.unique(which)])
    order = np.concatenate([np.flatnonzero(which == i) for i in np.unique(which)])
    went_over = (rows["actual_points"].astype(float).to_numpy() > line)[order]
    assert ((p > 0) & (p < 1)).all() and p.std() > 0.02
    assert abs(p.mean() - went_over.mean()) < 0.03  # calibrated in level
    assert np.mean((p - went_over) ** 2) < np.mean((went_over.mean() - went_over) ** 2) + 0.002  # no worse than a constant


def _publish(warehouse: str, instance: dg.DagsterInstance, frame: pd.DataFrame, thresholds_file=None, table="ml_feature_store") -> None:
    """Publish `frame` as ml_feature_store (or player_game_summary) through the pipeline's own write–audit–publish
    step and its real rules, on `instance`."""

    def stored(dates):
        if table == "player_game_summary":
            return Table(frame[frame["game_date"].isin(dates)])
        return Table(frame[frame["game_date"].isin(dates)], audited=checks.with_completeness_pct)

    phase, rules = ("analytics", PLAYER_GAME_SUMMARY_RULES) if table == "player_game_summary" else ("ml", checks.FEATURE_STORE_RULES)
    seed = published_table(phase, rules, name=table)(stored)
    resources = resources_for("local", warehouse_path=warehouse)
    if thresholds_file:
        resources["thresholds"] = ThresholdsResource(override_file=str(thresholds_file))
    first, last = frame["game_date"].min(), frame["game_date"].max()
    tags = {"dagster/asset_partition_range_start": f"{first:%Y-%m-%d}", "dagster/asset_partition_range_end": f"{last:%Y-%m-%d}"}
    assert dg.materialize([seed], resources=resources, instance=instance, tags=tags).success


def test_the_model_refuses_to_train_on_failing_features_and_names_the_dates(features, simulated_season, warehouse, tmp_path):
    broken = features.copy()
    bad_days = [pd.Timestamp("2024-01-10"), pd.Timestamp("2024-01-11")]
    hit = broken["game_date"].isin(bad_days) & ~broken["bootstrap"]
    broken.loc[hit, ["opponent_def_rating", "rest_days", "teammates_out", "usage_spike_score"]] = pd.NA
    broken.loc[hit, "feature_completeness"] = 10 / 14
    # published while the completeness floor was lower; the model trains under today's floor
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("ml_feature_store:\n  feature_completeness_min_pct: 50\n")
    instance = dg.DagsterInstance.ephemeral()
    pgs = simulated_season["player_game_summary"]
    _publish(warehouse, instance, pgs[pgs["game_date"].isin(DATES)], table="player_game_summary")  # the labels
    _publish(warehouse, instance, broken, lenient)
    result = dg.materialize(
        ALL_ASSETS,
        selection=[points_model],
        resources=resources_for("local", warehouse_path=warehouse),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data
    assert "refusing to train" in failure.description
    assert "2024-01-10" in failure.description and "2024-01-11" in failure.description

    _publish(warehouse, instance, features)
    trained = dg.materialize(
        ALL_ASSETS, selection=[points_model], resources=resources_for("local", warehouse_path=warehouse), instance=instance
    )
    assert trained.success
    # the newest model against the best simple average on its validation rows: a visible, non-blocking verdict
    (check,) = trained.get_asset_check_evaluations()
    metadata = trained.get_asset_materialization_events()[0].materialization.metadata
    beats = metadata["beats_best_simple_baseline"].value
    assert check.check_name == names.BEATS_BEST_SIMPLE_BASELINE and not check.blocking and check.passed == beats
    assert check.description.startswith("beats the best simple baseline" if beats else "does not beat the best simple baseline")


def test_walk_forward_uses_the_latest_model_trained_strictly_before_each_date():
    import datetime as dt

    from nba_pipeline.ml.model import PointsModel, WalkForwardModels

    models = WalkForwardModels(
        models=tuple(PointsModel(estimator=None, residual_std=1.0, trained_through=dt.date(2024, 1, d)) for d in (7, 21))
    )
    dates = pd.Series(pd.to_datetime(["2024-01-07", "2024-01-08", "2024-01-21", "2024-01-22", "2024-03-01"]))
    assert models.model_index(dates).tolist() == [-1, 0, 0, 1, 1]
    assert models.latest.version == f"points-{FEATURE_VERSION}-through-2024-01-21"


def test_walk_forward_fits_each_distinct_history_once_across_a_break(store, monkeypatch):
    """Cutoffs falling in a break (the off-season: no new date since the previous cutoff) would refit the same rows;
    each distinct last date is fitted once, and the models are those of every cutoff."""
    import numpy as np

    from nba_pipeline.ml import model as model_module

    dates = np.sort(store["game_date"].unique())
    kept = np.concatenate([dates[10:30], dates[60:75]])  # a break of 30 game dates (about a month)
    short = store[store["game_date"].isin(kept)]
    fits = []
    original = model_module._train

    def counting(rows, seed):
        fits.append(rows["game_date"].max())
        return original(rows, seed)

    monkeypatch.setattr(model_module, "_train", counting)
    models = model_module.train_walk_forward(short, every_days=5, min_dates=7, workers=1)
    learnable = np.sort(model_module.training_rows(short)["game_date"].unique())
    cutoffs = pd.date_range(learnable[6], learnable[-1], freq="5D").append(pd.DatetimeIndex([learnable[-1]]))
    expected = sorted({pd.Timestamp(learnable[learnable <= np.datetime64(c)].max()).date() for c in cutoffs})
    assert [m.trained_through for m in models.models] == expected
    assert len(fits) == len(expected) < len(cutoffs)  # the break's cutoffs were not fitted again

    # fitted in two processes: the same models (a fit is deterministic for its rows and seed)
    parallel = model_module.train_walk_forward(short, every_days=5, min_dates=7, workers=2)
    assert [m.trained_through for m in parallel.models] == expected
    sample = short.head(500)
    for one, two in zip(models.models, parallel.models):
        assert np.array_equal(one.predict(sample), two.predict(sample)) and pd.Series(one.metrics).equals(pd.Series(two.metrics))


def test_the_fits_start_processes_only_when_their_rows_pay_for_them():
    """Starting a fitting process costs more than a small history's fits: below POOL_MIN_ROWS (the rows the fits
    learn from, summed over the cutoffs) they run in the caller, from it on one process per core."""
    import numpy as np

    from nba_pipeline.ml.model import POOL_MIN_ROWS, fit_workers

    dates = pd.date_range("2023-11-01", periods=100, freq="D")
    per_date = 200
    rows = pd.DataFrame({"game_date": dates.repeat(per_date)})
    through = list(dates[[9, 49, 99]].to_numpy())  # 2,000 + 10,000 + 20,000 rows learned from
    assert fit_workers(rows, through, cores=4) == 1
    many = list(dates[np.arange(9, 100, 2)].to_numpy())  # 46 cutoffs: 2,000 + 2,400 + ... + 20,000 rows
    fitted = sum((i + 1) * per_date for i in range(9, 100, 2))
    assert fitted >= POOL_MIN_ROWS and fit_workers(rows, many, cores=4) == 4
    big = pd.DataFrame({"game_date": dates.repeat(POOL_MIN_ROWS // 100 + 1)})
    for n, workers in ((POOL_MIN_ROWS - 1, 1), (POOL_MIN_ROWS, 2)):  # one cutoff through the last date: one row short
        assert fit_workers(big.head(n), [dates[-1]], cores=2) == workers  # of the floor, then at it


GUARDLESS_SCRIPT = '''
import warnings
import numpy as np
import pandas as pd
from nba_pipeline.ml.features import FEATURE_VERSION, FEATURES
from nba_pipeline.ml.model import train_walk_forward

# no `if __name__ == "__main__":` guard: a spawned worker re-runs this file and cannot start processes of its own
rng = np.random.default_rng(7)
dates = pd.date_range("2023-11-01", periods=24, freq="D").repeat(60)
store = pd.DataFrame({f: rng.normal(10, 3, len(dates)) for f in FEATURES})
store = store.assign(game_date=dates, played=True, bootstrap=False, feature_version=FEATURE_VERSION,
                     actual_points=rng.normal(12, 4, len(dates)).round())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    two = train_walk_forward(store, every_days=7, min_dates=7, workers=2)
one = train_walk_forward(store, every_days=7, min_dates=7, workers=1)
same = all(np.array_equal(a.predict(store.head(200)), b.predict(store.head(200))) for a, b in zip(one.models, two.models))
print("models", len(two.models), "same", same and len(one.models) == len(two.models))
print("warned", any("worker processes could not start" in str(w.message) for w in caught))
'''


def test_walk_forward_fits_in_process_when_a_script_without_a_main_guard_cannot_start_workers(tmp_path):
    """The fallback of the parallel fits, in a real guard-less script run by a fresh interpreter: it warns, and the
    models are those of one process."""
    import subprocess
    import sys

    script = tmp_path / "train_without_guard.py"
    script.write_text(GUARDLESS_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("models", "warned")))
    count, same = lines["models"].split(" same ")
    assert int(count) >= 2 and same == "True"
    assert lines["warned"] == "True"
