"""The report's figures as PNG data URIs, so a page carries its images and loads nothing."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# labels are the export's words ("$1M-$5M" is a company size, not math): never mathtext or TeX
matplotlib.rcParams.update({"text.parse_math": False, "text.usetex": False})
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pipeline.evaluation.plots import BLUE, GREY, ORANGE  # noqa: E402

GREEN = "#2e7d32"


class DistinctPercent(matplotlib.ticker.Formatter):
    """Percent ticks with the fewest decimals that keep the drawn ticks distinct: an AUC axis
    from 80% to 81% reads 80.0%, 80.2%, ..., never "80%, 80%, 80%, 81%". Decided when the axis
    is drawn (`set_locs` gives the ticks), so a later resize or limit change is taken into
    account."""

    decimals = 0

    def set_locs(self, locs: list[float]) -> None:
        super().set_locs(locs)
        ticks = [float(t) for t in locs if np.isfinite(t)]
        for d in range(5):
            self.decimals = d
            if len({self(t) for t in ticks}) == len(ticks):
                break

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{100 * x:.{self.decimals}f}%"


def percent_axis(axis: matplotlib.axis.Axis) -> None:
    """Percent ticks, distinct whatever the range (see DistinctPercent)."""
    axis.set_major_formatter(DistinctPercent())


def data_uri(fig: Figure, dpi: int = 96) -> str:
    """A figure as `data:image/png;base64,...`; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def gain_with_cutoffs(
    y: np.ndarray, p: np.ndarray, sql: float, mql: float, points: np.ndarray | None = None
) -> Figure:
    """Share of wins caught against share of leads called, best first, with the SQL and MQL
    cutoffs marked where they fall on the model's curve."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    fig, ax = plt.subplots(figsize=(7, 4.6))
    share = np.arange(1, len(y) + 1) / len(y)
    curves = [("model", p, BLUE)] + (
        [("points rule", points, ORANGE)] if points is not None else []
    )
    for name, s, col in curves:
        yy = y[np.argsort(-np.asarray(s, float), kind="stable")]
        ax.plot(share, np.cumsum(yy) / max(yy.sum(), 1), color=col, label=name)
    ax.plot([0, 1], [0, 1], "--", color=GREY, label="random order")
    won = max(int(y.sum()), 1)
    for name, cut, col in (("SQL", sql, GREEN), ("MQL or better", mql, "#8e44ad")):
        x, g = float((p >= cut).mean()), float(y[p >= cut].sum() / won)
        ax.plot([x], [g], "o", color=col, ms=9, zorder=5)
        ax.annotate(
            f"{name}: top {x:.0%} of leads,\n{g:.0%} of wins",
            (x, g),
            xytext=(12, -28),
            textcoords="offset points",
            color=col,
            fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": col, "alpha": 0.9},
        )
    ax.set(xlabel="share of leads called, highest probability first", ylabel="share of wins")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    percent_axis(ax.xaxis)
    percent_axis(ax.yaxis)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def calibration_chart(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> Figure:
    """Promised against realised conversion in ten equal-size groups of test leads."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, n_bins) if len(g)]
    promised = np.array([p[g].mean() for g in groups])
    realised = np.array([y[g].mean() for g in groups])
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    lim = max(float(promised.max()), float(realised.max()), 0.05) * 1.08
    ax.plot([0, lim], [0, lim], "--", color=GREY, label="promise kept")
    ax.plot(promised, realised, "o-", color=BLUE, label="test leads, 10 equal groups")
    ax.set(xlabel="predicted conversion", ylabel="actual conversion", xlim=(0, lim), ylim=(0, lim))
    percent_axis(ax.xaxis)
    percent_axis(ax.yaxis)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def backtest_months(bt: pd.DataFrame, points_rule: bool = True) -> Figure:
    """Each backtest month (or fold): ranking quality of the model and, when points rules are
    configured, the points rule (left), promised against actual conversion (right), in percent."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    x = np.arange(len(bt))
    a.plot(x, bt["roc_auc"], "o-", color=BLUE, label="model")
    if points_rule and "points_roc_auc" in bt:
        a.plot(x, bt["points_roc_auc"], "s--", color=ORANGE, label="points rule")
    a.set_title("Ranking quality", fontsize=10)
    b.plot(x, bt["mean_probability"], "o-", color=BLUE, label="promised")
    b.plot(x, bt["observed_rate"], "s-", color=GREEN, label="actual")
    b.set_title("Conversion", fontsize=10)
    b.set_ylim(0, max(float(bt[["mean_probability", "observed_rate"]].max().max()) * 1.3, 0.05))
    for ax in (a, b):
        ax.set_xticks(x, bt["period"], rotation=30, fontsize=8)
        percent_axis(ax.yaxis)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
