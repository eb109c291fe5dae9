"""Rolling forward-chaining backtests: would this recipe have held up month after month?

One out-of-time test slice is a single draw; sales trust a score that held up on each of the last
months. For each of the last N creation months: fit on the leads whose outcome was known before the
month began, early-stop and calibrate on the most recent of those, test on the month's leads (one
row each, their last snapshot). The snapshot features built for the main run are reused: a
feature row only sees events before its as-of time, so it does not depend on the split.
Without creation dates there is no time to roll forward; stratified folds by lead stand in and
the table says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from pipeline.config import Config, LightGBMParams
from pipeline.evaluation.baselines import points_score
from pipeline.evaluation.metrics import classification_metrics
from pipeline.features.builder import index_positions
from pipeline.modeling.booster import fit_booster
from pipeline.modeling.calibration import calibrated_probabilities
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import TrainingRows

log = logging.getLogger(__name__)
MIN_TEST_LEADS = 50
# Backtests repeat the recipe N times; at 100k leads they cost more than the main fit. Past this
# many fitting snapshots, a seeded sample of leads fits (a month's test leads are never sampled).
MAX_FIT_ROWS = 100_000


@dataclass(frozen=True)
class Refit:
    """How each period refits the recipe: on at most `max_fit_rows` snapshots (whole leads, seeded),
    early-stopped and calibrated on the period's most recent leads.

    Exact (below `training.scale.min_snapshots`): size-aware parameters for the period's own fit
    rows, every recent lead. At scale: fewer fit rows (`training.scale.backtest_fit_rows`), and
    as many recent ones at most; the main fit's parameters, chosen for the whole fit slice, whose
    faster learning rate stops in about half the trees on the smaller sample.
    """

    max_fit_rows: int = MAX_FIT_ROWS
    params: LightGBMParams | None = None
    max_val_rows: int | None = None  # None: every recent lead early-stops and calibrates


def refit_plan(cfg: Config, rows: TrainingRows) -> Refit:
    """The exact refit, or at scale fewer fit rows and the main fit's parameters."""
    sc = cfg.training.scale
    if not rows.at_scale:
        return Refit()
    params = size_aware(cfg.training.lightgbm, rows.size_rows) if sc.backtest_main_params else None
    return Refit(sc.backtest_fit_rows, params, max_val_rows=sc.backtest_fit_rows)


def _fit_and_test(
    cfg: Config,
    X: pd.DataFrame,
    y: np.ndarray,
    lead_ids: np.ndarray,
    codes: np.ndarray,
    fit_m: np.ndarray,
    val_m: np.ndarray,
    test_m: np.ndarray,
    categorical: list[str],
    method: str = "auto",
    refit: Refit = Refit(),
) -> dict[str, float] | None:
    tc = cfg.training
    fit_m = _cap_rows(fit_m, codes, refit.max_fit_rows, tc.seed)
    if refit.max_val_rows is not None:
        val_m = _cap_rows(val_m, codes, refit.max_val_rows, tc.seed)
    for m in (fit_m, val_m, test_m):
        if m.sum() == 0 or len(np.unique(y[m])) < 2:
            return None
    params = refit.params or size_aware(tc.lightgbm, int(fit_m.sum()))
    booster = fit_booster(
        X[fit_m], y[fit_m], X[val_m], y[val_m], categorical, params, tc.seed, tc.min_category_count
    )
    p, choice = calibrated_probabilities(
        booster, X[val_m], y[val_m], lead_ids[val_m], method, tc.seed, X[test_m]
    )
    m = classification_metrics(y[test_m], p, "")
    pts = points_score(X[test_m], cfg.baseline_points)
    return {
        "test_leads": int(test_m.sum()),
        "won": int(y[test_m].sum()),
        "fit_rows": int(fit_m.sum()),
        "roc_auc": m["roc_auc"],
        "ece": m["ece"],
        "brier": m["brier"],
        "log_loss": m["log_loss"],
        "mean_probability": float(p.mean()),
        "observed_rate": float(y[test_m].mean()),
        "points_roc_auc": float(roc_auc_score(y[test_m], pts)),
        "calibration": choice.method,
    }


