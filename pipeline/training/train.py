"""Training as a short list of named steps: prepare rows -> fit -> calibrate -> cutoffs ->
evaluate against baselines -> backtest -> explain. The backtest refits run in worker threads
beside evaluation and explanation (LightGBM computes outside the GIL), with the same results.

A pure function of data frames and config: no file is read or written and MLflow is not touched
(`pipeline.jobs` does the I/O, `pipeline.tracking` the logging), so notebooks and tests call it as
it is. Every number is computed on one row per test lead (`TrainingRows.one_per_lead`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipeline.config import Config
from pipeline.errors import TrainingError
from pipeline.evaluation.baselines import points_score, rank01
from pipeline.evaluation.insights import value_insights
from pipeline.evaluation.metrics import classification_metrics
from pipeline.evaluation.quality import backtest_metrics, calibration_table, funnel_and_slices
from pipeline.explain.fields import global_importance
from pipeline.io.eventfacts import EventFacts, n_events
from pipeline.modeling.calibration import CalibrationChoice, choose_and_fit_calibrator
from pipeline.modeling.candidates import (
    LOGISTIC,
    CandidateChoice,
    candidate_info,
    choose_candidate,
    context_chosen,
    context_in_model,
    fit_logistic_candidate,
)
from pipeline.modeling.cutoffs import choose_cutoffs
from pipeline.modeling.prepare import TrainingRows, prepare_training_rows
from pipeline.modeling.scorer import LeadScorer, Scorer, subscore_references
from pipeline.modeling.segments import fit_segments, segment_info
from pipeline.monitoring.drift import DriftReference
from pipeline.training import backtest
from pipeline.validation.leakage import suspects_in_features
from pipeline.words import column_label

SHAP_SAMPLE = 5000


@dataclass
class TrainResult:
    """What one training run produced: the fitted artifact and the evidence about it."""

    scorer: Scorer  # a LeadScorer, or a SegmentedScorer when segments keep their own models
    metrics: dict[str, float]
    info: dict[str, object]
    importance: pd.DataFrame
    test_predictions: pd.DataFrame
    shap_sample: tuple[np.ndarray, pd.DataFrame] | None = None
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    pending: Callable[[], backtest.Backtests] | None = None  # backtests still running

    def finish(self) -> TrainResult:
        """Wait for backtest refits left running by `train(..., pool=...)`; their table and
        headline numbers join the others. Does nothing the second time."""
        if self.pending is not None:
            tables, metrics, info = backtest_results(self.pending)
            self.extra_tables.update(tables)
            self.metrics.update(metrics)
            self.info.update(info)
            self.pending = None
        return self


def train(
    cfg: Config,
    leads: pd.DataFrame,
    events: pd.DataFrame | EventFacts,
    oracle: pd.DataFrame | None = None,
    pool: Executor | None = None,
    meta: dict | None = None,
    rows: TrainingRows | None = None,
    prefit: dict[str, Pipeline] | None = None,
) -> TrainResult:
    """Fit, calibrate, choose cutoffs, evaluate out of time and explain, from canonical frames.

    `oracle` (the sample generator's true probabilities) is read for evaluation only. With a
    `pool` (`backtest.worker_pool()`), the backtest refits are left running in it, so the caller
    can draw figures meanwhile; `result.finish()` waits for them. Without, they are waited for.
    `meta` is kept in the scorer's `meta` beside what training records there (where the data
    came from). `rows`, `prefit`: the Dask engine's gathered rows and cluster-fit booster
    (`training.distributed`), used unchanged; `events` are then its workers' `EventFacts`."""
    require_outcomes(leads)
    rows = rows if rows is not None else prepare_training_rows(cfg, leads, events)
    events_read, events = n_events(events), None  # the frame goes: the rows have what counts
    require_both_classes(rows)
    test = rows.part("test") & rows.one_per_lead
    with nullcontext(pool) if pool else backtest.worker_pool() as workers:
        scorer, choice, cand = fit_scorer(cfg, leads, rows, meta or {}, workers, prefit)
        cfg = context_chosen(cfg, cand)  # segments and backtests refit the chosen recipe
        # a segment model uses the recipe that won on all validation leads: a segment's own
        # validation slice is too small to choose a recipe again, and each choice costs a fit
        seg_cfg = cfg.model_copy(deep=True)
        seg_cfg.training.candidates = [scorer.candidate]
        pooled = scorer  # segments: off unless configured
        scorer, segments = fit_segments(
            cfg, rows, pooled, lambda sub: fit_scorer(seg_cfg, leads, sub, meta or {}, workers)[0]
        )
        # the logistic baseline and the backtest refits run beside the steps below (they compute
        # in numpy and LightGBM, outside the GIL)
        logreg = workers.submit(logreg_baseline, cfg, rows, test, cand.models.get(LOGISTIC))
        backtests = backtest.start_backtests(
            cfg, leads, rows, choice.method, workers, pooled.candidate
        )
        preds, metrics, tables = evaluation_evidence(
            cfg, leads, oracle, rows, test, scorer, pooled, choice
        )
        importance, shap_sample = explain_sample(scorer, rows.X[test], cfg.training.seed)
        info = training_info(cfg, leads, events_read, rows, scorer, choice, preds)
        for part_info, part_metrics in (candidate_info(cand, rows, test), rows_record(cfg, rows)):
            info.update(part_info)
            metrics.update(part_metrics)
        info["leakage_suspects"] = suspects_in_features(leads, cfg)  # cached: checked at the start
        tables["insights"] = value_insights(rows.X[rows.one_per_lead], rows.y[rows.one_per_lead])
        seg_info, seg_tables = segment_info(cfg, segments, pooled, rows, test)
        info.update(seg_info)
        tables.update(seg_tables)
        preds["baseline_logreg"] = logreg.result()  # per lead: the gate's paired test reads it
        lr = classification_metrics(preds["label"].to_numpy(), preds["baseline_logreg"].to_numpy())
        metrics.update(lift(metrics["test_roc_auc"], "logreg", lr["test_roc_auc"]))
        result = TrainResult(
            scorer, metrics, info, importance, preds, shap_sample, tables, pending=backtests
        )
        return result if pool else result.finish()


