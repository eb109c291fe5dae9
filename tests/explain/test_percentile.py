"""The one percentile rule behind the 0-100 score and both sub-scores: its edge cases pinned."""

from __future__ import annotations

import numpy as np

from pipeline.explain.subscores import percentile, rank_percentile

REF = np.array([0.1, 0.2, 0.2, 0.2, 0.5])  # sorted, with a tie


def test_ties_count_as_at_or_below():
    # 0.2 equals three reference values: it ranks above all of them (4 of 5 at or below)
    got = rank_percentile(REF, np.array([0.2, 0.19, 0.1]))
    assert got.tolist() == [80, 20, 20] and got.dtype.kind == "i"


def test_values_outside_the_reference_clip_to_0_and_100():
    assert rank_percentile(REF, np.array([-5.0, 0.05, 0.5, 9.0])).tolist() == [0, 0, 100, 100]


def test_empty_or_missing_reference_has_no_rank():
    for ref in (np.array([]), None):
        assert np.isnan(rank_percentile(ref, np.array([0.3, 0.7]))).all()
        assert np.isnan(percentile(ref, np.array([0.3]))).all()


def test_nan_value_has_no_rank_and_the_others_keep_theirs():
    got = rank_percentile(REF, np.array([0.2, np.nan, 1.0]))
    assert got[0] == 80 and np.isnan(got[1]) and got[2] == 100


def test_rounding_is_to_the_nearest_integer():
    ref = np.arange(3, dtype=float)  # 1/3 -> 33, 2/3 -> 67
    assert rank_percentile(ref, np.array([0.0, 1.0])).tolist() == [33, 67]


def test_a_constant_side_is_absent_for_sub_scores_but_ranks_for_the_score():
    ref = np.zeros(4)
    assert np.isnan(percentile(ref, np.array([0.0, 1.0]))).all()
    assert rank_percentile(ref, np.array([-1.0, 0.0])).tolist() == [0, 100]


def test_the_score_uses_the_same_rule():
    from pipeline.modeling.scorer import LeadScorer

    s = LeadScorer.__new__(LeadScorer)
    s.score_reference = REF
    p = np.array([0.2, -1.0, 0.3])
    np.testing.assert_array_equal(s.to_score(p), rank_percentile(REF, p))
