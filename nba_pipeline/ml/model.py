"""The points model: gradient-boosted trees on the v1 features, judged against the naive 10-game average."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from typing import TYPE_CHECKING

from nba_pipeline.ml.features import FEATURE_VERSION, FEATURES_V1

if TYPE_CHECKING:  # imported where a model is trained: loading the Definitions (and `nba-pipeline status`) skips ~1 s
    from sklearn.ensemble import HistGradientBoostingRegressor

BASELINE = "points_avg_last_10"


class FeatureVersionMismatch(ValueError):
    """Rows of one feature version were offered to a model trained on another."""


@dataclass(frozen=True)
class PointsModel:
    estimator: HistGradientBoostingRegressor
    residual_std: float  # of validation errors: turns an edge over the line into a confidence
    trained_through: dt.date  # last game date it learned from: later predictions are out of sample
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    feature_version: str = FEATURE_VERSION
    features: tuple[str, ...] = FEATURES_V1

    @property
    def version(self) -> str:
        return f"points-{self.feature_version}-through-{self.trained_through:%Y-%m-%d}"

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        versions = set(rows["feature_version"].dropna())
        if versions - {self.feature_version}:
            raise FeatureVersionMismatch(f"model trained on {self.feature_version}, rows are {sorted(versions)}")
        return self.estimator.predict(_matrix(rows, self.features))


def _matrix(rows: pd.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    return rows[list(features)].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def training_rows(store: pd.DataFrame) -> pd.DataFrame:
    """Rows a model may learn from (`store` with its labels, `features.with_labels`): the player played, past
    bootstrap, label known."""
    return store[store["played"].fillna(False) & ~store["bootstrap"].fillna(True) & store["actual_points"].notna()]


def time_split(rows: pd.DataFrame, validation_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier dates train, the last `validation_share` of dates validate: no future game teaches the past."""
    dates = np.sort(rows["game_date"].unique())
    if len(dates) < 2:
        raise ValueError(f"need at least two game dates to split train/validation, got {len(dates)}")
    cut = dates[min(len(dates) - 1, max(1, int(round(len(dates) * (1 - validation_share)))))]
    return rows[rows["game_date"] < cut], rows[rows["game_date"] >= cut]


def train_points_model(store: pd.DataFrame, validation_share: float = 0.2, seed: int = 0) -> PointsModel:
    """Fit on the earlier dates, judge on the later ones. `trained_through` is the last date whose labels the
    model saw (validation included): it is used only for dates after it."""
    return _train(training_rows(store), validation_share, seed)


def _train(rows: pd.DataFrame, validation_share: float, seed: int) -> PointsModel:
    train, valid = time_split(rows, validation_share)
    from sklearn.ensemble import HistGradientBoostingRegressor

    estimator = HistGradientBoostingRegressor(
        loss="absolute_error", max_iter=300, learning_rate=0.06, max_leaf_nodes=31, min_samples_leaf=40,
        l2_regularization=1.0, random_state=seed,
    )
    estimator.fit(_matrix(train, FEATURES_V1), train["actual_points"].astype(float))
    actual = valid["actual_points"].astype(float).to_numpy()
    errors = estimator.predict(_matrix(valid, FEATURES_V1)) - actual
    baseline = valid[BASELINE].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    has_baseline = ~np.isnan(baseline)
    metrics = {
        "train_rows": len(train),
        "validation_rows": len(valid),
        "train_dates": f"{train['game_date'].min():%Y-%m-%d}..{train['game_date'].max():%Y-%m-%d}",
        "validation_dates": f"{valid['game_date'].min():%Y-%m-%d}..{valid['game_date'].max():%Y-%m-%d}",
        "mae": float(np.mean(np.abs(errors))),
        "baseline_mae_10_game_avg": float(np.mean(np.abs(baseline[has_baseline] - actual[has_baseline]))),
        "mae_on_baseline_rows": float(np.mean(np.abs(errors[has_baseline]))),
    }
    return PointsModel(
        estimator=estimator,
        residual_std=float(np.std(errors)),
        trained_through=pd.Timestamp(valid["game_date"].max()).date(),
        metrics=metrics,
    )


