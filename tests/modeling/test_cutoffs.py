import numpy as np

from pipeline.config import TargetsConfig
from pipeline.modeling.cutoffs import (
    choose_cutoffs,
    threshold_for_capacity,
    threshold_for_precision,
    threshold_for_recall,
)


def data(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 8, n)
    y = (rng.random(n) < p).astype(int)
    return p, y


def test_precision_cutoff_meets_target_with_most_leads():
    p, y = data()
    t = threshold_for_precision(p, y, 0.5)
    assert y[p >= t].mean() >= 0.5
    lower = np.max(p[p < t])  # the next cutoff down would miss the target
    assert y[p >= lower].mean() < 0.5 or lower == t


def test_recall_cutoff_keeps_target_share_of_wins():
    p, y = data()
    t = threshold_for_recall(p, y, 0.8)
    assert (p[y == 1] >= t).mean() >= 0.8
    assert (p[y == 1] > t).mean() < 0.8


def test_capacity_cutoff_sends_the_top_n_per_month():
    p, _ = data()
    t = threshold_for_capacity(p, months=2.0, capacity_per_month=100)
    assert (p >= t).sum() == 200


def test_mql_never_above_sql():
    p, y = data()
    c = choose_cutoffs(
        p,
        y,
        TargetsConfig.model_validate({"sql": {"precision": 0.05}, "mql": {"recall": 0.99}}),
        1.0,
    )
    assert c.mql <= c.sql
    stages = c.stage(np.array([0.0, c.mql, c.sql]))
    assert list(stages) == ["lead", "MQL" if c.mql < c.sql else "SQL", "SQL"]
