"""SHAP explanations in the words of the business.

SHAP values come from the booster in log-odds space (LightGBM's exact TreeSHAP, `pred_contrib`,
which is what `shap.TreeExplainer` computes for these models, at the same speed). A lead's reasons
sum the values of every feature that comes from one business field (all the counts and recencies of
one activity type, one raw column, one derived signal), so "requested a demo" is one reason rather
than four half-reasons. The words themselves are chosen in `pipeline/reasons.py`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTEXT_FIELD = "market conditions"  # the one field all `schema.context` columns make up


def with_context(feature_fields: dict[str, str], context: object = ()) -> dict[str, str]:
    """feature -> field, with every feature of a `schema.context` column (one that describes the
    period, such as an interest rate, not the lead) in the one field CONTEXT_FIELD: a salesperson
    cannot act on three economy indicators, and their joint part is what the period did."""
    ctx = set(context or ())
    if not ctx:
        return feature_fields
    return {f: CONTEXT_FIELD if field in ctx else field for f, field in feature_fields.items()}


def field_matrix(feature_fields: dict[str, str]) -> tuple[list[str], np.ndarray]:
    """Fields in first-seen order and the 0/1 matrix (features x fields) that sums into them."""
    fields = list(dict.fromkeys(feature_fields.values()))
    idx = {f: i for i, f in enumerate(fields)}
    m = np.zeros((len(feature_fields), len(fields)))
    for j, f in enumerate(feature_fields.values()):
        m[j, idx[f]] = 1.0
    return fields, m


def global_importance(field_contrib: np.ndarray, fields: list[str]) -> pd.DataFrame:
    """Mean |SHAP| per business field, largest first."""
    imp = np.abs(field_contrib).mean(axis=0)
    df = pd.DataFrame({"field": fields, "mean_abs_shap": imp})
    return df.sort_values("mean_abs_shap", ascending=False, ignore_index=True)
