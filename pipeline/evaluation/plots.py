"""Figures of the quality report: gain/lift, precision-recall, score distribution, backtests."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# labels are the export's words ("$1M-$5M" is a company size, not math): never mathtext or TeX
matplotlib.rcParams.update({"text.parse_math": False, "text.usetex": False})
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

BLUE, ORANGE, GREY = "#3b6ea8", "#d9822b", "grey"


def gain_lift(y: np.ndarray, p: np.ndarray, points: np.ndarray | None = None) -> Figure:
    """Cumulative gain (share of wins caught when calling the top x% of leads) and lift."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    share = np.arange(1, len(y) + 1) / len(y)
    curves = [("model", p, BLUE)]
    if points is not None:
        curves.append(("points rule", points, ORANGE))
    for name, s, col in curves:
        yy = np.asarray(y)[np.argsort(-np.asarray(s), kind="stable")]
        gain = np.cumsum(yy) / max(yy.sum(), 1)
        a.plot(share, gain, color=col, label=name)
        b.plot(share, gain / share, color=col, label=name)
    a.plot([0, 1], [0, 1], "--", color=GREY, label="random")
    a.set(xlabel="share of leads called (top by score)", ylabel="share of wins caught")
    a.set_title("Cumulative gain (test)")
    b.axhline(1, ls="--", color=GREY)
    b.set(xlabel="share of leads called (top by score)", ylabel="lift", xlim=(0.01, 1))
    b.set_title("Lift (test)")
    a.legend()
    fig.tight_layout()
    return fig


def precision_recall(y: np.ndarray, p: np.ndarray, sql: float, mql: float) -> Figure:
    prec, rec, thr = precision_recall_curve(y, p)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.plot(rec, prec, color=BLUE)
    for name, t, col in (("SQL", sql, "#2e7d32"), ("MQL", mql, ORANGE)):
        i = min(np.searchsorted(thr, t), len(thr) - 1) if len(thr) else 0
        ax.plot(rec[i], prec[i], "o", color=col, label=f"{name} cutoff {t:.3f}")
    ax.axhline(np.mean(y), ls="--", color=GREY, label="base rate")
    ax.set(xlabel="recall (share of wins kept)", ylabel="precision (share that convert)")
    ax.set_title("Precision-recall (test)")
    ax.legend()
    fig.tight_layout()
    return fig


def score_distribution(y: np.ndarray, p: np.ndarray, sql: float, mql: float) -> Figure:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bins = np.linspace(0, max(float(np.max(p)), 1e-3), 41)
    y = np.asarray(y)
    ax.hist(p[y == 0], bins=bins, alpha=0.6, density=True, color=GREY, label="lost")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, density=True, color=BLUE, label="won")
    ax.axvline(mql, color=ORANGE, ls="--", label="MQL cutoff")
    ax.axvline(sql, color="#2e7d32", ls="--", label="SQL cutoff")
    ax.set(xlabel="calibrated probability", ylabel="density")
    ax.set_title("Score distribution by outcome (test)")
    ax.legend()
    fig.tight_layout()
    return fig


def backtest_chart(bt: pd.DataFrame) -> Figure:
    fig, a = plt.subplots(figsize=(7.5, 4))
    x = np.arange(len(bt))
    a.plot(x, bt["roc_auc"], "o-", color=BLUE, label="model ROC AUC")
    if "points_roc_auc" in bt:  # only with points rules (training.backtest)
        a.plot(x, bt["points_roc_auc"], "s--", color=ORANGE, label="points rule ROC AUC")
    a.set_ylabel("ROC AUC")
    a.set_xticks(x, bt["period"], rotation=30)
    b = a.twinx()
    b.bar(x, bt["ece"], alpha=0.25, color=GREY, label="ECE (right)")
    b.set_ylabel("expected calibration error")
    b.set_ylim(0, max(0.1, float(bt["ece"].max()) * 3))
    h1, l1 = a.get_legend_handles_labels()
    h2, l2 = b.get_legend_handles_labels()
    a.legend(h1 + h2, l1 + l2, loc="center left", fontsize="small")
    a.set_title(f"Backtests ({bt.attrs.get('mode', 'monthly')}): train before, test on period")
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