def evaluation_evidence(
    cfg: Config,
    leads: pd.DataFrame,
    oracle: pd.DataFrame | None,
    rows: TrainingRows,
    test: np.ndarray,
    scorer: Scorer,
    pooled: LeadScorer,
    choice: CalibrationChoice,
) -> tuple[pd.DataFrame, dict[str, float], dict[str, pd.DataFrame]]:
    """Test predictions, metrics and tables of the served scorer (pooled or segmented)."""
    preds, metrics = evaluate(cfg, scorer, rows, test)
    metrics.update(best_iteration(pooled))
    tables, quality = quality_evidence(cfg, leads, scorer, choice, rows, test, preds)
    metrics.update(quality)
    oracle_p, oracle_metrics = oracle_evidence(oracle, preds, metrics["test_roc_auc"])
    metrics.update(oracle_metrics)
    if oracle_p is not None:
        preds["oracle_probability"] = oracle_p
    return preds, metrics, tables


def require_outcomes(leads: pd.DataFrame) -> None:
    """Refuse early, in words, when there is nothing to learn from."""
    labelled = leads["_label"].dropna()
    n_won, n_lost = int((labelled == 1).sum()), int((labelled == 0).sum())
    if n_won < 2 or n_lost < 2:
        raise TrainingError(
            f"need won and lost leads to learn from; found {n_won} won and {n_lost} lost: "
            "check schema.outcome.won/lost against the values in the outcome column"
        )


def require_both_classes(rows: TrainingRows) -> None:
    for name in ("fit", "val", "test"):
        if len(np.unique(rows.y[rows.part(name)])) < 2:
            raise TrainingError(
                f"the {name} slice has only one outcome class; add more won and lost leads"
            )


