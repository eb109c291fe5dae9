"""The quality tables of one training run: calibration evidence, the funnel and slices.

Each function reads the run's own test predictions and returns its table with the headline numbers
it contributes, so the caller decides what to keep; nothing here fits a model (backtests, which
refit the recipe, live in `pipeline.training.backtest`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.evaluation.funnel import funnel_metrics, funnel_table, slice_metrics
from pipeline.evaluation.metrics import classification_metrics

if TYPE_CHECKING:
    from pipeline.modeling.cutoffs import Cutoffs


def calibration_table(
    y: np.ndarray, raw: np.ndarray, p: np.ndarray, method: str, heldout: dict[str, float]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Booster scores against calibrated probabilities on the test leads, and the evidence behind
    the chosen method (held-out log-loss of each candidate)."""
    metrics = {
        f"calibration_heldout_log_loss_{m}": float(v)
        for m, v in (heldout or {}).items()
        if np.isfinite(v)
    }
    before = classification_metrics(y, raw, "")
    after = classification_metrics(y, p, "")
    table = pd.DataFrame(
        [
            {"probabilities": "booster (uncalibrated)", **before},
            {"probabilities": f"calibrated ({method})", **after},
        ]
    )[["probabilities", "brier", "log_loss", "ece", "roc_auc"]]
    metrics["test_mean_probability"] = float(p.mean())
    metrics["test_observed_rate"] = float(y.mean())
    metrics["test_won"] = float(y.sum())
    metrics["test_lost"] = float((1 - y).sum())
    return table, metrics


def funnel_and_slices(
    cfg: Config, leads: pd.DataFrame, preds: pd.DataFrame, cutoffs: Cutoffs
) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """The funnel the cutoffs make on the test leads (with costs when configured) and per-slice
    metrics of the configured slice columns."""
    y, p = preds["label"].to_numpy(), preds["probability"].to_numpy()
    ids = preds["lead_id"].to_numpy()
    channel = None
    if cfg.costs is not None and cfg.costs.channel_column in leads.columns:
        channel = leads[cfg.costs.channel_column].reindex(ids)
    tables = {"funnel": funnel_table(y, p, cutoffs, channel, cfg.costs)}
    metrics = funnel_metrics(tables["funnel"])
    cols = [c for c in cfg.training.slice_columns if c in leads.columns]
    if cols:
        tables["slices"] = slice_metrics(y, p, {c: leads[c].reindex(ids) for c in cols})
    return tables, metrics


def backtest_metrics(bt: pd.DataFrame) -> dict[str, float]:
    """Headline numbers of a backtest table: how the recipe held up period after period."""
    if not len(bt):
        return {}
    return {
        "backtest_periods": float(len(bt)),
        "backtest_roc_auc_mean": float(bt["roc_auc"].mean()),
        "backtest_roc_auc_min": float(bt["roc_auc"].min()),
        "backtest_ece_mean": float(bt["ece"].mean()),
        "backtest_ece_max": float(bt["ece"].max()),
    }
