"""ScoreCalibrator follows scikit-learn's conventions: the method is its only parameter, `fit`
learns and returns the calibrator, and predicting before `fit` says so."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from pipeline.modeling.calibration import ScoreCalibrator


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_fit_learns_a_monotone_calibration_and_returns_self(method):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-2 * scores))).astype(int)
    cal = ScoreCalibrator(method)
    assert cal.get_params() == {"method": method}
    assert cal.fit(scores, y) is cal
    assert cal.get_params() == {"method": method}
    assert list(cal.classes_) == [0, 1]
    grid = np.linspace(-3, 3, 50)
    p = cal.predict_proba(grid)
    assert p.shape == (50, 2) and np.allclose(p.sum(axis=1), 1)
    assert np.all(np.diff(p[:, 1]) >= 0) and p[0, 1] < 0.2 < 0.8 < p[-1, 1]


def test_predict_before_fit_says_so():
    with pytest.raises(NotFittedError):
        ScoreCalibrator("sigmoid").predict_proba(np.zeros(3))
