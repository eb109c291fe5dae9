"""Metrics, baselines and the out-of-time split.

Every number is computed on one row per test lead (its last snapshot before the outcome), so a lead
with many snapshots does not count more than one with few.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


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
