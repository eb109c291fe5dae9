"""The hand-made points rule a model must beat, and the rank scaling that lets AUC read it. The
logistic baseline is the logistic candidate itself (`pipeline.modeling.candidates`)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def points_score(X: pd.DataFrame, points: dict[str, float]) -> np.ndarray:
    """The hand-made rule: points per activity of each type, summed over the lead's life."""
    s = np.zeros(len(X))
    for t, pts in points.items():
        col = f"{t}_count"
        if col in X.columns:
            s += pts * X[col].fillna(0).to_numpy()
    return s


def rank01(s: np.ndarray) -> np.ndarray:
    """Points are not probabilities; rank-scale them into (0, 1) so AUC can read them."""
    return (pd.Series(s).rank(method="average").to_numpy() - 0.5) / max(len(s), 1)
