"""Training, wired in one place: split -> snapshots -> features -> fit -> calibrate -> cutoffs ->
evaluate -> explain. A pure function of data frames and config; the CLI does the I/O and MLflow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.cutoffs import choose_cutoffs
from pipeline.drift import DriftReference
from pipeline.evaluate import (
    classification_metrics,
    fit_logreg,
    logreg_predict,
    points_score,
    time_split,
)
from pipeline.explain import global_importance
from pipeline.features import FeatureBuilder, build_snapshot_features, snapshot_times
from pipeline.model import choose_and_fit_calibrator, fit_booster
from pipeline.params import size_aware
from pipeline.quality import quality_report
from pipeline.scorer import LeadScorer

log = logging.getLogger(__name__)
SHAP_SAMPLE = 5000
LOGREG_ROWS = 150_000


class TrainingError(ValueError):
    """The data cannot train a model (too few outcomes, one class...); the message says why."""


@dataclass
class TrainResult:
    scorer: LeadScorer
    metrics: dict[str, float]
    info: dict[str, object]
    importance: pd.DataFrame
    test_predictions: pd.DataFrame
    shap_sample: tuple[np.ndarray, pd.DataFrame] | None = None
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def last_snapshot(snaps: pd.DataFrame) -> np.ndarray:
    """Row positions of each lead's latest snapshot: the lead as last seen before its outcome."""
    s = snaps.assign(_pos=np.arange(len(snaps)), _t=snaps["as_of"].fillna(pd.Timestamp.max))
    return (
        s.sort_values(["lead_id", "_t"], kind="stable")
        .groupby("lead_id", sort=False)["_pos"]
        .last()
        .to_numpy()
    )


