"""One encoding for the probability and the SHAP walk gives exactly the calibrator's answers."""

import numpy as np
import pandas as pd
import pytest

from pipeline.config import LightGBMParams
from pipeline.modeling import encoded
from pipeline.modeling.calibration import _calibrate
from pipeline.modeling.candidates import fit_booster
from pipeline.modeling.scorer import booster_contributions

pytestmark = pytest.mark.slow  # fits a small booster


def _frame(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    ind = rng.choice(["Retail", "Banking", "Energy", "Rare"], n, p=[0.4, 0.3, 0.29, 0.01])
    budget = rng.lognormal(10, 1, n)
    budget[rng.random(n) < 0.1] = np.nan
    X = pd.DataFrame(
        {"industry": ind.astype(object), "budget": budget, "visits": rng.poisson(2, n)}
    )
    logit = (ind == "Banking") * 1.5 + np.nan_to_num(np.log(budget) - 10) + 0.4 * X["visits"] - 2
    return X.astype({"visits": float}), (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


@pytest.fixture(scope="module", params=["isotonic", "sigmoid"])
def model(request):
    rng = np.random.default_rng(3)
    X, y = _frame(rng, 4000)
    params = LightGBMParams(n_estimators=60, early_stopping_rounds=20)
    booster = fit_booster(X[:2500], y[:2500], X[2500:3200], y[2500:3200], ["industry"], params, 1)
    cal = _calibrate(booster, X[3200:], y[3200:], request.param)
    new, _ = _frame(np.random.default_rng(4), 3000)
    new.loc[:20, "industry"] = "Never Seen"  # rare and unseen values: the encoder's __other__
    new.loc[20:40, "industry"] = None
    return booster, cal, new


def test_probability_from_the_encoded_matrix_is_the_calibrators_to_the_bit(model):
    booster, cal, X = model
    e = encoded.encode(booster, X)
    np.testing.assert_array_equal(e.raw, booster.decision_function(X))
    np.testing.assert_array_equal(encoded.calibrated(cal, e.raw), cal.predict_proba(X))


def test_shap_values_from_the_encoded_matrix_are_lightgbms(model):
    booster, _, X = model
    e = encoded.encode(booster, X)
    enc = booster.named_steps["encode"].transform(X)
    want = booster.named_steps["lgbm"].booster_.predict(enc, pred_contrib=True)
    np.testing.assert_allclose(encoded.contributions(booster, e.matrix), want, atol=1e-9)
    np.testing.assert_allclose(booster_contributions(booster, X)[0], want[:, :-1], atol=1e-9)
