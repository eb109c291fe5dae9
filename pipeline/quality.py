"""The quality report of one training run: calibration evidence, funnel, slices and backtests.

Kept out of `train.py` so the training core stays a short list of steps; everything here reads the
run's own test predictions and the snapshot features it already built (nothing is refit except the
backtest models, which never touch the final model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.backtest import run_backtests
from pipeline.config import Config
from pipeline.evaluate import classification_metrics
from pipeline.funnel import funnel_metrics, funnel_table, slice_metrics


def quality_report(
    cfg: Config,
    leads: pd.DataFrame,
    scorer: object,
    choice: object,
    preds: pd.DataFrame,
    X: pd.DataFrame,
    y: np.ndarray,
    snaps: pd.DataFrame,
    last: np.ndarray,
    metrics: dict[str, float],
) -> dict[str, pd.DataFrame]:
    """Tables for MLflow and the model card; adds their headline numbers to `metrics`."""
    yt = preds["label"].to_numpy()
    pt = preds["probability"].to_numpy()
    ids = preds["lead_id"].to_numpy()
    tables: dict[str, pd.DataFrame] = {}

    # calibration: which method, on what evidence, and what it did on the test slice
    losses = dict(getattr(choice, "heldout_log_loss", {}) or {})
    for m, v in losses.items():
        if np.isfinite(v):
            metrics[f"calibration_heldout_log_loss_{m}"] = float(v)
    raw = scorer.booster.predict_proba(
        X.loc[snaps.index[last & (snaps["split"] == "test").to_numpy()]]
    )[:, 1]
    before = classification_metrics(yt, raw, "")
    after = classification_metrics(yt, pt, "")
    tables["calibration"] = pd.DataFrame(
        [
            {"probabilities": "booster (uncalibrated)", **before},
            {"probabilities": f"calibrated ({scorer.calibration_method})", **after},
        ]
    )[["probabilities", "brier", "log_loss", "ece", "roc_auc"]]
    metrics["test_mean_probability"] = float(pt.mean())
    metrics["test_observed_rate"] = float(yt.mean())
    metrics["test_won"] = float(yt.sum())
    metrics["test_lost"] = float((1 - yt).sum())

    channel = None
    if cfg.costs is not None and cfg.costs.channel_column in leads.columns:
        channel = leads[cfg.costs.channel_column].reindex(ids)
    f = funnel_table(yt, pt, scorer.cutoffs, channel, cfg.costs)
    tables["funnel"] = f
    metrics.update(funnel_metrics(f))

    cols = [c for c in cfg.training.slice_columns if c in leads.columns]
    if cols:
        tables["slices"] = slice_metrics(yt, pt, {c: leads[c].reindex(ids) for c in cols})

    bt, mode = run_backtests(
        cfg, leads, X, y, snaps, last, scorer.builder.categorical, getattr(choice, "method", None)
    )
    if len(bt):
        bt.attrs["mode"] = mode
        tables["backtest"] = bt
        metrics["backtest_periods"] = float(len(bt))
        metrics["backtest_roc_auc_mean"] = float(bt["roc_auc"].mean())
        metrics["backtest_roc_auc_min"] = float(bt["roc_auc"].min())
        metrics["backtest_ece_mean"] = float(bt["ece"].mean())
        metrics["backtest_ece_max"] = float(bt["ece"].max())
    return tables
