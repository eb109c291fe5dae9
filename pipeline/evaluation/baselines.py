"""The baselines a model must beat: the hand-made points rule it replaces and a logistic regression
on the same features ("is the booster worth it")."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipeline.linear.logistic import fit_logistic


def points_score(X: pd.DataFrame, points: dict[str, float]) -> np.ndarray:
    """The hand-made rule: points per activity of each type, summed over the lead's life."""
    s = np.zeros(len(X))
    for t, pts in points.items():
        col = f"{t}_count"
        if col in X.columns:
            s += pts * X[col].fillna(0).to_numpy()
    return s


def fit_logreg(X: pd.DataFrame, y: np.ndarray, categorical: list[str], seed: int) -> Pipeline:
    """A plain logistic regression on the same features: the 'is the booster worth it' baseline
    (the same model as the logistic candidate, `pipeline.linear`)."""
    return fit_logistic(X, y, categorical, seed)


def logreg_predict(model: Pipeline, X: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


def rank01(s: np.ndarray) -> np.ndarray:
    """Points are not probabilities; rank-scale them into (0, 1) so AUC can read them."""
    return (pd.Series(s).rank(method="average").to_numpy() - 0.5) / max(len(s), 1)
