"""The booster's inputs read by row positions are the inputs of the sliced frame, bit for bit:
training passes its whole feature frame and the fit/validation positions instead of slicing it
(a slice of the 1M-lead frame is 0.55 GB), and nothing the trees see may change for that."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import LightGBMParams
from pipeline.modeling.booster import CategoryEncoder
from pipeline.modeling.candidates import booster_inputs, fit_encoded


def _frame(seed: int, n: int, float32: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ind = rng.choice(
        ["Retail", "Banking", "Energy", "Rare", None], n, p=[0.4, 0.3, 0.2, 0.05, 0.05]
    )
    budget = rng.lognormal(10, 1, n)
    budget[rng.random(n) < 0.1] = np.nan
    dtype = np.float32 if float32 else np.float64
    return pd.DataFrame(
        {
            "visits": rng.poisson(2, n).astype(dtype),
            "industry": pd.array(ind, dtype="string"),
            "budget": budget.astype(dtype),
            "region": pd.Series(rng.choice(["EU", "US"], n), dtype=object),
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 300),
    float32=st.booleans(),
    blank=st.sampled_from([(), ("budget",), ("region",)]),
    data=st.data(),
)
def test_inputs_by_positions_equal_inputs_of_the_slices(seed, n, float32, blank, data):
    X = _frame(seed, n, float32)
    fit = np.sort(data.draw(st.lists(st.integers(0, n - 1), min_size=1, unique=True)))
    val = np.sort(data.draw(st.lists(st.integers(0, n - 1), min_size=1, unique=True)))
    cats = ["industry", "region"]
    enc_s, fit_s, val_s = booster_inputs(X.iloc[fit], X.iloc[val], cats, 3, blank)
    enc_p, fit_p, val_p = booster_inputs(X, X, cats, 3, blank, rows=(fit, val))
    assert enc_p.categories_ == enc_s.categories_
    assert enc_p.float_dtype_ == enc_s.float_dtype_
    assert list(enc_p.safe_names_) == list(enc_s.safe_names_)
    for a, b in ((fit_p, fit_s), (val_p, val_s)):
        assert a.dtype == b.dtype and a.shape == b.shape and a.flags.f_contiguous
        np.testing.assert_array_equal(a, b)  # NaN where NaN, every other cell equal


def test_scoring_matrix_by_positions_equals_the_slices():
    X = _frame(7, 500, False)
    enc = CategoryEncoder(["industry", "region"], 5).fit(X)
    rows = np.array([3, 3, 499, 0, 17])  # any order, repeats allowed
    np.testing.assert_array_equal(enc.matrix(X, rows=rows), enc.matrix(X.iloc[rows]))


@pytest.mark.slow
def test_booster_fit_by_positions_has_the_same_trees():
    X = _frame(11, 3000, True)
    rng = np.random.default_rng(0)
    y = (
        rng.random(3000) < 0.2 + 0.3 * (X["industry"] == "Banking").fillna(False).to_numpy(bool)
    ).astype(int)
    fit, val = np.arange(0, 2000), np.arange(2000, 3000)
    params = LightGBMParams(n_estimators=40, early_stopping_rounds=10)
    cats = ["industry", "region"]
    enc, m_fit, m_val = booster_inputs(X.iloc[fit], X.iloc[val], cats, 20)
    sliced = fit_encoded(enc, m_fit, y[fit], m_val, y[val], params, 1)
    enc, m_fit, m_val = booster_inputs(X, X, cats, 20, rows=(fit, val))
    by_rows = fit_encoded(enc, m_fit, y[fit], m_val, y[val], params, 1)
    text = [m.named_steps["lgbm"].booster_.model_to_string() for m in (sliced, by_rows)]
    assert text[0] == text[1]
