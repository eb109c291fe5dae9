"""What converts, per value: for each feature column and each of its frequent values (numbers in
bins), the labelled leads that had it, how many were won, their conversion against the column's
overall conversion, the lift, and a 95% Wilson interval of the conversion.

Counted on one row per labelled lead (its last snapshot before the outcome: the lead as it was
when its outcome was decided), over the whole export, so a value's rate is the history's, not the
model's. The Wilson interval (not the normal one) stays inside 0-1 and honest for the small
counts and rare wins of a B2B export; a value is worth saying when its interval excludes the
overall rate (`notable`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

Z95 = 1.959964  # the normal quantile of a two-sided 95% interval
MIN_LEADS = 30  # a value held by fewer labelled leads is not frequent enough to report
MAX_VALUES = 20  # frequent values kept per categorical column (the most common first)
BINS = 5  # quantile bins of a numeric column (fewer when it has few distinct values)
COLUMNS = [
    *("column", "value", "leads", "wins", "conversion", "overall_conversion"),
    *("lift", "ci_low", "ci_high"),
]


def wilson(wins: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of `wins` out of `n` (arrays), at the normal quantile `z`."""
    wins, n = np.asarray(wins, float), np.asarray(n, float)
    p = np.divide(wins, n, out=np.zeros_like(n), where=n > 0)
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def value_insights(X: pd.DataFrame, y: np.ndarray, min_leads: int = MIN_LEADS) -> pd.DataFrame:
    """One row per (feature column, frequent value or bin); see the module docstring."""
    y = np.asarray(y, float)
    parts = [_column_rows(c, _groups(X[c]), y, min_leads) for c in X.columns]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def _groups(s: pd.Series) -> pd.Series:
    """Each lead's value as a label: the category itself, or the numeric bin it falls in
    ('3 to 7', '0', 'missing')."""
    if not pd.api.types.is_numeric_dtype(s):
        return s.astype("string").fillna("missing")
    x = s.astype(float)
    known = x.dropna()
    if known.nunique() <= BINS:
        out = known.map(_num)
    else:
        edges = np.unique(np.quantile(known, np.linspace(0, 1, BINS + 1)))
        idx = np.clip(np.searchsorted(edges, known, side="right") - 1, 0, len(edges) - 2)
        names = [f"{_num(a)} to {_num(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        out = pd.Series(np.asarray(names, dtype=object)[idx], index=known.index)
    return out.reindex(s.index).astype("string").fillna("missing")


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:.2g}"


def _column_rows(column: str, g: pd.Series, y: np.ndarray, min_leads: int) -> pd.DataFrame:
    codes, values = pd.factorize(g)
    n = np.bincount(codes, minlength=len(values))
    wins = np.bincount(codes, weights=y, minlength=len(values))
    keep = np.flatnonzero(n >= min_leads)
    keep = keep[np.argsort(-n[keep], kind="stable")][:MAX_VALUES]
    if not len(keep):
        return pd.DataFrame(columns=COLUMNS)
    overall = float(y.mean()) if len(y) else np.nan
    lo, hi = wilson(wins[keep], n[keep])
    conv = wins[keep] / n[keep]
    return pd.DataFrame(
        {
            "column": column,
            "value": np.asarray(values, dtype=object)[keep],
            "leads": n[keep],
            "wins": wins[keep].astype(np.int64),
            "conversion": conv,
            "overall_conversion": overall,
            "lift": conv / overall if overall > 0 else np.nan,
            "ci_low": lo,
            "ci_high": hi,
        }
    )


def notable(insights: pd.DataFrame) -> pd.DataFrame:
    """The values whose 95% interval excludes their column's overall conversion, furthest from
    it first (by lift away from 1)."""
    df = insights
    away = (df["ci_low"] > df["overall_conversion"]) | (df["ci_high"] < df["overall_conversion"])
    out = df[away].copy()
    out["_away"] = np.abs(np.log(out["lift"].clip(lower=1e-6)))
    return out.sort_values("_away", ascending=False, kind="stable").drop(columns="_away")
