"""Fit and engagement sub-scores: who the lead is, and what it did.

Sales asks two different questions of a score: is this the kind of company and person we sell to
(fit), and are they showing interest now (engagement)? The booster already learnt both; SHAP splits
each lead's log-odds exactly into per-feature parts, so the fit part is the sum over firmographic,
role, channel and email-domain features, and the engagement part the sum over activity features,
lead age and, on a flat export, the behaviour columns listed in `schema.engagement`. Each part becomes 0-100 the way `score` does: the share of reference leads (the recent
validation leads, fixed at training) whose part is lower or equal. A fit score of 80 means "a
better fit than 80% of recent leads", whatever the lead has done; the two parts plus the model's
base value add up to the lead's raw log-odds.
"""

from __future__ import annotations

import numpy as np

from pipeline.features.builder import ACTIVITY_FIELD, AGE_FIELD

FIT, ENGAGEMENT = "fit", "engagement"


def field_group(field: str, engagement_fields: list[str]) -> str:
    """Engagement: what the lead did (activity of any type, or a behaviour column of a flat export
    such as visits or time on site: `schema.engagement`) and how long it has been around."""
    return ENGAGEMENT if field in {ACTIVITY_FIELD, AGE_FIELD, *engagement_fields} else FIT


def group_masks(feature_fields: dict[str, str], engagement_fields: list[str]) -> np.ndarray:
    """Boolean (features x 2) matrix: column 0 = fit features, column 1 = engagement features."""
    eng = np.array(
        [field_group(f, engagement_fields) == ENGAGEMENT for f in feature_fields.values()]
    )
    return np.column_stack([~eng, eng]).astype(float)


def group_logodds(
    contrib: np.ndarray, feature_fields: dict[str, str], engagement_fields: list[str]
) -> np.ndarray:
    """(rows x 2) log-odds of the fit and engagement parts of each lead, rounded to 1e-9: a linear
    model gives many leads exactly the same part, and the last bits of a matrix product depend on
    the batch, so unrounded ties would flip a percentile by the size of the tie."""
    return np.round(contrib @ group_masks(feature_fields, engagement_fields), 9)


def rank_percentile(reference: np.ndarray | None, v: np.ndarray) -> np.ndarray:
    """0-100: the share of the sorted `reference` at or below each value, rounded to an integer.

    The one percentile rule, behind the 0-100 score and both sub-scores. Ties count as below (a
    value equal to reference values ranks above all of them); values outside the reference clip
    to 0 and 100. With no reference (None or empty) or for a NaN value there is no rank: NaN (the
    result is then float, else integers).
    """
    v = np.asarray(v, dtype=float)
    if reference is None or len(reference) == 0:
        return np.full(len(v), np.nan)
    pos = np.searchsorted(reference, v, side="right") / len(reference)
    ranks = np.clip(np.round(100 * pos), 0, 100)
    missing = np.isnan(v)
    return np.where(missing, np.nan, ranks) if missing.any() else ranks.astype(int)


def percentile(reference: np.ndarray | None, v: np.ndarray) -> np.ndarray:
    """A sub-score: `rank_percentile`, except that a side the model cannot see is absent (NaN).

    Such a side (no engagement feature at all: no activity table, no behaviour or contact-history
    column, no creation dates; or features it never used) is constant over the reference leads;
    a constant 50 would read "average" where there is nothing to rank.
    """
    if reference is not None and len(reference) and reference[0] == reference[-1]:
        return np.full(len(v), np.nan)
    return rank_percentile(reference, v)
