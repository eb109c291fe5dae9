"""The report's charts: percent ticks are distinct on any range, narrow or wide."""

import numpy as np
import pandas as pd
import pytest

from pipeline.report import charts


def _tick_labels(fig, which: str) -> list[list[str]]:
    fig.canvas.draw()
    axes = fig.axes
    out = []
    for ax in axes:
        axis = ax.yaxis if which == "y" else ax.xaxis
        lo, hi = axis.get_view_interval()
        out.append(
            [
                t.get_text()
                for t in axis.get_ticklabels()
                if lo <= t.get_position()[which == "y"] <= hi
            ]
        )
    return out


@pytest.mark.parametrize("low, high", [(0.800, 0.812), (0.5, 0.9), (0.7991, 0.8003), (0.0, 0.02)])
def test_backtest_chart_ticks_are_distinct(low, high):
    bt = pd.DataFrame(
        {
            "period": ["2025-01", "2025-02", "2025-03", "2025-04"],
            "roc_auc": np.linspace(low, high, 4),
            "points_roc_auc": np.linspace(low, high, 4),
            "mean_probability": [0.1, 0.11, 0.1, 0.12],
            "observed_rate": [0.1, 0.1, 0.11, 0.12],
        }
    )
    fig = charts.backtest_months(bt)
    for labels in _tick_labels(fig, "y"):
        assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
        assert all(t.endswith("%") for t in labels), labels
    charts.plt.close(fig)
