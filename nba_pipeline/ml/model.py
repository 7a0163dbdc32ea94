"""The points model: a ridge + gradient-boosting blend on the pre-game features, refitted at walk-forward cutoffs on
all labelled history before each, early-season rows shrunk toward what is known, judged out of sample against the
simple averages, and a predictive distribution for P(OVER) calibrated on out-of-sample history.

Why this predictive distribution: points are a skewed, overdispersed count whose spread grows with the player's
expected points. A fitted count law (Poisson, negative binomial) fixes the shape of that spread in advance; instead
the residuals the walk-forward models made out of sample, standardised by sqrt(prediction), give an empirical
distribution (its quantiles) that carries the real skew and tails, and a logistic recalibration of the resulting
P(OVER) on the same out-of-sample rows (with their lines) corrects what remains (slope and level), so a stated 60 %
is what happened about 60 % of the time before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.ml.features import BOOTSTRAP_GAMES, FEATURE_VERSION, FEATURES

BASELINE = "points_avg_last_10"
EWMA = "points_ewma_10"
BASELINES = ("10_game_avg", "season_avg", "ewma_10")  # the simple averages every model is judged against
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 201)
TRUST_GAMES = 5.0  # until the out-of-sample record chooses (TRUST_GRID): measured best on the 2023-24 replay
TRUST_GRID = (1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0)
MIN_RECALIBRATION_ROWS = 300  # fewer out-of-sample lines than this: the distribution's P(OVER) is used as it is
# Fitting processes pay for themselves only on large histories: starting one costs ~1.4 s of CPU (its imports) and a
# fit ~30 µs per training row (measured on the two packaged seasons: 25 fits, 639,109 rows, 18.3 s), so below this
# many rows summed over the cutoffs (~3 s of fitting, where two processes stop saving time) they run in the caller.
POOL_MIN_ROWS = 100_000


class FeatureVersionMismatch(ValueError):
    """Rows of one feature version were offered to a model trained on another."""


def _col(rows: pd.DataFrame, name: str) -> np.ndarray:
    return rows[name].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def simple_baselines(rows: pd.DataFrame) -> pd.DataFrame:
    """The simple averages, from the row's pre-game features: the 10-game average (else the season average, as
    grading has always called it), the season-to-date average and the EWMA of points (halflife 10 games)."""
    season = _col(rows, "points_season_avg")
    last_10 = _col(rows, BASELINE)
    return pd.DataFrame(
        {"10_game_avg": np.where(np.isnan(last_10), season, last_10), "season_avg": season, "ewma_10": _col(rows, EWMA)},
        index=rows.index,
    )


def compare_with_baselines(predicted: np.ndarray, actual: np.ndarray, baselines: pd.DataFrame) -> dict[str, Any]:
    """MAE of the model and of each simple average on the same rows (those where every average is known), the
    best average and whether the model beats it."""
    known = np.isfinite(predicted) & np.isfinite(actual) & baselines.notna().all(axis=1).to_numpy()
    out: dict[str, Any] = {"compared_rows": int(known.sum())}
    if not known.any():
        return {**out, "mae": float("nan"), "best_simple_baseline": "n/a", "best_simple_baseline_mae": float("nan"),
                "beats_best_simple_baseline": False}
    out["mae"] = float(np.mean(np.abs(predicted[known] - actual[known])))
    for name in BASELINES:
        out[f"baseline_mae_{name}"] = float(np.mean(np.abs(baselines[name].to_numpy()[known] - actual[known])))
    best = min(BASELINES, key=lambda n: out[f"baseline_mae_{n}"])
    out["best_simple_baseline"] = best
    out["best_simple_baseline_mae"] = out[f"baseline_mae_{best}"]
    out["beats_best_simple_baseline"] = bool(out["mae"] < out["best_simple_baseline_mae"])
    return out


@dataclass(frozen=True)
class Shrinkage:
    """Early-season and new players: the season-so-far average shrunk toward a prior of `prior_games` games' weight.
    The prior is the player's role (league points per minute x his minutes so far), else his line (the book's view,
    which knows last season), else what new players scored in their first game."""

    prior_games: float
    points_per_minute: float
    new_player_points: float

    def estimate(self, rows: pd.DataFrame) -> np.ndarray:
        n = np.nan_to_num(_col(rows, "games_before"), nan=0.0)
        role = self.points_per_minute * _col(rows, "minutes_ewma_10")
        line = _col(rows, "prop_line") if "prop_line" in rows else np.full(len(rows), np.nan)
        prior = np.where(np.isfinite(role), role, np.where(np.isfinite(line), line, self.new_player_points))
        season = _col(rows, "points_season_avg")
        w = np.where(np.isfinite(season), n / (n + self.prior_games), 0.0)
        return w * np.nan_to_num(season) + (1 - w) * prior


def fit_shrinkage(rows: pd.DataFrame) -> Shrinkage:
    """The prior and its weight that best predict (least absolute error) the training rows before BOOTSTRAP_GAMES."""
    actual = rows["actual_points"].astype(float).to_numpy()
    minutes = _col(rows, "actual_minutes") if "actual_minutes" in rows else np.full(len(rows), np.nan)
    played_minutes = np.nansum(minutes)
    ppm = float(np.nansum(np.where(np.isfinite(minutes), actual, 0.0)) / played_minutes) if played_minutes > 0 else 0.5
    n = np.nan_to_num(_col(rows, "games_before"), nan=0.0)
    first = n == 0
    new_player = float(np.median(actual[first])) if first.any() else float(np.median(actual)) if len(actual) else 0.0
    early = n < BOOTSTRAP_GAMES
    grid = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0)
    if not early.any():
        return Shrinkage(3.0, ppm, new_player)
    errors = [np.mean(np.abs(Shrinkage(k, ppm, new_player).estimate(rows[early]) - actual[early])) for k in grid]
    return Shrinkage(grid[int(np.argmin(errors))], ppm, new_player)


@dataclass(frozen=True)
class Blend:
    """The mean of a ridge regression (scaled features, missing ones imputed and flagged; shifted to the median of
    its residuals, since points are right-skewed and the loss is absolute error) and gradient-boosted trees (absolute
    error): the linear part carries the averages' signal steadily, the trees the interactions."""

    ridge: Any
    trees: Any
    ridge_shift: float = 0.0  # median of the ridge's training residuals: from a mean toward a median (absolute error)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * (self.ridge.predict(x) + self.ridge_shift + self.trees.predict(x))


