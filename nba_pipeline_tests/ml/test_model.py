"""Feature store and points model: leakage guard, refusal on incomplete features, honest comparison."""

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.definitions import ALL_ASSETS
from nba_pipeline.ml import checks
from nba_pipeline.ml.assets import points_model
from nba_pipeline.analytics.checks import PLAYER_GAME_SUMMARY_RULES
from nba_pipeline.ml.features import FEATURES_V1, LABELS, build_feature_store, with_labels
from nba_pipeline.ml.model import FeatureVersionMismatch, train_points_model
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
    assert set(FEATURES_V1) <= set(store.columns) and (store["feature_version"] == "v1").all()


def test_model_is_compared_with_the_ten_game_average_on_later_dates(store):
    model = train_points_model(store)
    m = model.metrics
    assert m["validation_rows"] > 1000 and m["train_rows"] > m["validation_rows"]
    assert m["train_dates"].split("..")[1] < m["validation_dates"].split("..")[0]
    assert 2 < m["mae"] < 6 and 2 < m["baseline_mae_10_game_avg"] < 6
    with pytest.raises(FeatureVersionMismatch):
        model.predict(store.assign(feature_version="v0").head())


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
    assert dg.materialize(
        ALL_ASSETS, selection=[points_model], resources=resources_for("local", warehouse_path=warehouse), instance=instance
    ).success


def test_walk_forward_uses_the_latest_model_trained_strictly_before_each_date():
    import datetime as dt

    from nba_pipeline.ml.model import PointsModel, WalkForwardModels

    models = WalkForwardModels(
        models=tuple(PointsModel(estimator=None, residual_std=1.0, trained_through=dt.date(2024, 1, d)) for d in (7, 21))
    )
    dates = pd.Series(pd.to_datetime(["2024-01-07", "2024-01-08", "2024-01-21", "2024-01-22", "2024-03-01"]))
    assert models.model_index(dates).tolist() == [-1, 0, 0, 1, 1]
    assert models.latest.version == "points-v1-through-2024-01-21"


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

    def counting(rows, validation_share, seed):
        fits.append(rows["game_date"].max())
        return original(rows, validation_share, seed)

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
        assert np.array_equal(one.predict(sample), two.predict(sample)) and one.metrics == two.metrics


GUARDLESS_SCRIPT = '''
import warnings
import numpy as np
import pandas as pd
from nba_pipeline.ml.features import FEATURE_VERSION, FEATURES_V1
from nba_pipeline.ml.model import train_walk_forward

# no `if __name__ == "__main__":` guard: a spawned worker re-runs this file and cannot start processes of its own
rng = np.random.default_rng(7)
dates = pd.date_range("2023-11-01", periods=24, freq="D").repeat(60)
store = pd.DataFrame({f: rng.normal(10, 3, len(dates)) for f in FEATURES_V1})
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
