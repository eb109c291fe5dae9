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


def _precision_at(p, y, cut):
    return y[p >= cut].mean()


def test_precision_cutoff_meets_target_with_most_leads():
    p, y = data()
    t = threshold_for_precision(p, y, 0.5)
    assert t in p  # a cutoff is one of the observed probabilities
    assert _precision_at(p, y, t) >= 0.5
    # every lower cutoff (each smaller observed probability) misses the target: t keeps most leads
    lower = np.unique(p[p < t])
    assert len(lower) > 0
    assert all(_precision_at(p, y, c) < 0.5 for c in lower)


def test_precision_cutoff_is_the_lowest_qualifying_one_by_brute_force():
    rng = np.random.default_rng(3)
    for target in (0.2, 0.35, 0.5):
        # ties: probabilities on a coarse grid, as isotonic calibration produces
        p = np.round(rng.beta(2, 5, 800), 2)
        y = (rng.random(800) < p).astype(int)
        ok = [c for c in np.unique(p) if _precision_at(p, y, c) >= target]
        assert ok, target
        assert threshold_for_precision(p, y, target) == min(ok), target


def test_precision_cutoff_by_hand_and_out_of_reach():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.2])
    y = np.array([1, 0, 1, 0, 0])
    # precision at 0.9, 0.8, 0.7, 0.6, 0.2: 1, 1/2, 2/3, 1/2, 2/5
    assert threshold_for_precision(p, y, 0.6) == 0.7  # not 0.9: a dip at 0.8 does not stop it
    assert threshold_for_precision(p, y, 0.4) == 0.2
    assert threshold_for_precision(p, y, 1.0) == 0.9
    # no cutoff reaches the target: the highest probability, so SQL is almost empty, not wrong
    assert threshold_for_precision(p, np.zeros(5, int), 0.5) == 0.9


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
