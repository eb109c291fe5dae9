"""Figures logged with each training run (matplotlib, no display needed)."""

from __future__ import annotations

import os

import matplotlib

if not os.environ.get("MPLBACKEND"):  # headless runs; a notebook keeps its inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def importance_bar(importance: pd.DataFrame, top: int = 20) -> Figure:
    d = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(d) + 1.2))
    ax.barh(d["field"], d["mean_abs_shap"], color="#3b6ea8")
    ax.set_xlabel("mean |SHAP| (log-odds)")
    ax.set_title("What drives the score (by business field)")
    fig.tight_layout()
    return fig


def reliability(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> Figure:
    q = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    idx = np.clip(np.searchsorted(q, p, side="right") - 1, 0, len(q) - 2)
    mp = np.array([p[idx == b].mean() for b in range(len(q) - 1) if (idx == b).any()])
    my = np.array([y[idx == b].mean() for b in range(len(q) - 1) if (idx == b).any()])
    fig, ax = plt.subplots(figsize=(5, 5))
    lim = max(mp.max(), my.max()) * 1.05
    ax.plot([0, lim], [0, lim], "--", color="grey", label="perfect")
    ax.plot(mp, my, "o-", color="#3b6ea8", label="model (test, equal-count bins)")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed conversion")
    ax.set_title("Reliability on the out-of-time test set")
    ax.legend()
    fig.tight_layout()
    return fig


def shap_beeswarm(contrib: np.ndarray, X: pd.DataFrame, max_display: int = 20) -> Figure:
    """SHAP's own beeswarm of per-feature values; categoricals are coloured by their codes."""
    import shap

    data = X.copy()
    for c in data.columns:
        if not pd.api.types.is_numeric_dtype(data[c]):
            data[c] = data[c].astype("category").cat.codes.replace(-1, np.nan)
    exp = shap.Explanation(values=contrib, data=data.to_numpy(float), feature_names=list(X.columns))
    plt.figure(figsize=(8, 7))
    shap.plots.beeswarm(exp, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.tight_layout()
    return fig
