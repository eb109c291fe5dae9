"""MQL and SQL probability cutoffs from business targets.

Sales asks "how many of the leads you send me will buy?" (precision) or "how many can we call?"
(capacity); marketing asks "how many future customers do we keep in the funnel?" (recall). The
cutoffs answer those questions on data the booster did not fit on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.config import TargetsConfig


@dataclass(frozen=True)
class Cutoffs:
    mql: float
    sql: float
    sql_rule: str
    mql_rule: str

    def stage(self, p: np.ndarray) -> np.ndarray:
        return np.where(p >= self.sql, "SQL", np.where(p >= self.mql, "MQL", "lead"))


def threshold_for_precision(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """Lowest cutoff whose precision on (p, y) is at least `target`: the most leads at that quality.

    If no cutoff reaches the target the highest probability is returned, so SQL is almost empty
    rather than wrong.
    """
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]
    prec = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    ok = np.flatnonzero(last_of_tie & (prec >= target))
    return float(ps[ok[-1]]) if len(ok) else float(ps[0])


def threshold_for_recall(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """Highest cutoff that still keeps at least `target` of the won leads at or above it."""
    pos = np.sort(p[y == 1])[::-1]
    if len(pos) == 0:
        return float(np.max(p))
    k = int(np.ceil(target * len(pos)))
    return float(pos[min(k, len(pos)) - 1])


def threshold_for_capacity(p: np.ndarray, months: float, capacity_per_month: int) -> float:
    """Cutoff that sends sales about `capacity_per_month` leads a month at the observed lead flow."""
    n = int(round(capacity_per_month * max(months, 1e-9)))
    if n <= 0:
        return float(np.max(p))
    n = min(n, len(p))
    return float(np.sort(p)[::-1][n - 1])


def choose_cutoffs(p: np.ndarray, y: np.ndarray, targets: TargetsConfig, months: float) -> Cutoffs:
    sql_t = targets.sql
    if sql_t.capacity_per_month is not None:
        sql = threshold_for_capacity(p, months, sql_t.capacity_per_month)
        sql_rule = f"capacity {sql_t.capacity_per_month}/month"
    else:
        sql = threshold_for_precision(p, y, float(sql_t.precision))
        sql_rule = f"precision >= {sql_t.precision}"
    mql = threshold_for_recall(p, y, targets.mql.recall)
    mql = min(mql, sql)  # every SQL is also marketing-qualified
    return Cutoffs(mql=mql, sql=sql, sql_rule=sql_rule, mql_rule=f"recall >= {targets.mql.recall}")
