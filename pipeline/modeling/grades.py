"""A-D grades: fixed probability floors, so a grade means the same after every retrain.

Stages move with each model's cutoffs; grades do not. A lead is A when its calibrated conversion
probability is at least the A floor, B at least B, C at least C, else D. The floors live with the
registered model (`leadscore grades show/set`); the first registered model drafts them from its
own cutoffs and base rate (`draft_floors`) when `scoring.grades` does not give them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import GradeFloors
from pipeline.modeling.cutoffs import Cutoffs

GRADES = ("A", "B", "C", "D")


def grade_of(p: np.ndarray, floors: dict | GradeFloors | None) -> np.ndarray:
    """The grade of each probability under `floors`; None (an empty cell) without floors."""
    p = np.asarray(p, dtype=float)
    if floors is None:
        return np.full(len(p), None, dtype=object)
    f = floors if isinstance(floors, GradeFloors) else GradeFloors.model_validate(floors)
    out = np.where(p >= f.A, "A", np.where(p >= f.B, "B", np.where(p >= f.C, "C", "D")))
    return np.where(np.isnan(p), None, out).astype(object)


def _round2(x: float) -> float:
    """Two significant digits: a floor people can read and say aloud."""
    return float(f"{x:.2g}") if x > 0 else x


def draft_floors(cutoffs: Cutoffs, base_rate: float) -> GradeFloors:
    """Floors drafted from a model's cutoffs and base rate: A from the SQL cutoff (sales-ready),
    B the base rate (at least as likely as the average lead), C the MQL cutoff (worth
    nurturing) when it lies below the base rate, else half the base rate; when the SQL cutoff
    gives no order above the base rate, multiples of the base rate (4x, 2x, 0.8x).

    B stays at the base rate because that is what a B means. A model that separates leads well
    has its MQL cutoff above the base rate (the sample's: 80% of the wins in the top fifth of
    leads, cutoff 0.146 against a base rate of 0.092); fitting B between the cutoffs instead made
    B and C slivers (0.17 and 0.15: 30 of 719 scored leads) and put every lead from the base
    rate up to the MQL cutoff, better than average, in D."""
    a, b = _round2(cutoffs.sql), _round2(base_rate)
    mql = _round2(cutoffs.mql)
    c = mql if 0 < mql < b else _round2(b / 2)
    if 1 > a > b > c > 0:
        return GradeFloors(A=a, B=b, C=c)
    base = min(max(base_rate, 1e-4), 0.2)
    return GradeFloors(A=_round2(4 * base), B=_round2(2 * base), C=_round2(0.8 * base))


def grade_table(y: np.ndarray, p: np.ndarray, floors: dict | GradeFloors | None) -> pd.DataFrame:
    """Per grade (A-D, then 'all'): its floor, leads, share, expected conversion (mean
    probability) and realised conversion of labelled leads `y` (1 won, 0 lost). Empty without
    floors."""
    cols = ["grade", "floor", "leads", "share", "expected_conversion", "realised_conversion"]
    if floors is None or len(p) == 0:
        return pd.DataFrame(columns=cols)
    f = floors if isinstance(floors, GradeFloors) else GradeFloors.model_validate(floors)
    g = grade_of(p, f)
    frame = pd.DataFrame({"grade": g, "p": np.asarray(p, float), "y": np.asarray(y, float)})
    rows = []
    for name, floor in zip(GRADES, (f.A, f.B, f.C, 0.0), strict=True):
        part = frame[frame["grade"] == name]
        rows.append((name, floor, part))
    rows.append(("all", None, frame))
    return pd.DataFrame(
        [(n, fl, len(d), len(d) / len(frame), d["p"].mean(), d["y"].mean()) for n, fl, d in rows],
        columns=cols,
    )
