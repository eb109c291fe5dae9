"""The quick-model AUCs the leakage rules judge by: one column alone, and a small LightGBM.

A probe, not the pipeline's recipe: 40 trees and 3 folds are enough to compare columns with each
other, so it needs nothing from pipeline.modeling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.config import Config

# small and fast: enough to compare columns with each other, not to score leads
QUICK_MODEL = {
    "n_estimators": 40,
    "learning_rate": 0.15,
    "num_leaves": 15,
    "min_child_samples": 20,
    "max_bin": 63,
    "n_jobs": 1,
    "verbose": -1,
}


def single_column_auc(s: pd.Series, y: np.ndarray, categorical: bool, seed: int = 0) -> float:
    """How well one column alone ranks won above lost (0.5 = not at all, 1 = perfectly).

    Categories are target-encoded out of fold, so a column with a fresh value per lead (an id)
    does not look predictive just because every value has one outcome.
    """
    if categorical:
        key = s.astype("string").fillna("__missing__").to_numpy(dtype=object)
        fold = np.random.default_rng(seed).integers(0, 2, len(s))
        enc = np.full(len(s), y.mean())
        prior = y.mean()
        for k in (0, 1):
            tr = pd.DataFrame({"k": key[fold != k], "y": y[fold != k]}).groupby("k")["y"]
            stats = tr.agg(["sum", "count"])
            rate = (stats["sum"] + prior * 5) / (stats["count"] + 5)
            enc[fold == k] = pd.Series(key[fold == k]).map(rate).fillna(prior).to_numpy()
        x = enc
    else:
        x = s.astype(float).to_numpy()
        x = np.where(np.isnan(x), np.nanmin(x) - 1 if np.isfinite(np.nanmin(x)) else 0, x)
    if len(np.unique(x)) < 2:
        return 0.5
    auc = float(roc_auc_score(y, x))
    return max(auc, 1 - auc)


def quick_frame(lab: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The feature columns as LightGBM takes them: categories, else floats."""
    X = pd.DataFrame(index=lab.index)
    for c in cfg.schema.feature_columns():
        if c in cfg.schema.categorical:
            X[c] = lab[c].astype("string").astype("category")
        else:
            X[c] = pd.to_numeric(lab[c], errors="coerce").astype(float)
    return X


def quick_cv_auc(X: pd.DataFrame, y: np.ndarray, seed: int) -> float:
    """Out-of-fold AUC of a small LightGBM (40 trees, 3 folds): cheap, and enough to compare."""
    import lightgbm as lgb
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(y))
    # LightGBM refuses JSON-special characters in names; a throwaway model needs none
    X = X.set_axis([f"f{i}" for i in range(X.shape[1])], axis=1)
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    for tr, te in folds.split(X, y):
        m = lgb.LGBMClassifier(**QUICK_MODEL, random_state=seed)
        m.fit(X.iloc[tr], y[tr])
        p[te] = m.predict_proba(X.iloc[te])[:, 1]
    return float(roc_auc_score(y, p))
