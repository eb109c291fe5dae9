"""Size-aware LightGBM defaults.

One fixed setting does not suit 3,000 and 3,000,000 snapshot rows: small data needs smaller leaves
(or trees split on noise) and large data needs a faster learning rate (or early stopping lets the
tree count, and with it the cost of exact TreeSHAP reasons at scoring time, grow without bound).
Only the fields the user did not set in the config are adapted; the tree shape (depth, leaves) is
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
    """`params` with unset learning_rate / min_child_samples / n_estimators fitted to the data size."""
    _, lr, mcs, n_est = next(row for row in SIZE_TABLE if n_fit_rows <= row[0])
    given = params.model_fields_set
    update: dict[str, float | int] = {}
    if "learning_rate" not in given:
        update["learning_rate"] = lr
    if "min_child_samples" not in given:
        update["min_child_samples"] = mcs
    if "n_estimators" not in given:
        update["n_estimators"] = n_est
    new = params.model_copy(update=update)
    # model_copy keeps fields_set of the original: record the adapted ones as still "defaulted"
    object.__setattr__(new, "__pydantic_fields_set__", set(given))
    return new


def shap_cost(n_trees: int, num_leaves: int, max_depth: int) -> float:
    """Relative cost of exact TreeSHAP per row (trees x leaves x depth^2), 1.0 = 260 x 8 x 3^2.

    Scoring reasons for 1M leads at the default shape runs at ~15-20k rows/s on 2 cores; divide
    that by this ratio to estimate another shape.
    """
    depth = max_depth if max_depth > 0 else max(1, num_leaves.bit_length())
    depth = min(depth, num_leaves - 1)
    return n_trees * num_leaves * depth**2 / (260 * 8 * 9)
