"""One encoding of a chunk for both the probability and the SHAP walk of the booster.

Why: the calibrator's own path (`CalibratedClassifierCV` over encoder + LightGBM) encodes the
categories and converts the frame for LightGBM, then the SHAP walk encoded and converted the same
frame again: about a tenth of scoring a million leads. Here the chunk is encoded once into the
float matrix LightGBM itself predicts on (category codes, missing -> NaN, numbers as float64), the
booster's raw score (the pipeline's `decision_function`) is read from that matrix, and the fitted
calibrators are applied to it through scikit-learn's own `predict_proba` code, so the probabilities
are the calibrator's to the last bit (tests check equality).
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from pipeline.explain import fastshap
from pipeline.modeling.calibration import _EchoScores

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class Encoded:
    """A chunk as LightGBM reads it, and the booster's raw log-odds of each row."""

    matrix: np.ndarray  # (n, features) float64
    raw: np.ndarray  # (n,) the booster's decision function
    contributions: np.ndarray | None = None  # (n, features + 1) SHAP values, when asked for


def matrix(booster: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """`X` as LightGBM reads it: the encoder's categories as codes (missing -> NaN), numbers."""
    return booster.named_steps["encode"].matrix(X)


def encode(booster: Pipeline, X: pd.DataFrame, explain: bool = False) -> Encoded:
    """Encode `X` once and score it with the booster (its raw log-odds); with `explain`, also its
    SHAP values. The SHAP table walk reaches every tree's leaf anyway, so it returns the raw score
    too (LightGBM's to the last bit) and LightGBM does not walk the rows a second time."""
    m = matrix(booster, X)
    lgbm = booster.named_steps["lgbm"].booster_
    fast = fastshap.for_booster(lgbm) if explain else None
    if fast is not None:
        c, raw = fast.contributions_and_raw(m)
        return Encoded(m, raw, c)
    raw = lgbm.predict(m, raw_score=True) if len(m) else np.zeros(0)
    c = contributions(booster, m) if explain else None
    return Encoded(m, np.asarray(raw, dtype=np.float64), c)


def calibrated(calibrator: CalibratedClassifierCV, raw: np.ndarray) -> np.ndarray:
    """`calibrator.predict_proba` of the rows whose booster decision function is `raw`."""
    return _on_scores(calibrator).predict_proba(np.asarray(raw, float).reshape(-1, 1))


def _on_scores(calibrator: CalibratedClassifierCV) -> CalibratedClassifierCV:
    """A copy of the fitted calibrator whose calibrated classifiers read the booster's scores
    instead of calling the booster: the same calibrators, the same classes, the same code."""
    hit = _CACHE.get(calibrator)
    if hit is not None:
        return hit
    shadow = copy.copy(calibrator)
    parts = []
    for cc in calibrator.calibrated_classifiers_:
        part = copy.copy(cc)
        echo = _EchoScores().fit(np.zeros((2, 1)), np.asarray(cc.estimator.classes_))
        part.estimator = FrozenEstimator(echo)
        parts.append(part)
    shadow.calibrated_classifiers_ = parts
    _CACHE[calibrator] = shadow
    return shadow


def contributions(booster: Pipeline, m: np.ndarray) -> np.ndarray:
    """SHAP values of the rows of matrix `m` (last column: the base value): the compiled table
    walk, or LightGBM's `pred_contrib` where the trees are too deep for tables."""
    lgbm = booster.named_steps["lgbm"].booster_
    fast = fastshap.for_booster(lgbm)  # same values as pred_contrib, ~5x faster
    if fast is not None:
        return fast.contributions(m)
    return lgbm.predict(m, pred_contrib=True)
