"""The one place the models are built, fitted and capped: the LightGBM booster and the logistic
regression, for training, backtests, tuning and segments alike; and the choice between them.

The comparison reads only validation rows (one per validation lead, as test metrics do), so the
test leads stay an honest, untouched estimate of the model that serves. The booster early-stops on
the same validation slice, which flatters it slightly; the logistic regression has nothing tuned
there. Ties go to the earlier name in `training.candidates`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from pipeline.config import Config, LightGBMParams
from pipeline.evaluation.metrics import classification_metrics
from pipeline.evaluation.paired import delong
from pipeline.modeling.booster import CategoryEncoder
from pipeline.modeling.logistic import fit_logistic
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import TrainingRows

LIGHTGBM, LOGISTIC = "lightgbm", "logistic"
CONTEXT_ALPHA = 0.05  # training.context: auto leaves context out only on this much evidence


class ThreadCountGate:
    """Lets LightGBM calls overlap only when they ask for the same number of threads.

    LightGBM keeps its thread count in one process-wide setting that each fit and predict sets
    (LightGBM issues #4705 and #6152). Two calls at once with different counts (the main fit on
    two threads beside a one-thread backtest refit) can size per-thread buffers by one count and
    run loops with the other: a rare segfault. Calls with the same count run together; a call with
    another count waits until the running ones finish. Results never depend on it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._threads: int | None = None
        self._active = 0

    @contextmanager
    def use(self, threads: int | None) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._active == 0 or self._threads == threads)
            self._threads, self._active = threads, self._active + 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()


LIGHTGBM_THREADS = ThreadCountGate()


class LGBMConversionClassifier(lgb.LGBMClassifier):
    """LightGBM's classifier whose fit and predictions pass through `LIGHTGBM_THREADS`, so
    training's worker threads and the main thread never run LightGBM with two thread counts."""

    def fit(self, *args, **kwargs):
        with LIGHTGBM_THREADS.use(self.n_jobs):
            return super().fit(*args, **kwargs)

    def predict_proba(self, *args, **kwargs):
        with LIGHTGBM_THREADS.use(self.n_jobs):
            return super().predict_proba(*args, **kwargs)

    def predict(self, *args, **kwargs):
        with LIGHTGBM_THREADS.use(self.n_jobs):
            return super().predict(*args, **kwargs)


@dataclass
class CandidateChoice:
    """The winner, every candidate's validation AUC and the fitted candidates themselves."""

    name: str
    val_auc: dict[str, float]
    models: dict[str, Pipeline] = field(default_factory=dict)
    logistic_rows: int = 0  # snapshots the logistic candidate was fit on (capped)
    # `training.context: auto` with context columns: the booster's validation AUC with them
    # ("use") and without ("leave_out"), and DeLong's p of the difference; empty when nothing
    # was compared
    context_val_auc: dict[str, float] = field(default_factory=dict)

    @property
    def context(self) -> str | None:
        """What `auto` chose for the context columns ("use" or "leave_out"), or None."""
        if not self.context_val_auc:
            return None
        return context_choice(self.context_val_auc)

    @property
    def model(self) -> Pipeline:
        return self.models[self.name]

    @property
    def margin(self) -> float:
        """The winner's validation AUC minus the best other's (nan when it ran alone)."""
        others = [v for k, v in self.val_auc.items() if k != self.name]
        return self.val_auc[self.name] - max(others) if others else float("nan")


def fit_booster(
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    categorical: list[str],
    params: LightGBMParams,
    seed: int,
    min_category_count: int = 20,
    threads: int = 2,
    blank: tuple[str, ...] = (),
) -> Pipeline:
    """Encoder + LightGBM, early-stopped on the validation slice. `threads` changes the speed,
    never the trees (`deterministic=True`). Fields `params` leaves to the data size and that the
    caller did not size go by these fit rows. `blank`: columns the trees may not use."""
    enc, m_fit, m_val = booster_inputs(X_fit, X_val, categorical, min_category_count, blank)
    return fit_encoded(enc, m_fit, y_fit, m_val, y_val, params, seed, threads=threads)