def run_backtests(
    cfg: Config, leads: pd.DataFrame, rows: TrainingRows, method: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Backtest table (one row per month or fold) and the mode: 'monthly', 'stratified_folds'.

    `method` is the calibration the main run chose; reusing it spares a held-out choice per month.
    The main run's snapshot features are reused as they are; `refit_plan` says how each period
    refits (exact, or the shortcuts of `training.scale` on large data).
    """
    X, y, snaps, last, categorical = rows.X, rows.y, rows.snaps, rows.last, rows.builder.categorical
    refit = refit_plan(cfg, rows)
    method = method or cfg.training.calibration
    n = cfg.training.backtest_months
    if n <= 0:
        return pd.DataFrame(), "off"
    ids = snaps["lead_id"].to_numpy()
    codes, _ = pd.factorize(ids)  # whole leads are sampled: hash the ids once
    pos = index_positions(leads.index, snaps["lead_id"])
    created = leads["_created_at"].to_numpy(dtype="datetime64[ns]")[pos]
    closed = leads["_closed_at"].to_numpy(dtype="datetime64[ns]")[pos]
    rows = []
    if not np.isnat(created).any():
        month = created.astype("datetime64[M]")
        lead_created = np.empty(codes.max() + 1, "datetime64[ns]")
        lead_created[codes] = created
        for mo in np.unique(month[last])[-n:]:
            start = mo.astype("datetime64[ns]")
            known = np.isnat(closed) | (closed < start)
            before = (created < start) & known
            test_m = (month == mo) & last
            if test_m.sum() < MIN_TEST_LEADS or before.sum() == 0:
                continue
            # the most recent val_share of the training leads: early stopping + calibration
            firsts = pd.Series(lead_created[np.unique(codes[before])])
            cut = firsts.quantile(1 - cfg.training.val_share)
            val_m = before & (created >= cut.to_datetime64())
            fit_m = before & ~val_m
            r = _fit_and_test(
                cfg, X, y, ids, codes, fit_m, val_m, test_m, categorical, method, refit
            )
            if r is not None:
                rows.append({"period": str(mo), **r})
        return pd.DataFrame(rows), "monthly"
    log.warning("no creation dates: backtests use stratified folds by lead, not months")
    uniq = pd.Series(y, index=ids).groupby(level=0).first()
    rng = np.random.default_rng(cfg.training.seed)
    k = min(max(n, 2), 5)
    skf = StratifiedKFold(k, shuffle=True, random_state=cfg.training.seed)
    for i, (tr, te) in enumerate(skf.split(uniq.index, uniq.to_numpy())):
        tr_ids = uniq.index[tr]
        val_ids = set(rng.permutation(tr_ids)[: int(len(tr_ids) * cfg.training.val_share)])
        in_val = np.fromiter((i_ in val_ids for i_ in ids), bool, len(ids))
        in_tr = np.isin(ids, tr_ids)
        test_m = np.isin(ids, uniq.index[te]) & last
        fit_m, val_m = in_tr & ~in_val, in_tr & in_val
        r = _fit_and_test(cfg, X, y, ids, codes, fit_m, val_m, test_m, categorical, method, refit)
        if r is not None:
            rows.append({"period": f"fold {i + 1}", **r})
    return pd.DataFrame(rows), "stratified_folds"


def _cap_rows(mask: np.ndarray, codes: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Keep whole leads (`codes`: lead codes in order of first appearance), in a seeded random
    order, until about `max_rows` snapshots are kept."""
    if mask.sum() <= max_rows:
        return mask
    n_leads = int(codes.max()) + 1
    counts = np.bincount(codes[mask], minlength=n_leads)
    order = np.random.default_rng(seed).permutation(np.flatnonzero(counts))
    keep = np.zeros(n_leads, bool)
    keep[order[np.cumsum(counts[order]) <= max_rows]] = True
    return mask & keep[codes]