def train(
    cfg: Config, leads: pd.DataFrame, events: pd.DataFrame, oracle: pd.DataFrame | None = None
) -> TrainResult:
    tc = cfg.training
    sc = cfg.schema
    labelled = leads[leads["_label"].notna()]
    n_won = int((labelled["_label"] == 1).sum())
    n_lost = int((labelled["_label"] == 0).sum())
    if n_won < 2 or n_lost < 2:
        raise TrainingError(
            f"need won and lost leads to learn from; found {n_won} won and {n_lost} lost: "
            "check schema.outcome.won/lost against the values in the outcome column"
        )
    split, by_time = time_split(leads, tc.val_share, tc.test_share, tc.seed, tc.test_start)
    if not by_time:
        log.warning("no creation dates: split is stratified-random, not out-of-time")
    builder = FeatureBuilder(
        categorical=list(sc.categorical),
        numeric=[*sc.numeric, *sc.flags],
        use_email=bool(sc.email) and leads["_email"].notna().any(),
        max_activity_types=tc.max_activity_types,
    ).fit(leads.loc[split.index[split == "fit"]], events)

    snaps = snapshot_times(leads, tc.snapshot_days)
    # nothing to replay: one row per lead (see FeatureBuilder.use_age)
    if not builder.activity_types:
        snaps = snaps.iloc[np.sort(last_snapshot(snaps))].reset_index(drop=True)
    snaps["split"] = split.reindex(snaps["lead_id"]).to_numpy()
    X = build_snapshot_features(builder, leads, events, snaps)
    y = leads["_label"].reindex(snaps["lead_id"]).to_numpy().astype(int)
    part = snaps["split"].to_numpy()
    last = np.zeros(len(snaps), bool)
    last[last_snapshot(snaps)] = True

    fit_m, val_m, test_m = part == "fit", part == "val", part == "test"
    for name, m in (("fit", fit_m), ("val", val_m), ("test", test_m)):
        if len(np.unique(y[m])) < 2:
            raise TrainingError(
                f"the {name} slice has only one outcome class; add more won and lost leads"
            )

    booster = fit_booster(
        X[fit_m],
        y[fit_m],
        X[val_m],
        y[val_m],
        builder.categorical,
        size_aware(tc.lightgbm, int(fit_m.sum())),
        tc.seed,
        tc.min_category_count,
    )
    calibrator, choice = choose_and_fit_calibrator(
        booster, X[val_m], y[val_m], snaps.loc[val_m, "lead_id"].to_numpy(), tc.calibration, tc.seed
    )
    vl = val_m & last
    p_val = calibrator.predict_proba(X[vl])[:, 1]
    val_created = leads["_created_at"].reindex(snaps.loc[vl, "lead_id"])
    months = (
        (val_created.max() - val_created.min()) / pd.Timedelta(days=30.44)
        if val_created.notna().any()
        else 1.0
    )
    cutoffs = choose_cutoffs(p_val, y[vl], cfg.targets, float(months))
    scorer = LeadScorer(
        builder=builder,
        booster=booster,
        calibrator=calibrator,
        cutoffs=cutoffs,
        score_reference=np.sort(p_val),
        calibration_method=choice.method,
    )
    scorer.set_subscore_reference(X[vl])  # fit/engagement sub-scores: same reference leads

    tl = test_m & last
    Xt, yt = X[tl], y[tl]
    p_test = scorer.predict_proba(Xt)
    metrics = classification_metrics(yt, p_test, "test_")
    raw_test = booster.predict_proba(Xt)[:, 1]
    metrics["test_roc_auc_uncalibrated"] = classification_metrics(yt, raw_test)["test_roc_auc"]
    metrics["test_ece_uncalibrated"] = classification_metrics(yt, raw_test)["test_ece"]
    metrics["mql_threshold"] = cutoffs.mql
    metrics["sql_threshold"] = cutoffs.sql
    sql_hit = p_test >= cutoffs.sql
    metrics["test_sql_precision"] = float(yt[sql_hit].mean()) if sql_hit.any() else float("nan")
    metrics["test_sql_share"] = float(sql_hit.mean())
    metrics["test_mql_recall"] = float((p_test[yt == 1] >= cutoffs.mql).mean())
    metrics["test_mql_share"] = float((p_test >= cutoffs.mql).mean())
    metrics["best_iteration"] = float(booster.named_steps["lgbm"].best_iteration_ or 0)

    pts = points_score(Xt, cfg.baseline_points) if cfg.baseline_points else np.zeros(len(Xt))
    metrics["baseline_points_roc_auc"] = classification_metrics(yt, _rank01(pts))["test_roc_auc"]
    # The baseline is fit on at most LOGREG_ROWS snapshots: lbfgs on one core is the slowest
    # step at 100k+ leads, and a baseline does not need more (smaller data uses every row).
    lr_rows = np.flatnonzero(fit_m)
    if len(lr_rows) > LOGREG_ROWS:
        lr_rows = np.sort(np.random.default_rng(tc.seed).choice(lr_rows, LOGREG_ROWS, False))
    logreg = fit_logreg(X.iloc[lr_rows], y[lr_rows], builder.categorical, tc.seed)
    metrics["baseline_logreg_roc_auc"] = classification_metrics(
        yt, logreg_predict(logreg, Xt, builder.categorical)
    )["test_roc_auc"]

    test_ids = snaps.loc[tl, "lead_id"].to_numpy()
    preds = pd.DataFrame({"lead_id": test_ids, "label": yt, "probability": p_test, "points": pts})
    preds["as_of"] = snaps.loc[tl, "as_of"].to_numpy()
    for b in ("points", "logreg"):
        metrics[f"test_auc_lift_over_{b}"] = (
            metrics["test_roc_auc"] - metrics[f"baseline_{b}_roc_auc"]
        )
    extra = quality_report(cfg, leads, scorer, choice, preds, X, y, snaps, last, metrics)
    if oracle is not None:
        o = oracle.set_index(oracle.columns[0])[oracle.columns[1]].reindex(test_ids).to_numpy(float)
        if not np.isnan(o).any():
            metrics["oracle_roc_auc"] = classification_metrics(yt, o)["test_roc_auc"]
            metrics["oracle_ece"] = classification_metrics(yt, o)["test_ece"]
            metrics["test_auc_over_oracle"] = metrics["test_roc_auc"] / metrics["oracle_roc_auc"]
            preds["oracle_probability"] = o

    rng = np.random.default_rng(tc.seed)
    pick = np.sort(rng.permutation(len(Xt))[: min(SHAP_SAMPLE, len(Xt))])
    fields, fc = scorer.field_contributions(Xt.iloc[pick])
    feat_contrib, _ = scorer.contributions(Xt.iloc[pick])
    importance = global_importance(fc, fields)

    created = leads["_created_at"]
    info = {
        "rows_leads": len(leads),
        "rows_events": len(events),
        "leads_won": n_won,
        "leads_lost": n_lost,
        "leads_open": int(leads["_label"].isna().sum()),
        "snapshots": len(snaps),
        "rows_fit": int(fit_m.sum()),
        "rows_val": int(val_m.sum()),
        "rows_test_leads": int(tl.sum()),
        "split": "time" if by_time else "stratified_random",
        "calibration": choice.method,
        "calibration_heldout_log_loss": choice.heldout_log_loss,
        "n_features": len(builder.feature_names),
        "activity_types": builder.activity_types,
        "features": builder.feature_names,
        "data_start": str(created.min()) if created.notna().any() else None,
        "data_end": str(created.max()) if created.notna().any() else None,
        "test_start": str(created.reindex(test_ids).min()) if by_time else None,
    }
    scorer.meta = {
        k: info[k] for k in ("split", "calibration", "data_start", "data_end", "test_start")
    }
    scorer.meta["schema"] = sc.model_dump()
    scorer.meta["drift_reference"] = DriftReference.fit(X[fit_m], builder.categorical)
    return TrainResult(
        scorer=scorer,
        metrics=metrics,
        info=info,
        importance=importance,
        test_predictions=preds,
        shap_sample=(feat_contrib, Xt.iloc[pick]),
        extra_tables=extra,
    )


def _rank01(s: np.ndarray) -> np.ndarray:
    """Points are not probabilities; rank-scale them into (0, 1) so AUC can read them."""
    return (pd.Series(s).rank(method="average").to_numpy() - 0.5) / max(len(s), 1)