def fit_scorer(
    cfg: Config,
    leads: pd.DataFrame,
    rows: TrainingRows,
    meta: dict,
    workers: Executor,
    prefit: dict[str, Pipeline] | None = None,
) -> tuple[LeadScorer, CalibrationChoice, CandidateChoice]:
    """The candidates on the fit slice, the best on the validation leads calibrated on the
    validation slice; cutoffs and the 0-100 score references from the validation leads' last
    snapshots. The scorer is built once, from all its fitted parts."""
    tc = cfg.training
    X, y = rows.X, rows.y
    val_m = rows.part("val")
    cand = choose_candidate(cfg, rows, workers, prefit)
    estimator = cand.model
    calibrator, choice = choose_and_fit_calibrator(
        estimator, X[val_m], y[val_m], rows.lead_ids[val_m], tc.calibration, tc.seed
    )
    vl = val_m & rows.one_per_lead
    p_val = calibrator.predict_proba(X[vl])[:, 1]
    engagement = tuple(cfg.schema.engagement)
    # fit/engagement sub-scores: the same reference leads as the 0-100 score
    fit_ref, engagement_ref = subscore_references(
        rows.builder, cand.name, estimator, engagement, X[vl]
    )
    scorer = LeadScorer(
        builder=rows.builder,
        estimator=estimator,
        calibrator=calibrator,
        cutoffs=choose_cutoffs(p_val, y[vl], cfg.targets, _months(leads, rows.lead_ids[vl])),
        score_reference=np.sort(p_val),
        calibration_method=choice.method,
        meta={**scorer_meta(cfg, leads, rows, choice), **meta},
        fit_reference=fit_ref,
        engagement_reference=engagement_ref,
        engagement_columns=engagement,
        flag_columns=_yes_no_columns(cfg, X[rows.part("fit")]),
        candidate=cand.name,
    )
    return scorer, choice, cand


def scorer_meta(
    cfg: Config, leads: pd.DataFrame, rows: TrainingRows, choice: CalibrationChoice
) -> dict:
    """What the artifact keeps about its training: the split, the calibration, the data's dates,
    the schema it reads and the drift reference of its fit rows."""
    created = leads["_created_at"]
    has_dates = created.notna().any()
    test_ids = rows.lead_ids[rows.part("test") & rows.one_per_lead]
    return {
        "split": rows.split_kind,  # time, position or stratified_random (modeling.split)
        "horizon_days": cfg.targets.horizon_days,  # probabilities: won within N days (None: ever)
        "calibration": choice.method,
        "data_start": str(created.min()) if has_dates else None,
        "data_end": str(created.max()) if has_dates else None,
        "test_start": str(created.reindex(test_ids).min()) if rows.by_time else None,
        "test_rows_newest": int(len(test_ids)) if rows.split_kind == "position" else None,
        "schema": cfg.schema.model_dump(),
        "decimals": dict(leads.attrs.get("decimals") or {}),  # per column: '.' or ','
        # shares of activity/outcome rows naming a lead, and of leads with such rows: scoring
        # warns when its leads' share is far below the training one
        "match_shares": {k: s[0] for k, s in (leads.attrs.get("match_shares") or {}).items()},
        "lead_match_shares": {k: s[1] for k, s in (leads.attrs.get("match_shares") or {}).items()},
        "drift_reference": DriftReference.fit(rows.X[rows.part("fit")], rows.builder.categorical),
    }


def _yes_no_columns(cfg: Config, X: pd.DataFrame) -> tuple[str, ...]:
    """schema.flags and numeric columns holding only 0/1: their reasons read yes/no, not 0/1."""
    num = [c for c in cfg.schema.numeric if c in X.columns]
    binary = [c for c in num if X[c].dropna().isin([0.0, 1.0]).all() and X[c].notna().any()]
    return (*cfg.schema.flags, *binary)


def _months(leads: pd.DataFrame, ids: np.ndarray) -> float:
    """How many months of lead flow the reference leads span (capacity targets are per month)."""
    created = leads["_created_at"].reindex(ids)
    if not created.notna().any():
        return 1.0
    return float((created.max() - created.min()) / pd.Timedelta(days=30.44))


