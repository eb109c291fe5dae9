"""Calibration of the booster's scores into probabilities, on a slice the booster never fit on.

Isotonic is more flexible but overfits small slices; sigmoid is safer there, so `auto` picks by
held-out log-loss. The booster is wrapped in `FrozenEstimator` (scikit-learn 1.9 removed
`cv="prefit"`), so calibration never refits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline


def _calibrate(
    model: Pipeline, X: pd.DataFrame, y: np.ndarray, method: str
) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(X, y)


@dataclass
class CalibrationChoice:
    method: str
    heldout_log_loss: dict[str, float]


def choose_and_fit_calibrator(
    model: Pipeline, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, method: str, seed: int
) -> tuple[CalibratedClassifierCV, CalibrationChoice]:
    """Pick isotonic or sigmoid by log-loss on held-out halves of the calibration slice.

    Isotonic is more flexible but overfits small slices; sigmoid is safer there. The halves are
    split by lead so that snapshots of one lead never sit on both sides.
    """
    losses: dict[str, float] = {}
    if method == "auto":
        uniq = np.unique(groups)
        rng = np.random.default_rng(seed)
        half = set(rng.permutation(uniq)[: len(uniq) // 2].tolist())
        a = np.fromiter((g in half for g in groups), bool, len(groups))
        for m in ("isotonic", "sigmoid"):
            total = 0.0
            for tr in (a, ~a):
                if len(np.unique(y[tr])) < 2 or len(np.unique(y[~tr])) < 2:
                    total = np.inf
                    break
                cal = _calibrate(model, X[tr], y[tr], m)
                total += log_loss(y[~tr], cal.predict_proba(X[~tr])[:, 1], labels=[0, 1])
            losses[m] = total / 2
        method = min(losses, key=losses.get)
    return _calibrate(model, X, y, method), CalibrationChoice(method, losses)