@dataclass(frozen=True)
class OverCalibration:
    """P(points > line) from standardised out-of-sample residuals (their quantiles), then recalibrated (logistic in
    the log-odds) on the out-of-sample rows with a line."""

    z_quantiles: np.ndarray
    intercept: float = 0.0
    slope: float = 1.0
    rows: int = 0
    line_rows: int = 0
    out_of_sample: bool = True

    def raw(self, predicted: np.ndarray, line: np.ndarray) -> np.ndarray:
        threshold = np.floor(line) + 0.5  # over means at least floor(line) + 1 points: an integer line can push
        z = (threshold - predicted) / _scale(predicted)
        return np.clip(1.0 - np.interp(z, self.z_quantiles, QUANTILE_LEVELS), 1e-3, 1 - 1e-3)

    def p_over(self, predicted: np.ndarray, line: np.ndarray) -> np.ndarray:
        from scipy.special import expit, logit

        return expit(self.intercept + self.slope * logit(self.raw(predicted, line)))


def _scale(predicted: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(predicted, 1.0))


def fit_calibration(predicted: np.ndarray, actual: np.ndarray, line: np.ndarray, out_of_sample: bool = True) -> OverCalibration:
    """The residual quantiles from every row, the recalibration from the rows with a line (pushes left out)."""
    known = np.isfinite(predicted) & np.isfinite(actual)
    z = (actual[known] - predicted[known]) / _scale(predicted[known])
    calibration = OverCalibration(np.quantile(z, QUANTILE_LEVELS) if len(z) else np.linspace(-3, 3, len(QUANTILE_LEVELS)),
                                  rows=int(known.sum()), out_of_sample=out_of_sample)
    lined = known & np.isfinite(line) & (actual != line)
    if lined.sum() < MIN_RECALIBRATION_ROWS:
        return replace(calibration, line_rows=int(lined.sum()))
    from scipy.special import logit
    from sklearn.linear_model import LogisticRegression

    x = logit(calibration.raw(predicted[lined], line[lined])).reshape(-1, 1)
    fit = LogisticRegression(C=1e4).fit(x, actual[lined] > line[lined])
    return replace(calibration, intercept=float(fit.intercept_[0]), slope=float(fit.coef_[0, 0]), line_rows=int(lined.sum()))


@dataclass(frozen=True)
class PointsModel:
    estimator: Blend
    residual_std: float  # of out-of-sample errors (in-sample for the first model): the typical miss
    trained_through: dt.date  # last game date it learned from: later predictions are out of sample
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    feature_version: str = FEATURE_VERSION
    features: tuple[str, ...] = FEATURES
    shrinkage: Shrinkage | None = None
    calibration: OverCalibration | None = None
    trust_games: float = TRUST_GAMES  # the blend's weight is games / (games + trust_games), the shrunk estimate's the rest

    @property
    def version(self) -> str:
        return f"points-{self.feature_version}-through-{self.trained_through:%Y-%m-%d}"

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Points: the blend's and the shrunk season-so-far estimate's, the blend weighing games / (games +
        trust_games): a player's first game is all shrinkage (no tree's guess), a veteran's nearly all blend."""
        versions = set(rows["feature_version"].dropna())
        if versions - {self.feature_version}:
            raise FeatureVersionMismatch(f"model trained on {self.feature_version}, rows are {sorted(versions)}")
        predicted = self.estimator.predict(_matrix(rows, self.features))
        if self.shrinkage is None:
            return predicted
        return combine(predicted, self.shrinkage.estimate(rows), _games(rows), self.trust_games)

    def p_over(self, predicted: np.ndarray, line: np.ndarray) -> np.ndarray:
        if self.calibration is None:
            raise ValueError(f"{self.version} has no calibration")
        return self.calibration.p_over(predicted, line)


