"""Fit every configured candidate on the fit slice and keep the best on the validation leads.

The comparison reads only validation rows (one per validation lead, its last snapshot, as test
metrics do), so the test leads stay an honest, untouched estimate of the model that serves. The
booster early-stops on the same validation slice, which flatters it slightly; the logistic
regression has nothing tuned there. Ties go to the earlier name in `training.candidates`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from pipeline.config import Config
from pipeline.evaluation.metrics import classification_metrics
from pipeline.modeling.booster import fit_booster
from pipeline.modeling.logistic import fit_logistic
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import TrainingRows

# The logistic model is fit on at most this many snapshots: lbfgs on one core is the slowest step
# at 100k+ leads, and a linear model does not need more (smaller data uses every row).
LOGREG_ROWS = 150_000


@dataclass
class CandidateChoice:
    """The winner, every candidate's validation AUC and the fitted candidates themselves."""

    name: str
    val_auc: dict[str, float]
    models: dict[str, Pipeline] = field(default_factory=dict)
    logistic_rows: int = 0  # snapshots the logistic candidate was fit on (capped)

    @property
    def model(self) -> Pipeline:
        return self.models[self.name]

    @property
    def margin(self) -> float:
        """The winner's validation AUC minus the best other's (nan when it ran alone)."""
        others = [v for k, v in self.val_auc.items() if k != self.name]
        return self.val_auc[self.name] - max(others) if others else float("nan")


def logistic_fit_rows(cfg: Config, rows: TrainingRows) -> np.ndarray:
    """Positions of the fit rows the logistic model learns from: all of them up to LOGREG_ROWS
    (`training.scale.logreg_rows` at scale), else a seeded sample."""
    cap = cfg.training.scale.logreg_rows if rows.at_scale else LOGREG_ROWS
    fit_rows = np.flatnonzero(rows.part("fit"))
    if len(fit_rows) > cap:
        rng = np.random.default_rng(cfg.training.seed)
        fit_rows = np.sort(rng.choice(fit_rows, cap, False))
    return fit_rows


def fit_logistic_candidate(cfg: Config, rows: TrainingRows) -> Pipeline:
    """The logistic regression on (a capped sample of) the fit slice."""
    fit_rows = logistic_fit_rows(cfg, rows)
    # At scale, one BLAS thread: on ~150 columns two threads spend more time waiting for each
    # other than computing (4x slower measured on 2 cores). Not below the threshold: the thread
    # count changes the last digits of the coefficients, and small data keeps its metrics.
    with threadpool_limits(1) if rows.at_scale else nullcontext():
        return fit_logistic(
            rows.X.iloc[fit_rows], rows.y[fit_rows], rows.builder.categorical, cfg.training.seed
        )


def fit_lightgbm_candidate(cfg: Config, rows: TrainingRows) -> Pipeline:
    """The booster on the fit slice, early-stopped on the validation slice."""
    tc = cfg.training
    fit_m, val_m = rows.part("fit"), rows.part("val")
    return fit_booster(
        rows.X[fit_m],
        rows.y[fit_m],
        rows.X[val_m],
        rows.y[val_m],
        rows.builder.categorical,
        size_aware(tc.lightgbm, rows.size_rows),
        tc.seed,
        tc.min_category_count,
    )


def choose_candidate(cfg: Config, rows: TrainingRows, workers: Executor) -> CandidateChoice:
    """Fit the configured candidates (the logistic one in `workers`, beside the booster) and pick
    the highest AUC on the validation leads' last snapshots."""
    names = list(dict.fromkeys(cfg.training.candidates))
    pending = {}
    if "logistic" in names:
        pending["logistic"] = workers.submit(fit_logistic_candidate, cfg, rows)
    models = {}
    if "lightgbm" in names:
        models["lightgbm"] = fit_lightgbm_candidate(cfg, rows)
    models.update({k: f.result() for k, f in pending.items()})
    vl = rows.part("val") & rows.last
    Xv, yv = rows.X[vl], rows.y[vl]
    val_auc = {n: float(roc_auc_score(yv, models[n].predict_proba(Xv)[:, 1])) for n in names}
    best = max(names, key=lambda n: (val_auc[n], -names.index(n)))
    n_logistic = len(logistic_fit_rows(cfg, rows)) if "logistic" in names else 0
    return CandidateChoice(best, val_auc, {n: models[n] for n in names}, n_logistic)


def candidate_info(
    cand: CandidateChoice, rows: TrainingRows, test: np.ndarray, metrics: dict[str, float]
) -> dict[str, object]:
    """Which candidate won on validation and by how much; every candidate's validation AUC (and,
    for the record only, its uncalibrated test AUC) joins `metrics`. The choice never read test."""
    for name, model in cand.models.items():
        metrics[f"candidate_{name}_val_roc_auc"] = cand.val_auc[name]
        p = model.predict_proba(rows.X[test])[:, 1]
        metrics[f"candidate_{name}_test_roc_auc"] = classification_metrics(rows.y[test], p)[
            "test_roc_auc"
        ]
    metrics["candidate_val_auc_margin"] = cand.margin
    # the logistic baseline is the served model itself: "does it beat logistic" has no meaning
    metrics["baseline_logreg_is_served"] = float(cand.name == "logistic")
    return {
        "candidate": cand.name,
        "candidate_val_roc_auc": dict(cand.val_auc),
        "candidate_logistic_fit_rows": cand.logistic_rows,
    }
