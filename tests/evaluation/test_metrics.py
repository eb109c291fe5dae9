import numpy as np
import pandas as pd

from pipeline.evaluation.baselines import points_score
from pipeline.evaluation.metrics import expected_calibration_error, lift_at
from pipeline.modeling.split import TIME, split_leads


def test_ece_is_small_for_calibrated_and_large_for_overconfident():
    rng = np.random.default_rng(1)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p * 1.6, 0, 1)) > 0.1


def test_lift_of_perfect_ranking():
    y = np.r_[np.ones(10), np.zeros(90)]
    assert lift_at(y, -np.arange(100.0), 0.1) == 10.0


def test_lift_follows_the_scores_not_the_row_order():
    """The top share is chosen by score: the same rows give lift 10, 5 or 0 as the scores put
    all, half or none of the wins on top, wherever the wins sit in the file."""
    rng = np.random.default_rng(3)
    order = rng.permutation(100)
    y = np.zeros(100)
    y[order[:10]] = 1  # ten wins scattered over the rows
    perfect = np.where(y == 1, 0.9, 0.1) + rng.random(100) * 0.01
    assert lift_at(y, perfect, 0.1) == 10.0
    assert lift_at(y, 1 - perfect, 0.1) == 0.0
    half = perfect.copy()
    half[order[:5]] = 0.0  # five of the wins drop to the bottom
    assert lift_at(y, half, 0.1) == 5.0
    assert lift_at(y[::-1], perfect[::-1], 0.1) == 10.0


def test_points_score_uses_lifetime_counts():
    X = pd.DataFrame({"email_open_count": [2, 0], "demo_request_count": [0, 1]})
    assert list(points_score(X, {"email_open": 5, "demo_request": 25, "absent": 9})) == [10, 25]


def test_time_split_puts_newest_leads_in_test():
    n = 1000
    leads = pd.DataFrame(
        {
            "_created_at": pd.date_range("2025-01-01", periods=n, freq="h"),
            "_label": np.r_[np.ones(100), np.zeros(n - 100)],
        },
        index=[f"L{i}" for i in range(n)],
    )
    s = split_leads(leads, 0.15, 0.15, 0)
    split, by_time = s.assignment, s.kind == TIME
    assert by_time
    created = leads["_created_at"]
    assert created[split == "fit"].max() < created[split == "val"].min()
    assert created[split == "val"].max() < created[split == "test"].min()
    assert (split == "test").sum() == 150


def test_split_without_dates_is_stratified():
    n = 1000
    leads = pd.DataFrame(
        {"_created_at": pd.NaT, "_label": np.r_[np.ones(100), np.zeros(n - 100)]}, index=range(n)
    )
    s = split_leads(leads, 0.2, 0.2, 0)
    split, by_time = s.assignment, s.kind == TIME
    assert not by_time
    rates = leads["_label"].groupby(split).mean()
    assert np.allclose(rates, 0.1, atol=0.02)
