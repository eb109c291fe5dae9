"""The compiled SHAP table walk: LightGBM's own `pred_contrib` values, the numpy walk's values to
the last bit, on numeric splits with NaN/zero missing handling and categorical splits, across
thread blocks; and the numpy walk when numba is not usable."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from pipeline.explain import compiled, fastshap


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    n = 3_000
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 6, size=n).astype(float),  # categorical codes
            rng.choice([0.0, 1.0, 2.0, np.nan], size=n),  # zeros and missing
            rng.exponential(size=n),
        ]
    )
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.1, 1] = np.nan
    y = ((X[:, 0] > 0) ^ (X[:, 1] % 2 == 0) | (X[:, 2] == 2)).astype(int)
    clf = lgb.LGBMClassifier(
        n_estimators=60, max_depth=3, num_leaves=8, min_child_samples=5, verbose=-1
    )
    clf.fit(X, y, categorical_feature=[1])
    return clf.booster_, X


def _numpy_walk(fast: fastshap.FastTreeShap, X: np.ndarray, monkeypatch) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setattr(compiled, "worth_it", lambda n: False)
        return fast.contributions(X)


def test_compiled_walk_equals_pred_contrib_and_numpy_walk(model, monkeypatch):
    booster, X = model
    assert compiled.available()  # numba works here, so the compiled walk is what is tested
    monkeypatch.setattr(compiled, "BLOCK", 256)  # many blocks on the thread pool
    fast = fastshap.FastTreeShap(booster)
    got = fast.contributions(X)
    ref = booster.predict(X, pred_contrib=True)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    assert np.abs(ref[:, :-1]).sum() > 0
    np.testing.assert_array_equal(got, _numpy_walk(fast, X, monkeypatch))


def test_one_row_and_no_rows(model):
    booster, X = model
    assert compiled.available()  # loaded: one row takes the compiled walk too
    assert compiled.worth_it(1)
    fast = fastshap.FastTreeShap(booster)
    np.testing.assert_allclose(
        fast.contributions(X[5:6]), booster.predict(X[5:6], pred_contrib=True), atol=1e-9
    )
    assert fast.contributions(X[:0]).shape == (0, X.shape[1] + 1)


def test_numpy_walk_without_numba(model, monkeypatch):
    booster, X = model
    fast = fastshap.FastTreeShap(booster)
    got = _numpy_walk(fast, X[:500], monkeypatch)
    np.testing.assert_allclose(got, booster.predict(X[:500], pred_contrib=True), atol=1e-9)


def _raw(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    return booster.predict(X, raw_score=True)


def test_walk_gives_lightgbms_raw_score_to_the_bit(model, monkeypatch):
    """The leaf values summed in model order from 0.0, as LightGBM's PredictRaw: equal, not close,
    so the calibrated probabilities (and the stages at their cutoffs) cannot move."""
    booster, X = model
    monkeypatch.setattr(compiled, "BLOCK", 256)  # many blocks on the thread pool
    fast = fastshap.FastTreeShap(booster)
    phi, raw = fast.contributions_and_raw(X)
    np.testing.assert_array_equal(raw, _raw(booster, X))
    np.testing.assert_array_equal(phi, fast.contributions(X))
    with monkeypatch.context() as m:
        m.setattr(compiled, "worth_it", lambda n: False)
        np.testing.assert_array_equal(fast.contributions_and_raw(X)[1], raw)
    assert fast.contributions_and_raw(X[:0])[1].shape == (0,)


@pytest.mark.slow  # lgb.train: the tier rule counts it as training, though it takes a second
def test_raw_score_with_single_leaf_trees_and_early_stopping():
    """Trees without a split still add their value; an early-stopped model stops at its best
    iteration, as LightGBM's own predict does."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(scale=2.0, size=400) > 0).astype(int)
    stumps = lgb.train(
        {"objective": "binary", "min_data_in_leaf": 300, "verbose": -1},
        lgb.Dataset(X, y),
        num_boost_round=5,
    )
    fast = fastshap.FastTreeShap(stumps)
    assert all(not t.nodes for t in fast.trees)
    np.testing.assert_array_equal(fast.contributions_and_raw(X)[1], _raw(stumps, X))
    train, valid = lgb.Dataset(X[:300], y[:300]), lgb.Dataset(X[300:], y[300:])
    stopped = lgb.train(
        {"objective": "binary", "max_depth": 3, "num_leaves": 8, "verbose": -1},
        train,
        num_boost_round=200,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(3, verbose=False)],
        keep_training_booster=True,  # keeps the trees after the best iteration
    )
    assert 0 < stopped.best_iteration < stopped.num_trees()
    fast = fastshap.FastTreeShap(stopped)
    assert len(fast.trees) == stopped.best_iteration
    np.testing.assert_array_equal(fast.contributions_and_raw(X)[1], _raw(stopped, X))
