"""Training at scale: the size shortcuts start only above `training.scale.min_snapshots`, keep
every lead, and below it nothing changes. Exactness of the shared code paths (calibration on
scores, the category encoder) is checked against the plain scikit-learn way."""

import contextlib
import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss

import pipeline.modeling.candidates as choose_mod
import pipeline.training.backtest as backtest
import pipeline.training.train as train_mod
from pipeline.config import Config, LightGBMParams, load_config
from pipeline.features.snapshots import last_snapshot, snapshot_times
from pipeline.jobs import load_training_data
from pipeline.modeling.booster import OTHER, CategoryEncoder
from pipeline.modeling.calibration import (
    calibrated_probabilities,
    choose_and_fit_calibrator,
)
from pipeline.modeling.candidates import fit_booster
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import prepare_training_rows
from pipeline.synthetic.sample import generate, write_sample
from tests.conftest import write_config


def scaled(cfg: Config, **scale) -> Config:
    """`cfg` with the shortcuts forced on (min_snapshots 0) and `scale` overrides."""
    c = cfg.model_copy(deep=True)
    c.training.scale = c.training.scale.model_copy(update={"min_snapshots": 0, **scale})
    return c


@pytest.fixture(scope="module")
def data(sample_config: Config):
    return load_training_data(sample_config)


@pytest.fixture(scope="module")
def exact_rows(sample_config: Config, data):
    return prepare_training_rows(sample_config, *data)


@pytest.fixture(scope="module")
def scale_rows(sample_config: Config, data):
    return prepare_training_rows(scaled(sample_config), *data)


def test_below_the_threshold_rows_are_every_snapshot_in_float64(sample_config, data, exact_rows):
    leads, _ = data
    assert sample_config.training.scale.min_snapshots > exact_rows.candidate_snapshots
    assert not exact_rows.at_scale
    assert len(exact_rows.snaps) == exact_rows.candidate_snapshots
    split = exact_rows.snaps["split"].unique()
    all_snaps = snapshot_times(leads[leads.index.isin(exact_rows.snaps["lead_id"])], [1])
    assert len(all_snaps) and set(split) == {"fit", "val", "test"}
    num = [c for c in exact_rows.X.columns if c not in exact_rows.builder.categorical]
    assert (exact_rows.X[num].dtypes == np.float64).all()
    assert exact_rows.size_rows == int(exact_rows.part("fit").sum())


