"""Calibration of the booster's scores into probabilities, on a slice the booster never fit on.

Isotonic is more flexible but overfits small slices; sigmoid is safer there, so `auto` picks by
held-out log-loss. The booster is wrapped in `FrozenEstimator` (scikit-learn 1.9 removed
`cv="prefit"`), so calibration never refits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted


def _calibrate(
    model: Pipeline | FrozenEstimator, X: pd.DataFrame, y: np.ndarray, method: str
) -> CalibratedClassifierCV:
    frozen = model if isinstance(model, FrozenEstimator) else FrozenEstimator(model)
    return CalibratedClassifierCV(frozen, method=method).fit(X, y)


@dataclass
class CalibrationChoice:
    method: str
    heldout_log_loss: dict[str, float]


def choose_and_fit_calibrator(
    model: Pipeline, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, method: str, seed: int
) -> tuple[CalibratedClassifierCV, CalibrationChoice]:
    """Pick isotonic or sigmoid by log-loss on held-out halves of the calibration slice.

    Isotonic is more flexible but overfits small slices; sigmoid is safer there. The halves are
    split by lead so that snapshots of one lead never sit on both sides. The booster scores the
    slice once: the four trial calibrators are fit on those scores (a calibrator only ever sees
    the booster's scores, so they are the same calibrators), and only the chosen one is fit on
    the model itself, which is what travels in the artifact.
    """
    choice = CalibrationChoice(method, {})
    if method == "auto":
        choice = choose_method(booster_scores(model, X), y, groups, seed)
    return _calibrate(model, X, y, choice.method), choice


def booster_scores(model: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """The booster's decision function (log-odds): all a calibrator ever reads of the model."""
    return np.asarray(model.decision_function(X), float)


def choose_method(
    scores: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int
) -> CalibrationChoice:
    """Isotonic or sigmoid, by mean held-out log-loss over two halves of the leads."""
    codes, _ = pd.factorize(pd.Series(groups), sort=True)  # sorted, as np.unique was
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    rng = np.random.default_rng(seed)
    half = np.zeros(n_groups, bool)
    half[rng.permutation(np.arange(n_groups))[: n_groups // 2]] = True
    a = half[codes]
    losses: dict[str, float] = {}
    for m in ("isotonic", "sigmoid"):
        total = 0.0
        for tr in (a, ~a):
            if len(np.unique(y[tr])) < 2 or len(np.unique(y[~tr])) < 2:
                total = np.inf
                break
            cal = ScoreCalibrator(m).fit(scores[tr], y[tr])
            total += log_loss(y[~tr], cal.predict_proba(scores[~tr])[:, 1], labels=[0, 1])
        losses[m] = total / 2
    return CalibrationChoice(min(losses, key=losses.get), losses)


class ScoreCalibrator(BaseEstimator):
    """A calibrator fit on booster scores instead of the booster: the same calibration as
    `choose_and_fit_calibrator` gives, for a model that never travels (trial calibrators and
    backtests), so the booster scores each row once.

    `method` ("isotonic" or "sigmoid") is the only parameter; `fit(scores, y)` learns `cal_` (the
    fitted `CalibratedClassifierCV` over the scores) and `classes_`."""

    def __init__(self, method: str = "isotonic"):
        self.method = method

    def fit(self, scores: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
        echo = FrozenEstimator(_EchoScores().fit(np.zeros((2, 1)), np.array([0, 1])))
        self.cal_ = _calibrate(echo, _column(scores), y, self.method)
        self.classes_ = self.cal_.classes_
        return self

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.cal_.predict_proba(_column(scores))


def _column(scores: np.ndarray) -> np.ndarray:
    return np.asarray(scores, float).reshape(-1, 1)


def calibrated_probabilities(
    model: Pipeline,
    X_cal: pd.DataFrame,
    y_cal: np.ndarray,
    groups: np.ndarray,
    method: str,
    seed: int,
    X_new: pd.DataFrame,
) -> tuple[np.ndarray, CalibrationChoice]:
    """Probabilities of `X_new` from `model` calibrated on (`X_cal`, `y_cal`), as a calibrator from
    `choose_and_fit_calibrator` would give them, scoring each row once (backtests)."""
    s_cal = booster_scores(model, X_cal)
    choice = CalibrationChoice(method, {})
    if method == "auto":
        choice = choose_method(s_cal, y_cal, groups, seed)
    cal = ScoreCalibrator(choice.method).fit(s_cal, y_cal)
    return cal.predict_proba(booster_scores(model, X_new))[:, 1], choice


class _EchoScores(ClassifierMixin, BaseEstimator):
    """Stands in for the booster once its scores are known: `decision_function` returns column 0
    of X, the booster's own decision function of those rows."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _EchoScores:
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)[:, 0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