@dataclass(frozen=True)
class WalkForwardModels:
    """Models trained at successive cutoffs: the one for a date is the latest trained strictly before it, so a
    prediction never comes from a model that saw its own date or anything after."""

    models: tuple[PointsModel, ...]  # ascending trained_through

    @property
    def latest(self) -> PointsModel:
        return self.models[-1]

    def model_index(self, game_dates: pd.Series) -> np.ndarray:
        """Per date, the index of its model in `models`; -1 where no model was trained before the date."""
        through = np.array([np.datetime64(m.trained_through, "ns") for m in self.models])
        return np.searchsorted(through, pd.to_datetime(game_dates).to_numpy(dtype="datetime64[ns]"), side="left") - 1

    @property
    def metrics(self) -> dict[str, float | int | str]:
        return self.latest.metrics


def train_walk_forward(
    store: pd.DataFrame, *, every_days: int = 14, min_dates: int = 7, validation_share: float = 0.2, seed: int = 0,
    workers: int | None = None,
) -> WalkForwardModels:
    """One model per cutoff: every `every_days` from the first date with `min_dates` learnable dates before it,
    and one through the last labelled date. Each learns only from rows up to its cutoff. The fits run in `workers`
    processes (default one per core)."""
    rows = training_rows(store)
    dates = np.sort(rows["game_date"].unique())
    if len(dates) < 2:
        raise ValueError(f"need at least two labelled game dates to train, got {len(dates)}")
    first = dates[min(max(min_dates, 2), len(dates)) - 1]
    cutoffs = list(pd.date_range(first, dates[-1], freq=f"{every_days}D"))
    if not cutoffs or cutoffs[-1] < dates[-1]:
        cutoffs.append(pd.Timestamp(dates[-1]))
    # A cutoff in the off-season has no date after the previous cutoff's: it would fit the same rows again (about
    # half the cutoffs of a multi-season range), so each distinct last date is fitted once.
    through = [last for last in sorted({dates[dates <= np.datetime64(cutoff)].max() for cutoff in cutoffs})
               if (dates <= last).sum() >= 2]
    models = _fit_all(rows, through, validation_share, seed, workers)
    return WalkForwardModels(models=tuple(dict((m.trained_through, m) for m in models).values()))


def _fit_upto(last: np.datetime64, validation_share: float, seed: int) -> PointsModel:
    return _train(_ROWS[_ROWS["game_date"] <= last], validation_share, seed)


_ROWS: pd.DataFrame = pd.DataFrame()  # a fitting process's copy of the training rows (set once, by _init_worker)


def _init_worker(rows_file: str) -> None:
    global _ROWS
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime: threadpoolctl limits only loaded libraries)
    from threadpoolctl import threadpool_limits

    # one fit per core: a second OpenMP thread per fit gains nothing at this size, and two processes' threads on
    # two cores spin-wait for each other (measured: 4x the CPU time)
    threadpool_limits(1)
    _ROWS = pd.read_pickle(rows_file)


def _fit_all(rows: pd.DataFrame, through: list, validation_share: float, seed: int, workers: int | None) -> list[PointsModel]:
    """One fit per last date, in `workers` processes (default: one per available core). A fit is deterministic
    for its rows and seed, so the models are the same however many processes fit them."""
    import os

    workers = min(workers or len(os.sched_getaffinity(0)), len(through))
    if workers <= 1:
        return [_train(rows[rows["game_date"] <= last], validation_share, seed) for last in through]
    import concurrent.futures
    import multiprocessing
    import tempfile
    from pathlib import Path

    # spawned, not forked: the caller (a Dagster step) has threads, open connections and OpenMP state a fork copies.
    # The rows go to the workers as a file, not as an initializer argument: that one travels through the pipe a
    # worker reads at start-up, and when a worker dies before reading it all (see below), the parent stays blocked
    # writing it for good (CPython's spawn keeps the pipe's read end open until the write is done).
    try:
        with tempfile.TemporaryDirectory(prefix="nba_pipeline_fits_") as folder:
            rows_file = Path(folder) / "rows.pickle"
            rows.to_pickle(rows_file)
            with concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                initargs=(str(rows_file),),
            ) as pool:
                # the largest histories first, so the last fits to finish are short ones
                futures = {last: pool.submit(_fit_upto, last, validation_share, seed) for last in sorted(through, reverse=True)}
                return [futures[last].result() for last in through]
    except concurrent.futures.process.BrokenProcessPool as err:  # not a fit's own error: that one is raised
        # a spawned process re-imports the caller's main module: a script without an `if __name__ == "__main__"`
        # guard cannot start one; fit here instead (same models)
        import warnings

        warnings.warn(f"walk-forward fits run in this process ({err.__class__.__name__}: worker processes could not start)")
        return [_train(rows[rows["game_date"] <= last], validation_share, seed) for last in through]