def _games(rows: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num(_col(rows, "games_before"), nan=0.0)


def combine(blend: np.ndarray, shrunk: np.ndarray, games: np.ndarray, trust_games: float) -> np.ndarray:
    w = games / (games + trust_games)
    return w * blend + (1 - w) * shrunk


def _matrix(rows: pd.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    return rows[list(features)].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def training_rows(store: pd.DataFrame) -> pd.DataFrame:
    """Rows a model may learn from (`store` with its labels, `features.with_labels`): the player played and his
    points are known. Early-season rows included: the models learn how far a few games can be trusted."""
    return store[store["played"].fillna(False) & store["actual_points"].notna()]


def _train(rows: pd.DataFrame, seed: int) -> PointsModel:
    """Fit on every row given (all labelled history up to the cutoff). Judged and calibrated later, out of sample
    (`train_walk_forward`)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _matrix(rows, FEATURES), rows["actual_points"].astype(float).to_numpy()
    ridge = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler(),
                          Ridge(alpha=100.0)).fit(x, y)
    # small, slow trees: measured on the 2023-24 replay (walk-forward), larger ones fit noise
    trees = HistGradientBoostingRegressor(
        loss="absolute_error", max_iter=300, learning_rate=0.03, max_leaf_nodes=7, min_samples_leaf=160,
        l2_regularization=1.0, random_state=seed,
    ).fit(np.where(np.isnan(x).all(axis=0), 0.0, x), y)  # a feature with no value yet (early cutoffs): constant, unused
    return PointsModel(
        estimator=Blend(ridge, trees, float(np.median(y - ridge.predict(x)))),
        residual_std=float("nan"),
        trained_through=pd.Timestamp(rows["game_date"].max()).date(),
        metrics={"train_rows": len(rows), "train_dates": f"{rows['game_date'].min():%Y-%m-%d}..{rows['game_date'].max():%Y-%m-%d}"},
        shrinkage=fit_shrinkage(rows),
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
        return np.searchsorted(through, to_datetime(game_dates).to_numpy(dtype="datetime64[ns]"), side="left") - 1

    @property
    def metrics(self) -> dict[str, float | int | str]:
        return self.latest.metrics


def train_walk_forward(
    store: pd.DataFrame, *, every_days: int = 14, min_dates: int = 7, seed: int = 0, workers: int | None = None,
) -> WalkForwardModels:
    """One model per cutoff: every `every_days` from the first date with `min_dates` learnable dates before it,
    and one through the last labelled date. Each learns from every labelled row up to its cutoff. The fits run in
    `workers` processes (default: `fit_workers`); then each model is judged and calibrated on the rows its
    predecessors predicted out of sample (`judge_and_calibrate`)."""
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
    models = _fit_all(rows, through, seed, workers)
    return WalkForwardModels(models=judge_and_calibrate(rows, list(dict((m.trained_through, m) for m in models).values())))


def out_of_sample_predictions(rows: pd.DataFrame, models: list[PointsModel]) -> np.ndarray:
    """Per row, the prediction of the latest model trained strictly before its date (NaN before the first)."""
    which = WalkForwardModels(tuple(models)).model_index(rows["game_date"])
    predicted = np.full(len(rows), np.nan)
    for i in np.unique(which[which >= 0]):
        use = which == i
        predicted[use] = models[i].predict(rows[use])
    return predicted


def judge_and_calibrate(rows: pd.DataFrame, models: list[PointsModel]) -> tuple[PointsModel, ...]:
    """Each model's validation rows are those its predecessors predicted out of sample, up to its own cutoff (the
    walk-forward record so far, never a date it held out from itself). On them: how far its blend is trusted
    against the shrunk estimate (`trust_games`, from TRUST_GRID), its MAE against each simple average, and its
    P(OVER) calibration. The first model, with no predecessor, keeps TRUST_GAMES and is calibrated on its own
    training rows, and says so."""
    which = WalkForwardModels(tuple(models)).model_index(rows["game_date"])
    blend, shrunk = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for i in np.unique(which[which >= 0]):  # each row by its predecessor: the blend and the shrunk estimate apart
        use = which == i
        blend[use] = models[i].estimator.predict(_matrix(rows[use], models[i].features))
        shrunk[use] = models[i].shrinkage.estimate(rows[use])
    games = _games(rows)
    actual = rows["actual_points"].astype(float).to_numpy()
    line = _col(rows, "prop_line") if "prop_line" in rows else np.full(len(rows), np.nan)
    baselines = simple_baselines(rows)
    dates = rows["game_date"].to_numpy(dtype="datetime64[ns]")
    predicted = np.full(len(rows), np.nan)
    judged: list[PointsModel] = []
    for k, model in enumerate(models):
        if k:  # what the predecessor, as judged, predicted
            block = which == k - 1
            predicted[block] = combine(blend[block], shrunk[block], games[block], judged[-1].trust_games)
        through = np.datetime64(model.trained_through, "ns")
        valid = np.isfinite(predicted) & (dates <= through)
        if valid.any():
            errors = [np.mean(np.abs(combine(blend[valid], shrunk[valid], games[valid], t) - actual[valid])) for t in TRUST_GRID]
            trust = TRUST_GRID[int(np.argmin(errors))]
            calibration = fit_calibration(predicted[valid], actual[valid], line[valid])
            comparison = compare_with_baselines(predicted[valid], actual[valid], baselines[valid])
            validation_dates = f"{pd.Timestamp(dates[valid].min()):%Y-%m-%d}..{pd.Timestamp(dates[valid].max()):%Y-%m-%d}"
            residual_std = float(np.std(predicted[valid] - actual[valid]))
        else:
            own = dates <= through
            trust, in_sample = TRUST_GAMES, model.predict(rows[own])
            calibration = fit_calibration(in_sample, actual[own], line[own], out_of_sample=False)
            comparison = compare_with_baselines(np.full(0, np.nan), np.full(0, np.nan), baselines.iloc[:0])
            validation_dates, residual_std = "none (first model)", float(np.std(in_sample - actual[own]))
        metrics = {
            **model.metrics, "validation_rows": int(valid.sum()), "validation_dates": validation_dates, **comparison,
            "trust_games": trust, "calibration_rows": calibration.rows, "calibration_line_rows": calibration.line_rows,
            "calibration_out_of_sample": calibration.out_of_sample, "calibration_slope": calibration.slope,
            "calibration_intercept": calibration.intercept,
        }
        judged.append(replace(model, metrics=metrics, calibration=calibration, residual_std=residual_std, trust_games=trust))
    return tuple(judged)


def _fit_upto(last: np.datetime64, seed: int) -> PointsModel:
    return _train(_ROWS[_ROWS["game_date"] <= last], seed)


_ROWS: pd.DataFrame = pd.DataFrame()  # a fitting process's copy of the training rows (set once, by _init_worker)


def _init_worker(rows_file: str) -> None:
    global _ROWS
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime: threadpoolctl limits only loaded libraries)
    from threadpoolctl import threadpool_limits

    # one fit per core: a second OpenMP thread per fit gains nothing at this size, and two processes' threads on
    # two cores spin-wait for each other (measured: 4x the CPU time)
    threadpool_limits(1)
    _ROWS = pd.read_pickle(rows_file)


def fit_workers(rows: pd.DataFrame, through: list, cores: int) -> int:
    """How many processes fit the models through `through`: one per core once the rows the fits learn from, summed,
    reach POOL_MIN_ROWS; the calling process alone below."""
    dates = np.sort(rows["game_date"].to_numpy())
    fitted_rows = int(np.searchsorted(dates, np.asarray(through, dtype=dates.dtype), side="right").sum())
    return cores if fitted_rows >= POOL_MIN_ROWS else 1


def _fit_all(rows: pd.DataFrame, through: list, seed: int, workers: int | None) -> list[PointsModel]:
    """One fit per last date, in `workers` processes (default: one per available core once the fits are large
    enough to pay for starting them, POOL_MIN_ROWS; none below). A fit is deterministic for its rows and seed, so
    the models are the same however many processes fit them."""
    import os

    workers = min(workers or fit_workers(rows, through, len(os.sched_getaffinity(0))), len(through))
    if workers <= 1:
        return [_train(rows[rows["game_date"] <= last], seed) for last in through]
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
                futures = {last: pool.submit(_fit_upto, last, seed) for last in sorted(through, reverse=True)}
                return [futures[last].result() for last in through]
    except concurrent.futures.process.BrokenProcessPool as err:  # not a fit's own error: that one is raised
        # a spawned process re-imports the caller's main module: a script without an `if __name__ == "__main__"`
        # guard cannot start one; fit here instead (same models)
        import warnings

        warnings.warn(f"walk-forward fits run in this process ({err.__class__.__name__}: worker processes could not start)")
        return [_train(rows[rows["game_date"] <= last], seed) for last in through]
