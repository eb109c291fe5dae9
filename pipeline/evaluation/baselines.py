"""The baselines a model must beat: the hand-made points rule it replaces and a logistic regression
on the same features ("is the booster worth it")."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def points_score(X: pd.DataFrame, points: dict[str, float]) -> np.ndarray:
    """The hand-made rule: points per activity of each type, summed over the lead's life."""
    s = np.zeros(len(X))
    for t, pts in points.items():
        col = f"{t}_count"
        if col in X.columns:
            s += pts * X[col].fillna(0).to_numpy()
    return s


def fit_logreg(X: pd.DataFrame, y: np.ndarray, categorical: list[str], seed: int) -> Pipeline:
    """A plain logistic regression on the same features: the 'is the booster worth it' baseline."""
    num = [c for c in X.columns if c not in categorical]
    prep = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                    StandardScaler(),
                ),
                num,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
                ),
                categorical,
            ),
        ]
    )
    Xc = X.copy()
    Xc[num] = Xc[num].clip(lower=0)
    for c in categorical:
        Xc[c] = Xc[c].astype(object).where(Xc[c].notna(), "missing").astype(str)
    model = Pipeline(
        [("prep", prep), ("lr", LogisticRegression(C=0.5, max_iter=2000, random_state=seed))]
    )
    return model.fit(Xc, y)


def logreg_predict(model: Pipeline, X: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    Xc = X.copy()
    num = [c for c in X.columns if c not in categorical]
    Xc[num] = Xc[num].clip(lower=0)
    for c in categorical:
        Xc[c] = Xc[c].astype(object).where(Xc[c].notna(), "missing").astype(str)
    return model.predict_proba(Xc)[:, 1]


def rank01(s: np.ndarray) -> np.ndarray:
    """Points are not probabilities; rank-scale them into (0, 1) so AUC can read them."""
    return (pd.Series(s).rank(method="average").to_numpy() - 0.5) / max(len(s), 1)
