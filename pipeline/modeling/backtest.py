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

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from pipeline.config import Config
from pipeline.evaluation.baselines import points_score
from pipeline.evaluation.metrics import classification_metrics
from pipeline.modeling.booster import fit_booster
from pipeline.modeling.calibration import choose_and_fit_calibrator
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import TrainingRows

log = logging.getLogger(__name__)
MIN_TEST_LEADS = 50
# Backtests repeat the recipe N times; at 100k leads they cost more than the main fit. Past this
# many fitting snapshots, a seeded sample of leads fits (a month's test leads are never sampled).
MAX_FIT_ROWS = 100_000


def _fit_and_test(
    cfg: Config,
    X: pd.DataFrame,
    y: np.ndarray,
    lead_ids: np.ndarray,
    fit_m: np.ndarray,
    val_m: np.ndarray,
    test_m: np.ndarray,
    categorical: list[str],
    method: str = "auto",
) -> dict[str, float] | None:
    tc = cfg.training
    fit_m = _cap_rows(fit_m, lead_ids, MAX_FIT_ROWS, tc.seed)
    for m in (fit_m, val_m, test_m):
        if m.sum() == 0 or len(np.unique(y[m])) < 2:
            return None
    params = size_aware(tc.lightgbm, int(fit_m.sum()))
    booster = fit_booster(
        X[fit_m], y[fit_m], X[val_m], y[val_m], categorical, params, tc.seed, tc.min_category_count
    )
    cal, choice = choose_and_fit_calibrator(
        booster, X[val_m], y[val_m], lead_ids[val_m], method, tc.seed
    )
    p = cal.predict_proba(X[test_m])[:, 1]
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
    The main run's snapshot features are reused as they are.
    """
    X, y, snaps, last, categorical = rows.X, rows.y, rows.snaps, rows.last, rows.builder.categorical
    method = method or cfg.training.calibration
    n = cfg.training.backtest_months
    if n <= 0:
        return pd.DataFrame(), "off"
    ids = snaps["lead_id"].to_numpy()
    created = leads["_created_at"].reindex(ids).to_numpy(dtype="datetime64[ns]")
    closed = leads["_closed_at"].reindex(ids).to_numpy(dtype="datetime64[ns]")
    rows = []
    if not np.isnat(created).any():
        months = pd.PeriodIndex(pd.DatetimeIndex(created[last]), freq="M")
        labels = sorted(set(months))[-n:]
        month_of = pd.PeriodIndex(pd.DatetimeIndex(created), freq="M")
        for mo in labels:
            start = mo.start_time.to_datetime64()
            known = np.isnat(closed) | (closed < start)
            before = (created < start) & known
            test_m = (month_of == mo) & last
            if test_m.sum() < MIN_TEST_LEADS or before.sum() == 0:
                continue
            # the most recent val_share of the training leads: early stopping + calibration
            lead_created = pd.Series(created[before], index=ids[before]).groupby(level=0).first()
            cut = lead_created.quantile(1 - cfg.training.val_share)
            val_m = before & (created >= cut.to_datetime64())
            fit_m = before & ~val_m
            r = _fit_and_test(cfg, X, y, ids, fit_m, val_m, test_m, categorical, method)
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
        r = _fit_and_test(
            cfg, X, y, ids, in_tr & ~in_val, in_tr & in_val, test_m, categorical, method
        )
        if r is not None:
            rows.append({"period": f"fold {i + 1}", **r})
    return pd.DataFrame(rows), "stratified_folds"


def _cap_rows(mask: np.ndarray, lead_ids: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Keep whole leads, in a seeded random order, until about `max_rows` snapshots are kept."""
    if mask.sum() <= max_rows:
        return mask
    codes, uniq = pd.factorize(lead_ids)  # hashing: np.isin on object ids is far too slow
    counts = np.bincount(codes[mask], minlength=len(uniq))
    order = np.random.default_rng(seed).permutation(np.flatnonzero(counts))
    keep = np.zeros(len(uniq), bool)
    keep[order[np.cumsum(counts[order]) <= max_rows]] = True
    return mask & keep[codes]