def test_at_scale_rows_keep_every_lead_and_its_last_snapshot(exact_rows, scale_rows):
    per_lead = scale_rows.snaps.groupby("lead_id").size()
    assert scale_rows.at_scale
    assert per_lead.max() == Config().training.scale.snapshots_per_lead
    assert set(scale_rows.snaps["lead_id"]) == set(exact_rows.snaps["lead_id"])
    assert scale_rows.candidate_snapshots == len(exact_rows.snaps)
    # the last snapshots (test metrics, cutoffs, score reference) are the same rows
    cols = ["lead_id", "as_of", "split"]
    a = (
        exact_rows.snaps.loc[exact_rows.one_per_lead, cols]
        .sort_values("lead_id")
        .reset_index(drop=True)
    )
    b = (
        scale_rows.snaps.loc[scale_rows.one_per_lead, cols]
        .sort_values("lead_id")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(a, b)
    # each kept row has the features it has without sampling, rounded to float32
    key = exact_rows.snaps[["lead_id", "as_of"]].astype(str).agg("|".join, axis=1)
    pos = pd.Index(key).get_indexer(
        scale_rows.snaps[["lead_id", "as_of"]].astype(str).agg("|".join, axis=1)
    )
    assert (pos >= 0).all()
    num = [c for c in exact_rows.X.columns if c not in exact_rows.builder.categorical]
    assert (scale_rows.X[num].dtypes == np.float32).all()
    np.testing.assert_array_equal(
        scale_rows.X[num].to_numpy(), exact_rows.X[num].to_numpy()[pos].astype(np.float32)
    )
    # size-aware parameters go by the rows before sampling
    assert scale_rows.size_rows == int(exact_rows.part("fit").sum())


def test_sampling_is_deterministic(sample_config, data, scale_rows):
    again = prepare_training_rows(scaled(sample_config), *data)
    pd.testing.assert_frame_equal(again.snaps, scale_rows.snaps)
    other = prepare_training_rows(scaled(sample_config), *data, with_test=False)
    # tuning drops the test leads and keeps exactly the same other rows
    pd.testing.assert_frame_equal(
        other.snaps, scale_rows.snaps[scale_rows.part("test") == 0].reset_index(drop=True)
    )


def test_snapshots_per_lead_zero_keeps_every_snapshot(sample_config, data, exact_rows):
    rows = prepare_training_rows(scaled(sample_config, snapshots_per_lead=0, float32=False), *data)
    assert rows.at_scale
    pd.testing.assert_frame_equal(rows.snaps, exact_rows.snaps)
    pd.testing.assert_frame_equal(rows.X, exact_rows.X)


def test_backtests_refit_exactly_below_the_threshold(sample_config, exact_rows, scale_rows):
    assert backtest.refit_plan(sample_config, exact_rows) == backtest.Refit()
    assert backtest.Refit().max_fit_rows == backtest.MAX_FIT_ROWS
    big = scaled(sample_config)
    plan = backtest.refit_plan(big, scale_rows)
    assert plan.max_fit_rows == plan.max_val_rows == big.training.scale.backtest_fit_rows
    assert plan.params == size_aware(big.training.lightgbm, scale_rows.size_rows)
    off = scaled(sample_config, backtest_main_params=False)
    assert backtest.refit_plan(off, scale_rows).params is None


def _recorded_backtests(monkeypatch, cfg, leads, rows):
    seen = []
    real = choose_mod.fit_encoded  # every booster fit passes here (fit_booster too)

    def spy(enc, m_fit, y_fit, m_val, y_val, params, seed, **kw):
        seen.append((len(m_fit), params))
        return real(enc, m_fit, y_fit, m_val, y_val, params, seed, **kw)

    monkeypatch.setattr(choose_mod, "fit_encoded", spy)
    table, _ = run_backtests(cfg, leads, rows, "sigmoid")
    return table, seen


@pytest.mark.slow
def test_at_scale_backtest_path_only_above_the_threshold(
    monkeypatch, sample_config, data, exact_rows, scale_rows
):
    leads, _ = data
    _, exact = _recorded_backtests(monkeypatch, sample_config, leads, exact_rows)
    assert exact
    for n, params in exact:  # size-aware for each period's own rows: today's recipe
        assert params == size_aware(sample_config.training.lightgbm, n)
    big = scaled(sample_config, backtest_fit_rows=3000)
    table, fast = _recorded_backtests(monkeypatch, big, leads, scale_rows)
    main = size_aware(big.training.lightgbm, scale_rows.size_rows)
    patience = big.training.scale.backtest_early_stopping_rounds
    assert patience != main.early_stopping_rounds  # the shorter patience is visible below
    main = main.model_copy(update={"early_stopping_rounds": patience})
    assert fast and all(p == main and n <= 3000 for n, p in fast)
    assert (table["fit_rows"] <= 3000).all()


@pytest.mark.slow
def test_backtests_in_worker_threads_equal_one_after_another(monkeypatch, sample_config, data):
    """The refits run two at a time on one LightGBM thread each; one at a time on two threads
    (how they ran before) must give the same table to the last digit."""
    leads, _ = data
    cfg = sample_config.model_copy(deep=True)
    cfg.training.backtest_months = 3
    rows = prepare_training_rows(cfg, *data)
    threads, real = [], choose_mod.fit_encoded

    def fit(*a, **k):
        threads.append(k["threads"])
        return real(*a, **k)

    monkeypatch.setattr(choose_mod, "fit_encoded", fit)
    together, mode = run_backtests(cfg, leads, rows, "sigmoid")
    assert mode == "monthly" and len(together) == 3 and set(threads) == {1}
    monkeypatch.setattr(backtest, "WORKERS", 1)
    monkeypatch.setattr(choose_mod, "fit_encoded", lambda *a, **k: real(*a, **{**k, "threads": 2}))
    alone, _ = run_backtests(cfg, leads, rows, "sigmoid")
    pd.testing.assert_frame_equal(together, alone, check_exact=True)


@pytest.mark.slow
def test_logistic_cap_is_one_cap_at_every_size(monkeypatch, sample_config, exact_rows):
    """More data never means fewer logistic rows: the same cap below and above the threshold."""
    sizes = []
    real = choose_mod.fit_logistic
    monkeypatch.setattr(
        choose_mod, "fit_logistic", lambda X, y, c, s: sizes.append(len(X)) or real(X, y, c, s)
    )
    test = exact_rows.part("test") & exact_rows.one_per_lead
    n_fit = int(exact_rows.part("fit").sum())
    train_mod.logreg_baseline(scaled(sample_config, logreg_rows=n_fit + 1), exact_rows, test)
    cfg = scaled(sample_config, logreg_rows=2000)
    train_mod.logreg_baseline(cfg, exact_rows, test)  # rows not at scale: capped all the same
    exact_rows.at_scale = True
    try:
        train_mod.logreg_baseline(cfg, exact_rows, test)
    finally:
        exact_rows.at_scale = False
    assert sizes == [n_fit, 2000, 2000]


@pytest.mark.slow
def test_calibration_on_scores_equals_calibrating_the_model(exact_rows):
    rows = exact_rows
    fit, val, test = rows.part("fit"), rows.part("val"), rows.part("test") & rows.one_per_lead
    params = LightGBMParams(n_estimators=60)
    model = fit_booster(
        rows.X[fit], rows.y[fit], rows.X[val], rows.y[val], rows.builder.categorical, params, 0
    )
    Xv, yv, groups = rows.X[val], rows.y[val], rows.lead_ids[val]
    cal, choice = choose_and_fit_calibrator(model, Xv, yv, groups, "auto", 42)
    # the definition: trial calibrators on the model itself, halves by lead
    uniq = np.unique(groups)
    half = set(np.random.default_rng(42).permutation(uniq)[: len(uniq) // 2].tolist())
    a = np.fromiter((g in half for g in groups), bool, len(groups))
    for m in ("isotonic", "sigmoid"):
        total = 0.0
        for tr in (a, ~a):
            c = CalibratedClassifierCV(FrozenEstimator(model), method=m).fit(Xv[tr], yv[tr])
            total += log_loss(yv[~tr], c.predict_proba(Xv[~tr])[:, 1], labels=[0, 1])
        assert choice.heldout_log_loss[m] == total / 2
    p, again = calibrated_probabilities(model, Xv, yv, groups, "auto", 42, rows.X[test])
    assert again == choice
    np.testing.assert_array_equal(p, cal.predict_proba(rows.X[test])[:, 1])


def test_category_encoder_codes_and_precision():
    X = pd.DataFrame(
        {
            "industry": pd.array(["a", "a", "b", None, "c", "a"], dtype="str"),
            "n": np.array([1.5, 2.0, np.nan, 4.0, 5.0, 6.0], np.float32),
        }
    )
    enc = CategoryEncoder(["industry"], min_count=2).fit(X)
    out = enc.transform(X)
    assert list(out.columns) == enc.safe_names_ == ["f0_industry", "f1_n"]  # LightGBM's names
    out.columns = enc.feature_names_in_  # the export's names, for the checks below
    assert enc.categories_["industry"] == ["a", OTHER]
    assert out["industry"].astype(object).tolist()[:5] == ["a", "a", OTHER, np.nan, OTHER]
    assert out["n"].dtype == np.float32 and enc.float_dtype_ == np.float32
    # scoring builds float64 features: they reach the trees in the precision they were fit in
    scored = enc.transform(
        X.astype({"n": np.float64}).assign(industry=["z", "a", None, "b", "a", "a"])
    ).set_axis(enc.feature_names_in_, axis=1)
    assert scored["n"].dtype == np.float32
    assert scored["industry"].astype(object).tolist()[:3] == [OTHER, "a", np.nan]
    enc64 = CategoryEncoder(["industry"], min_count=2).fit(X.astype({"n": np.float64}))
    assert enc64.transform(X)["f1_n"].dtype == np.float64


def test_last_snapshot_rows_unchanged_by_sampling_order(scale_rows):
    last = np.zeros(len(scale_rows.snaps), bool)
    last[last_snapshot(scale_rows.snaps)] = True
    np.testing.assert_array_equal(last, scale_rows.one_per_lead)


def test_leaving_the_worker_pool_early_cancels_the_refits_not_started():
    """Ctrl-C or an error in training's own steps must not wait for every queued refit."""
    started = threading.Semaphore(0)
    release = threading.Event()

    def refit():
        started.release()
        release.wait(5)

    futures = []
    with pytest.raises(RuntimeError), backtest.worker_pool() as pool:
        futures += [pool.submit(refit) for _ in range(8)]
        for _ in range(backtest.WORKERS):  # every worker is busy and stays so until released
            assert started.acquire(timeout=5)
        threading.Timer(0.2, release.set).start()  # lets the running ones end after the exit
        raise RuntimeError("interrupted")
    assert sum(f.cancelled() for f in futures) == 8 - backtest.WORKERS
    assert all(f.done() for f in futures)


@pytest.mark.slow
def test_train_with_a_pool_leaves_the_backtests_to_finish(tmp_path):
    """`leadscore train` draws figures while the refits end: `train(pool=...)` returns before
    the backtest table exists, and `finish()` makes the result equal to a plain `train`."""
    write_sample(generate(2000, seed=11), tmp_path / "raw")
    cfg = load_config(
        write_config(tmp_path / "c.yaml", tmp_path / "raw", training={"backtest_months": 2})
    )
    leads, events = load_training_data(cfg)
    with backtest.worker_pool() as pool:
        early = train_mod.train(cfg, leads, events, pool=pool)
        assert early.pending is not None and "backtest" not in early.extra_tables
        assert not any(k.startswith("backtest_") for k in early.metrics)
        early.finish()
    assert early.pending is None and early.finish() is early
    plain = train_mod.train(cfg, leads, events)
    pd.testing.assert_frame_equal(early.extra_tables["backtest"], plain.extra_tables["backtest"])
    assert list(early.metrics) == list(plain.metrics)
    np.testing.assert_array_equal(list(early.metrics.values()), list(plain.metrics.values()))


def run_backtests(*args):
    """Every backtest refit, waited for: the table and the mode."""
    with backtest.worker_pool() as pool:
        done = backtest.start_backtests(*args[:4], pool, *args[4:])()
    return done.table, done.mode


@pytest.mark.slow  # starts the backtests (their refits stubbed)
@pytest.mark.parametrize("at_scale", [False, True])
def test_at_scale_backtest_refits_run_one_at_a_time(monkeypatch, sample_config, data, at_scale):
    """Two refits side by side made the memory peak of a 1M-lead training: at scale they take
    turns (each still its own future in the pool); below it two run at once."""
    leads, _ = data
    cfg = sample_config.model_copy(deep=True)
    cfg.training.backtest_months = 4
    rows = prepare_training_rows(cfg, *data)
    rows.at_scale = at_scale
    lock, running, most, ran = threading.Lock(), [0], [0], []
    both = threading.Barrier(2, timeout=0.5)  # released only if two refits are in at once

    def refit(_cfg, _rows, _codes, period, *rest):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait()
        with lock:
            running[0] -= 1
            ran.append(period.name)
        return None

    monkeypatch.setattr(backtest, "_fit_and_test", refit)
    with backtest.worker_pool() as pool:
        result = backtest.start_backtests(cfg, leads, rows, "sigmoid", pool)()
    assert len(ran) == len(result.skipped) >= 2  # every period ran (a None refit is skipped)
    assert most[0] == (1 if at_scale else 2)


@pytest.mark.parametrize("at_scale", [False, True])
def test_at_scale_the_logistic_candidate_is_fit_before_the_booster(
    monkeypatch, sample_config, exact_rows, at_scale
):
    """At scale the logistic fit does not run beside the booster's (their memory would add up at
    the peak): it runs first, on the calling thread; below the threshold it runs in the pool."""
    ran = []

    def logistic(cfg, rows):
        ran.append(("logistic", threading.current_thread() is threading.main_thread()))
        return "logistic model"

    def booster(cfg, rows):
        ran.append(("lightgbm", threading.current_thread() is threading.main_thread()))
        return "lightgbm model", {}

    monkeypatch.setattr(choose_mod, "fit_logistic_candidate", logistic)
    monkeypatch.setattr(choose_mod, "_booster_with_or_without_context", booster)
    monkeypatch.setattr(choose_mod, "_val_auc", lambda rows, model: 0.5)
    monkeypatch.setattr(exact_rows, "at_scale", at_scale)
    cfg = sample_config.model_copy(deep=True)
    cfg.training.candidates = ["lightgbm", "logistic"]
    with backtest.worker_pool() as pool:
        choice = choose_mod.choose_candidate(cfg, exact_rows, pool)
    assert set(choice.models) == {"lightgbm", "logistic"}
    if at_scale:
        assert ran == [("logistic", True), ("lightgbm", True)]
    else:
        assert ("logistic", False) in ran and ("lightgbm", True) in ran


@pytest.mark.slow
def test_training_lets_the_events_frame_go_once_its_rows_are_built(monkeypatch, sample_config):
    """The events frame (0.3 GB at 1M leads) is not held while the booster fits: nothing after
    the rows are built reads it, and the run's inputs keep only its facts."""
    import gc
    import weakref

    from pipeline.io.eventfacts import EventFacts
    from pipeline.jobs import TrainingInputs, train_on_engine

    leads, events = load_training_data(sample_config)
    n, gone = len(events), weakref.ref(events)
    data = TrainingInputs(leads, events)
    del events
    seen, real = [], train_mod.fit_scorer

    def fit_scorer(*a, **k):
        gc.collect()
        seen.append(gone() is None)
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "fit_scorer", fit_scorer)
    with backtest.worker_pool() as pool:
        result = train_on_engine(sample_config, data, None, pool, {}).finish()
    assert seen == [True]
    assert isinstance(data.events, EventFacts) and data.events.events == n
    assert result.info["rows_events"] == n
