"""Metrics, baselines and the out-of-time split.

Every number is computed on one row per test lead (its last snapshot before the outcome), so a lead
with many snapshots does not count more than one with few.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE with equal-width bins: the weighted mean |observed rate - mean probability|."""
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.sum() * abs(y[m].mean() - p[m].mean())
    return float(total / len(y))


def lift_at(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """Conversion rate of the top `share` of leads by score over the overall rate."""
    k = max(1, int(round(share * len(y))))
    top = np.argsort(-p, kind="stable")[:k]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def classification_metrics(y: np.ndarray, p: np.ndarray, prefix: str = "test_") -> dict[str, float]:
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    two = len(np.unique(y)) == 2
    return {
        f"{prefix}roc_auc": float(roc_auc_score(y, p)) if two else float("nan"),
        f"{prefix}pr_auc": float(average_precision_score(y, p)) if two else float("nan"),
        f"{prefix}brier": float(brier_score_loss(y, p)),
        f"{prefix}log_loss": float(log_loss(y, p, labels=[0, 1])),
        f"{prefix}ece": expected_calibration_error(y, p),
        f"{prefix}lift_at_10": lift_at(y, p, 0.1),
    }


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


def time_split(
    leads: pd.DataFrame,
    val_share: float,
    test_share: float,
    seed: int,
    test_start: str | None = None,
) -> tuple[pd.Series, bool]:
    """'fit' / 'val' / 'test' per labelled lead: by creation time when known, else stratified random.

    With `test_start` (and dates) the test slice is every lead created on or after that date, and
    `val_share` is taken from what is left. Returns the assignment and whether it was time-based.
    """
    lab = leads[leads["_label"].notna()]
    n = len(lab)
    created = lab["_created_at"]
    if created.notna().all() and n > 0:
        order = np.argsort(created.to_numpy(), kind="stable")
        by_time = True
    else:
        rng = np.random.default_rng(seed)
        y = lab["_label"].to_numpy()
        order = np.empty(0, int)
        parts = [rng.permutation(np.flatnonzero(y == v)) for v in (0, 1)]
        # interleave classes by rank so every slice keeps the class balance
        keys = np.concatenate([np.arange(len(p)) / max(len(p), 1) for p in parts])
        idx = np.concatenate(parts)
        order = idx[np.argsort(keys, kind="stable")]
        by_time = False
    split = np.empty(n, dtype=object)
    n_test = int(round(test_share * n))
    if test_start is not None and by_time:
        n_test = int((created >= pd.Timestamp(test_start)).sum())
    n_val = int(round(val_share * n))
    split[order[: n - n_test - n_val]] = "fit"
    split[order[n - n_test - n_val : n - n_test]] = "val"
    split[order[n - n_test :]] = "test"
    return pd.Series(split, index=lab.index, name="split"), by_time