def evaluate(
    cfg: Config, scorer: Scorer, rows: TrainingRows, test: np.ndarray
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Test predictions (one row per test lead) and the metrics against the cutoffs and the
    points baseline (the logistic one runs beside it: `logreg_baseline`)."""
    Xt, yt = rows.X[test], rows.y[test]
    p_test = scorer.conversion_probability(Xt)
    metrics = classification_metrics(yt, p_test, "test_")
    raw = classification_metrics(yt, scorer.uncalibrated_probability(Xt))
    metrics["test_roc_auc_uncalibrated"] = raw["test_roc_auc"]
    metrics["test_ece_uncalibrated"] = raw["test_ece"]
    metrics.update(cutoff_metrics(scorer))
    pts = points_score(Xt, cfg.baseline_points) if cfg.baseline_points else np.zeros(len(Xt))
    points_auc = classification_metrics(yt, rank01(pts))["test_roc_auc"]
    metrics.update(lift(metrics["test_roc_auc"], "points", points_auc))
    preds = pd.DataFrame(
        {"lead_id": rows.lead_ids[test], "label": yt, "probability": p_test, "points": pts}
    )
    preds["as_of"] = rows.snaps.loc[test, "as_of"].to_numpy()
    return preds, metrics


def rows_record(cfg: Config, rows: TrainingRows) -> tuple[dict, dict[str, float]]:
    """What the run says about the rows it trained on: the target, the censored snapshots and the
    labelled leads left out as too recent, with their rule."""
    info = {
        "horizon_days": cfg.targets.horizon_days,  # None: "ever won"
        "censored_snapshots": rows.censored_snapshots,
        "leads_left_out_recent": rows.left_out.leads,
        "left_out_rule": rows.left_out.rule(),
    }
    metrics = {k: info[k] for k in ("censored_snapshots", "leads_left_out_recent")}
    return info, metrics


def best_iteration(pooled: LeadScorer) -> dict[str, float]:
    """The pooled booster's tree count chosen by early stopping (nothing for a logistic model)."""
    if pooled.is_logistic:
        return {}
    return {"best_iteration": float(pooled.estimator.named_steps["lgbm"].best_iteration_ or 0)}


def lift(model_auc: float, baseline: str, auc: float) -> dict[str, float]:
    """A baseline's test AUC and the model's lift over it."""
    return {f"baseline_{baseline}_roc_auc": auc, f"test_auc_lift_over_{baseline}": model_auc - auc}


def cutoff_metrics(scorer: Scorer) -> dict[str, float]:
    """The MQL and SQL cutoffs; what they do on the test leads (precision, recall, shares) is
    read off the funnel (`pipeline.evaluation.funnel.stage_metrics`), computed once there."""
    cut = scorer.cutoffs
    return {"mql_threshold": cut.mql, "sql_threshold": cut.sql}


def logreg_baseline(
    cfg: Config, rows: TrainingRows, test: np.ndarray, fitted: Pipeline | None = None
) -> np.ndarray:
    """Test probabilities of a logistic regression on the same features, per lead (the gate's
    paired test reads them): the logistic candidate when it was fit (the same model), else fit
    here the same way (`pipeline.modeling.candidates`)."""
    model = fitted if fitted is not None else fit_logistic_candidate(cfg, rows)
    return model.predict_proba(rows.X[test])[:, 1]


def quality_evidence(
    cfg: Config,
    leads: pd.DataFrame,
    scorer: Scorer,
    choice: CalibrationChoice,
    rows: TrainingRows,
    test: np.ndarray,
    preds: pd.DataFrame,
) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Calibration evidence, funnel and slices: the tables and their headline numbers. The
    calibration table's "before" is the same scorer's probabilities before calibration."""
    yt, pt = preds["label"].to_numpy(), preds["probability"].to_numpy()
    raw = scorer.uncalibrated_probability(rows.X[test])
    cal, cal_metrics = calibration_table(
        yt, raw, pt, scorer.calibration_method, choice.heldout_log_loss
    )
    funnel, funnel_metrics = funnel_and_slices(cfg, leads, preds, scorer.cutoffs)
    return {"calibration": cal, **funnel}, {**cal_metrics, **funnel_metrics}


def backtest_results(
    backtests: Callable[[], backtest.Backtests],
) -> tuple[dict[str, pd.DataFrame], dict[str, float], dict[str, object]]:
    """Wait for the backtest refits: their table (when any period ran), the periods skipped
    (when any), headline numbers, and the mode, the outcomes rule and why none ran (for the
    report, the card and the run's params)."""
    done = backtests()
    bt, skipped = done.table, done.skipped
    tables = {}
    if len(bt):
        bt.attrs["mode"] = done.mode
        tables["backtest"] = bt
    if len(skipped):
        tables["backtest_skipped"] = skipped
    metrics = {**backtest_metrics(bt), "backtest_periods_skipped": float(len(skipped))}
    info = {
        "backtest_mode": done.mode,
        "backtest_none_reason": done.reason_none(),
        "backtest_outcomes": done.outcomes or "none",  # the label rule of the fit slices
        "backtest_outcomes_said": done.said,  # in words, with why `auto` chose it
    }
    return tables, metrics, info


def oracle_evidence(
    oracle: pd.DataFrame | None, preds: pd.DataFrame, model_auc: float
) -> tuple[np.ndarray | None, dict[str, float]]:
    """On the sample data: the true probabilities of the test leads and their AUC (None and
    nothing when there is no oracle or it misses a test lead)."""
    if oracle is None:
        return None, {}
    ids = preds["lead_id"].to_numpy()
    o = oracle.set_index(oracle.columns[0])[oracle.columns[1]].reindex(ids).to_numpy(float)
    if np.isnan(o).any():
        return None, {}
    m = classification_metrics(preds["label"].to_numpy(), o)
    return o, {
        "oracle_roc_auc": m["test_roc_auc"],
        "oracle_ece": m["test_ece"],
        "test_auc_over_oracle": model_auc / m["test_roc_auc"],
    }


def explain_sample(
    scorer: Scorer, Xt: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, tuple[np.ndarray, pd.DataFrame]]:
    """Global importance by business field and per-feature SHAP values of a test sample."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(Xt))[: min(SHAP_SAMPLE, len(Xt))])
    fields, fc = scorer.field_contributions(Xt.iloc[pick])
    feat_contrib, _ = scorer.contributions(Xt.iloc[pick])
    return global_importance(fc, fields), (feat_contrib, Xt.iloc[pick])


def training_info(
    cfg: Config,
    leads: pd.DataFrame,
    events_read: int,
    rows: TrainingRows,
    scorer: Scorer,
    choice: CalibrationChoice,
    preds: pd.DataFrame,
) -> dict[str, object]:
    """Row counts, dates and choices of the run: logged as params and shown in the model card."""
    lab = leads["_label"]
    meta = scorer.meta
    return {
        "engine": "local",  # the Dask engine says so, with its cluster (training.distributed)
        "context_in_model": context_in_model(cfg),  # the schema.context columns: use/leave_out
        "context_words": [column_label(cfg.schema.labels, c) for c in cfg.schema.context],
        "rows_leads": len(leads),
        "rows_events": events_read,
        "leads_won": int((lab == 1).sum()),
        "leads_lost": int((lab == 0).sum()),
        "leads_open": int(lab.isna().sum()),
        "snapshots": len(rows.snaps),
        # labelled leads trained on: those whose outcome was known by the export date
        "leads_trained": int(rows.snaps["lead_id"].nunique()),
        "snapshots_before_sampling": rows.candidate_snapshots,
        "at_scale": rows.at_scale,
        "rows_fit": int(rows.part("fit").sum()),
        "rows_val": int(rows.part("val").sum()),
        "rows_test_leads": len(preds),
        "split": meta["split"],
        "calibration": meta["calibration"],
        "calibration_heldout_log_loss": choice.heldout_log_loss,
        "n_features": len(scorer.builder.feature_names),
        "activity_types": scorer.builder.activity_types_,
        "features": scorer.builder.feature_names,
        "data_start": meta["data_start"],
        "data_end": meta["data_end"],
        "test_start": meta["test_start"],
        "test_rows_newest": meta.get("test_rows_newest"),
    }
