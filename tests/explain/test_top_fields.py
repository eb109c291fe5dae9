"""Top-k fields per row by argmax passes: the order a stable sort of -|parts| gives, ties and NaN
included, since the slot a reason lands in is part of the output file."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.explain.reasons import top_fields


def _by_sort(fc: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-np.abs(fc), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_fields_is_the_stable_sort_order(k):
    rng = np.random.default_rng(11)
    fc = rng.integers(-3, 4, size=(5_000, 7)).astype(float)  # many ties, +/- equal sizes
    fc[rng.random(fc.shape) < 0.05] = np.nan
    fc[rng.random(fc.shape) < 0.05] = -0.0
    fc[:50] = np.nan  # rows without any real part
    got = top_fields(fc.copy(), k)
    np.testing.assert_array_equal(got, _by_sort(fc, k))
    cont = rng.normal(size=(2_000, 19))
    np.testing.assert_array_equal(top_fields(cont, k), _by_sort(cont, k))


def test_top_fields_leaves_its_input_alone_and_takes_no_rows():
    fc = np.array([[1.0, -2.0, 0.5]])
    top_fields(fc, 2)
    np.testing.assert_array_equal(fc, [[1.0, -2.0, 0.5]])
    assert top_fields(np.zeros((0, 4)), 3).shape == (0, 3)
