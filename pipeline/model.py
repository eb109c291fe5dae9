"""Preprocessing, the LightGBM booster and its calibration.

The booster is fit on the oldest leads with early stopping on a later slice; probabilities are then
calibrated on that later slice, which the booster never fit on. No class re-weighting: the
probabilities must stay honest, and ranking does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline

from pipeline.config import LightGBMParams

OTHER = "__other__"


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """Categorical columns -> pandas categories fixed at fit time.

    Rare and unseen values become one `__other__` level, so a new industry at scoring time
    neither crashes nor silently shifts the codes of the known ones.
    """

    def __init__(self, columns: list[str] | None = None, min_count: int = 20):
        self.columns = columns
        self.min_count = min_count

    def fit(self, X: pd.DataFrame, y: object = None) -> CategoryEncoder:
        self.categories_ = {}
        for c in self.columns or []:
            vc = X[c].astype("string").value_counts()
            keep = sorted(vc.index[vc >= self.min_count].tolist())
            self.categories_[c] = [*keep, OTHER]
        self.feature_names_in_ = np.array(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for c, cats in self.categories_.items():
            s = X[c].astype("string")
            s = s.where(s.isna() | s.isin(cats[:-1]), OTHER)
            X[c] = pd.Categorical(s.astype(object).where(s.notna(), None), categories=cats)
        num = [c for c in X.columns if c not in self.categories_]
        X[num] = X[num].astype(float)
        return X

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def fit_booster(
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    categorical: list[str],
    params: LightGBMParams,
    seed: int,
    min_category_count: int = 20,
) -> Pipeline:
    """Encoder + LightGBM, early-stopped on the validation slice."""
    enc = CategoryEncoder(categorical, min_category_count).fit(X_fit)
    clf = lgb.LGBMClassifier(
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        num_leaves=params.num_leaves,
        max_depth=params.max_depth,
        min_child_samples=params.min_child_samples,
        subsample=params.subsample,
        subsample_freq=1,
        colsample_bytree=params.colsample_bytree,
        reg_lambda=params.reg_lambda,
        **_imbalance(params),
        random_state=seed,
        n_jobs=2,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    clf.fit(
        enc.transform(X_fit),
        y_fit,
        eval_X=(enc.transform(X_val),),
        eval_y=(y_val,),
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    return Pipeline([("encode", enc), ("lgbm", clf)])


def _imbalance(params: LightGBMParams) -> dict:
    """Class re-weighting if the user asks for it; it skews raw scores, calibration undoes that."""
    if params.is_unbalance:
        return {"is_unbalance": True}
    if params.scale_pos_weight != 1.0:
        return {"scale_pos_weight": params.scale_pos_weight}
    return {}


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