def booster_inputs(
    X_fit: pd.DataFrame,
    X_val: pd.DataFrame,
    categorical: list[str],
    min_category_count: int,
    blank: tuple[str, ...] = (),
    rows: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[CategoryEncoder, np.ndarray, np.ndarray]:
    """The encoder fit on the fit rows and what LightGBM reads of both slices (`matrix`).

    LightGBM reads the encoder's matrix, not a frame of `enc.transform`: from a frame it would
    copy the rows once more as float64 (category codes with NaN), 8 bytes per cell where float32
    numbers need 4. The same values, names and categorical columns give the same trees (the
    model text is the same). `rows`: the positions of the fit and validation rows in `X_fit`
    and `X_val` (training passes its whole frame twice), read without slicing the frame.
    `blank`: columns the trees may not use (missing in every row)."""
    fit_rows, val_rows = rows if rows is not None else (None, None)
    enc = CategoryEncoder(categorical, min_category_count, tuple(blank))
    enc.fit(X_fit, rows=fit_rows)
    m_fit = enc.matrix(X_fit, enc.float_dtype_, fit_rows)
    return enc, m_fit, enc.matrix(X_val, enc.float_dtype_, val_rows)


def fit_encoded(
    enc: CategoryEncoder,
    m_fit: np.ndarray,
    y_fit: np.ndarray,
    m_val: np.ndarray,
    y_val: np.ndarray,
    params: LightGBMParams,
    seed: int,
    threads: int = 2,
) -> Pipeline:
    """LightGBM on `booster_inputs`, early-stopped on the validation matrix; the booster keeps
    the category lists it would have taken from a frame, so it reads frames as before."""
    params = size_aware(params, len(m_fit))
    clf = LGBMConversionClassifier(**booster_params(params, seed, threads))
    clf.fit(
        m_fit,
        y_fit,
        eval_X=(m_val,),
        eval_y=(y_val,),
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
        **enc.lightgbm_inputs(),
    )
    clf.booster_.pandas_categorical = enc.pandas_categorical()
    return Pipeline([("encode", enc), ("lgbm", clf)])


def booster_params(params: LightGBMParams, seed: int, threads: int) -> dict:
    """The keyword arguments of the booster recipe, for LightGBM's classifier here and for
    `lightgbm.dask.DaskLGBMClassifier` on a cluster (`pipeline.training.distributed`)."""
    return {
        "n_estimators": params.n_estimators,
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "min_child_samples": params.min_child_samples,
        "subsample": params.subsample,
        "subsample_freq": 1,
        "colsample_bytree": params.colsample_bytree,
        "reg_lambda": params.reg_lambda,
        **_imbalance(params),
        "random_state": seed,
        "n_jobs": threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


def _imbalance(params: LightGBMParams) -> dict:
    """Class re-weighting, only when the config asks for it (`is_unbalance`, `scale_pos_weight`):
    it skews the raw scores, and calibration on unweighted validation rows undoes that."""
    if params.is_unbalance:
        return {"is_unbalance": True}
    if params.scale_pos_weight != 1.0:
        return {"scale_pos_weight": params.scale_pos_weight}
    return {}


def logistic_fit_rows(cfg: Config, rows: TrainingRows, fit_m: np.ndarray) -> np.ndarray:
    """Positions of the rows of `fit_m` the logistic model learns from: all of them up to
    `training.scale.logreg_rows`, else a seeded sample of that many.

    One cap at every data size, so more data never means fewer rows. It bounds the single-core
    lbfgs time (the slowest step at 100k+ leads). It is set high enough to keep a 20k-lead
    export's ~90k fit snapshots whole: on the sample a 50k sample cost the logistic model 0.002
    validation AUC, and the logistic model is both a candidate and the baseline the gate reads.
    """
    cap = cfg.training.scale.logreg_rows
    fit_rows = np.flatnonzero(fit_m)
    if len(fit_rows) > cap:
        rng = np.random.default_rng(cfg.training.seed)
        fit_rows = np.sort(rng.choice(fit_rows, cap, False))
    return fit_rows


def fit_logistic_on(cfg: Config, rows: TrainingRows, fit_m: np.ndarray) -> Pipeline:
    """The logistic regression on (a capped sample of) the rows of `fit_m`."""
    fit_rows = logistic_fit_rows(cfg, rows, fit_m)
    # At scale, one BLAS thread: on ~150 columns two threads spend more time waiting for each
    # other than computing (4x slower measured on 2 cores). Not below the threshold: the thread
    # count changes the last digits of the coefficients, and small data keeps its metrics.
    with threadpool_limits(1) if rows.at_scale else nullcontext():
        return fit_logistic(
            rows.X.iloc[fit_rows], rows.y[fit_rows], rows.builder.categorical, cfg.training.seed
        )


def fit_candidate(
    name: str,
    cfg: Config,
    rows: TrainingRows,
    fit_m: np.ndarray,
    val_m: np.ndarray,
    params: LightGBMParams | None = None,
    threads: int = 2,
) -> Pipeline:
    """Candidate `name` fitted on the rows of `fit_m`: the logistic regression (capped; nothing
    early-stops, `val_m` is for calibration), or the booster early-stopped on `val_m`, with
    `params` (default: the config's, adapted to the training size)."""
    if name == LOGISTIC:
        return fit_logistic_on(cfg, rows, fit_m)
    tc = cfg.training
    enc, m_fit, m_val = booster_inputs(
        rows.X,
        rows.X,
        rows.builder.categorical,
        tc.min_category_count,
        left_out_context(cfg),
        rows=(np.flatnonzero(fit_m), np.flatnonzero(val_m)),
    )
    params = params if params is not None else size_aware(tc.lightgbm, rows.size_rows)
    y_fit, y_val = rows.y[fit_m], rows.y[val_m]
    return fit_encoded(enc, m_fit, y_fit, m_val, y_val, params, tc.seed, threads=threads)


def context_chosen(cfg: Config, cand: CandidateChoice) -> Config:
    """`cfg` with `training.context` set to what `auto` chose, so every later refit of the
    recipe (segments, backtests) learns from the same columns without choosing again."""
    if cand.context is None:
        return cfg
    out = cfg.model_copy(deep=True)
    out.training.context = cand.context
    return out


def context_in_model(cfg: Config) -> str:
    """The run's word for the context columns: none (no schema.context), use or leave_out."""
    if not cfg.schema.context:
        return "none"
    return "leave_out" if cfg.training.context == "leave_out" else "use"


def left_out_context(cfg: Config) -> tuple[str, ...]:
    """The `schema.context` columns the booster may not learn from: all of them when
    `training.context` is `leave_out` (set by the user, or by `auto` once validation chose)."""
    return tuple(cfg.schema.context) if cfg.training.context == "leave_out" else ()


def fit_logistic_candidate(cfg: Config, rows: TrainingRows) -> Pipeline:
    """The logistic regression on (a capped sample of) the fit slice."""
    return fit_candidate(LOGISTIC, cfg, rows, rows.part("fit"), rows.part("val"))


def fit_lightgbm_candidate(cfg: Config, rows: TrainingRows) -> Pipeline:
    """The booster on the fit slice, early-stopped on the validation slice."""
    return fit_candidate(LIGHTGBM, cfg, rows, rows.part("fit"), rows.part("val"))


def choose_candidate(
    cfg: Config, rows: TrainingRows, workers: Executor, prefit: dict[str, Pipeline] | None = None
) -> CandidateChoice:
    """Fit the configured candidates (the logistic one in `workers`, beside the booster) and pick
    the highest AUC on the validation leads (one row each). `prefit`: candidates fitted
    elsewhere (the booster on a Dask cluster), taken as they are."""
    names = list(dict.fromkeys(cfg.training.candidates))
    models = {n: m for n, m in (prefit or {}).items() if n in names}
    pending = {}
    if LOGISTIC in names and LOGISTIC not in models:
        # beside the booster, except at scale: there its ~0.45 GB of transformed rows would sit
        # on top of the booster's matrix at the peak of training (1M leads: 4.3 GB), and on two
        # cores the booster's two threads wait for each other while a third thread runs anyway
        if rows.at_scale:
            models[LOGISTIC] = fit_logistic_candidate(cfg, rows)
        else:
            pending[LOGISTIC] = workers.submit(fit_logistic_candidate, cfg, rows)
    context_auc: dict[str, float] = {}
    if LIGHTGBM in names and LIGHTGBM not in models:
        models[LIGHTGBM], context_auc = _booster_with_or_without_context(cfg, rows)
    models.update({k: f.result() for k, f in pending.items()})
    val_auc = {n: _val_auc(rows, models[n]) for n in names}
    best = max(names, key=lambda n: (val_auc[n], -names.index(n)))
    fit_m = rows.part("fit")
    n_logistic = len(logistic_fit_rows(cfg, rows, fit_m)) if LOGISTIC in names else 0
    models = {n: models[n] for n in names}
    return CandidateChoice(best, val_auc, models, n_logistic, context_auc)


def _val_auc(rows: TrainingRows, model: Pipeline) -> float:
    """AUC on the validation leads (one row each): what every choice of recipe is made on."""
    vl = rows.part("val") & rows.one_per_lead
    return float(roc_auc_score(rows.y[vl], model.predict_proba(rows.X[vl])[:, 1]))


def _booster_with_or_without_context(
    cfg: Config, rows: TrainingRows
) -> tuple[Pipeline, dict[str, float]]:
    """The booster; with `training.context: auto` and `schema.context` columns, fit both with
    and without them and keep the better on the validation leads (ties keep them).

    Period columns (rates, indices, the month's campaign) take values in the newest weeks that
    older rows never had, so trees fit on the past can rank the newest leads worse than without
    them (a real phone-campaign export: 0.43 validation AUC with its five economic indicators,
    0.63 without). Which way a given export goes is an empirical question, asked of the leads
    newer than the fit ones, never of the test leads."""
    if cfg.training.context != "auto" or not cfg.schema.context:
        return fit_lightgbm_candidate(cfg, rows), {}
    fitted = {}
    for choice in ("use", "leave_out"):
        trial = cfg.model_copy(deep=True)
        trial.training.context = choice
        fitted[choice] = fit_lightgbm_candidate(trial, rows)
    vl = rows.part("val") & rows.one_per_lead
    p = {k: m.predict_proba(rows.X[vl])[:, 1] for k, m in fitted.items()}
    test = delong(rows.y[vl], p["leave_out"], p["use"])
    auc = {"use": test.auc_b, "leave_out": test.auc_a, "p": test.p}
    return fitted[context_choice(auc)], auc


def context_choice(auc: dict[str, float]) -> str:
    """ "leave_out" only when the validation leads rank significantly better without the context
    columns (DeLong, two-sided p < CONTEXT_ALPHA): a small validation slice's noise never takes
    away what the user listed (a 0.860 against 0.850 on 3,000 leads, p = 0.4, once cost 0.05
    test AUC)."""
    better = auc["leave_out"] > auc["use"] and auc.get("p", 0.0) < CONTEXT_ALPHA
    return "leave_out" if better else "use"


def candidate_info(
    cand: CandidateChoice, rows: TrainingRows, test: np.ndarray
) -> tuple[dict[str, object], dict[str, float]]:
    """Which candidate won on validation and by how much (run params), and the metrics: every
    candidate's validation AUC and, for the record only, its uncalibrated test AUC. The choice
    never read test."""
    metrics: dict[str, float] = {}
    for name, model in cand.models.items():
        metrics[f"candidate_{name}_val_roc_auc"] = cand.val_auc[name]
        p = model.predict_proba(rows.X[test])[:, 1]
        metrics[f"candidate_{name}_test_roc_auc"] = classification_metrics(rows.y[test], p)[
            "test_roc_auc"
        ]
    metrics["candidate_val_auc_margin"] = cand.margin
    if cand.context_val_auc:  # training.context: auto compared the booster with and without
        metrics["context_val_roc_auc_with"] = cand.context_val_auc["use"]
        metrics["context_val_roc_auc_without"] = cand.context_val_auc["leave_out"]
        metrics["context_val_p"] = cand.context_val_auc["p"]
    # the logistic baseline is the served model itself: "does it beat logistic" has no meaning
    metrics["baseline_logreg_is_served"] = float(cand.name == LOGISTIC)
    info = {
        "candidate": cand.name,
        "candidate_val_roc_auc": dict(cand.val_auc),
        "candidate_logistic_fit_rows": cand.logistic_rows,
    }
    return info, metrics
