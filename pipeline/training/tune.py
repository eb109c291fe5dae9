"""`leadscore tune`: Optuna search over the booster's hyperparameters, on the validation slice only.

The out-of-time test slice is never looked at, so the training run that follows still reports an
honest test score. The validation leads are split in two halves by lead: one half early-stops each
trial, the other scores it (ROC AUC on one row per lead), so the tree count is not chosen
on the rows that judge it. The sampler is seeded: same data, config and seed give the same
trials. Deeper and bushier trees can win a little AUC but cost scoring time for exact TreeSHAP
reasons, so every result reports that cost relative to the default shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.config import Config, LightGBMParams
from pipeline.errors import TrainingError
from pipeline.modeling.candidates import fit_booster
from pipeline.modeling.params import shap_cost, size_aware
from pipeline.modeling.prepare import prepare_training_rows

log = logging.getLogger(__name__)


@dataclass
class TuneResult:
    best_params: dict
    best_value: float
    default_value: float
    best_trees: int
    shap_cost_ratio: float
    trials: pd.DataFrame


def _prepare(cfg: Config, leads: pd.DataFrame, events: pd.DataFrame) -> tuple:
    """The fit and validation rows `train` learns from (test leads left out), with the validation
    leads halved: one half early-stops each trial, the other judges it."""
    rows = prepare_training_rows(cfg, leads, events, with_test=False)
    ids, y, val = rows.lead_ids, rows.y, rows.part("val")
    rng = np.random.default_rng(cfg.training.seed)
    codes, _ = pd.factorize(ids, sort=True)  # by code, not id against id (quadratic on objects)
    uval = np.unique(codes[val])
    chosen = np.zeros(int(codes.max()) + 1, bool)
    chosen[rng.permutation(uval)[: len(uval) // 2]] = True
    half = chosen[codes]
    fit_m, stop_m, judge_m = rows.part("fit"), val & half, val & ~half & rows.one_per_lead
    for name, m in (("fit", fit_m), ("early-stopping", stop_m), ("judging", judge_m)):
        if len(np.unique(y[m])) < 2:
            raise TrainingError(f"the {name} part of tuning has one outcome class; add more leads")
    return rows.X, y, fit_m, stop_m, judge_m, rows.builder.categorical, rows.size_rows


def _score(cfg: Config, params: LightGBMParams, data: tuple) -> tuple[float, int]:
    X, y, fit_m, stop_m, judge_m, cats, _ = data
    b = fit_booster(
        X[fit_m],
        y[fit_m],
        X[stop_m],
        y[stop_m],
        cats,
        params,
        cfg.training.seed,
        cfg.training.min_category_count,
    )
    p = b.predict_proba(X[judge_m])[:, 1]
    return float(roc_auc_score(y[judge_m], p)), int(b.named_steps["lgbm"].best_iteration_ or 0)


def tune(cfg: Config, leads: pd.DataFrame, events: pd.DataFrame, n_trials: int = 20) -> TuneResult:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = _prepare(cfg, leads, events)
    base = size_aware(cfg.training.lightgbm, data[-1])
    default_value, default_trees = _score(cfg, base, data)

    def objective(trial: optuna.Trial) -> float:
        depth = trial.suggest_int("max_depth", 2, 6)
        upd = {
            "max_depth": depth,
            "num_leaves": _leaf_cap(trial.suggest_int("num_leaves", 4, 48, log=True), depth),
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 10, 300, log=True),
            "subsample": trial.suggest_float("subsample", 0.6, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 20.0, log=True),
        }
        value, trees = _score(cfg, base.model_copy(update=upd), data)
        trial.set_user_attr("trees", trees)
        trial.set_user_attr("num_leaves_used", upd["num_leaves"])
        trial.set_user_attr("shap_cost", shap_cost(trees, upd["num_leaves"], depth))
        return value

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.training.seed)
    )
    study.enqueue_trial(
        {
            k: getattr(base, k)
            for k in (
                "max_depth",
                "num_leaves",
                "learning_rate",
                "min_child_samples",
                "subsample",
                "colsample_bytree",
                "reg_lambda",
            )
        }
    )
    study.optimize(objective, n_trials=n_trials)
    best = dict(study.best_params)
    best["num_leaves"] = study.best_trial.user_attrs["num_leaves_used"]
    trees = study.best_trial.user_attrs["trees"]
    trials = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs"))
    return TuneResult(
        best_params=best,
        best_value=float(study.best_value),
        default_value=default_value,
        best_trees=trees,
        shap_cost_ratio=shap_cost(trees, best["num_leaves"], best["max_depth"])
        / max(shap_cost(default_trees, base.num_leaves, base.max_depth), 1e-9),
        trials=trials,
    )


def _leaf_cap(num_leaves: int, depth: int) -> int:
    """A tree of depth d has at most 2**d leaves; depth <= 0 is LightGBM's "no limit" (a config
    may say max_depth: -1, and the first trial replays the config), so nothing caps it then."""
    return min(num_leaves, 2**depth) if depth > 0 else num_leaves
