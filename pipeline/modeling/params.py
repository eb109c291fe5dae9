"""Size-aware LightGBM defaults.

One fixed setting does not suit 3,000 and 3,000,000 snapshot rows: small data needs smaller leaves
(or trees split on noise) and large data needs a faster learning rate (or early stopping lets the
tree count, and with it the cost of exact TreeSHAP reasons at scoring time, grow without bound).
Only the fields the config leaves unset (None) are adapted; the tree shape (depth, leaves) is
never deepened, because reasons for a million leads must stay within the scoring budget.
"""

from __future__ import annotations

from pipeline.config import LightGBMParams

# (max fit rows, learning_rate, min_child_samples, n_estimators cap)
SIZE_TABLE: list[tuple[float, float, int, int]] = [
    (20_000, 0.05, 20, 2000),
    (300_000, 0.05, 40, 2000),
    (2_000_000, 0.1, 100, 800),
    (float("inf"), 0.15, 200, 600),
]


def size_aware(params: LightGBMParams, n_fit_rows: int) -> LightGBMParams:
    """`params` with the fields the config leaves to the data size (learning_rate,
    min_child_samples, n_estimators: None) taken from `SIZE_TABLE`; set ones stay as set."""
    _, lr, mcs, n_est = next(row for row in SIZE_TABLE if n_fit_rows <= row[0])
    sized = {"learning_rate": lr, "min_child_samples": mcs, "n_estimators": n_est}
    return params.model_copy(update={k: v for k, v in sized.items() if getattr(params, k) is None})


def shap_cost(n_trees: int, num_leaves: int, max_depth: int) -> float:
    """Relative cost of exact TreeSHAP per row (trees x leaves x depth^2), 1.0 = 260 x 8 x 3^2.

    Scoring reasons for 1M leads at the default shape runs at ~15-20k rows/s on 2 cores; divide
    that by this ratio to estimate another shape.
    """
    depth = max_depth if max_depth > 0 else max(1, num_leaves.bit_length())
    depth = min(depth, num_leaves - 1)
    return n_trees * num_leaves * depth**2 / (260 * 8 * 9)
