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
