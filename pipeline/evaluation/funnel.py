"""The funnel the cutoffs create, in the numbers sales and marketing plan with.

A cutoff is only useful if people can see what it does: how many leads land in each stage, how
many of them the model expects to convert, how many actually did on the out-of-time test, which
share of all customers each stage catches, and (when the config gives what a lead costs per
channel) what an MQL, an SQL and a customer cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.config import CostsConfig

if TYPE_CHECKING:
    from pipeline.modeling.cutoffs import Cutoffs

STAGES = ["SQL", "MQL", "lead"]


def funnel_table(
    y: np.ndarray,
    p: np.ndarray,
    cutoffs: Cutoffs,
    channel: pd.Series | None = None,
    costs: CostsConfig | None = None,
) -> pd.DataFrame:
    """One row per stage (SQL, MQL, lead) plus 'all'; stages are exclusive, `cum_*` add up from SQL.

    `mql_to_sql_rate` (on the SQL row) is the share of marketing-qualified leads (MQL or better)
    that are sales-qualified. Cost columns appear only with `costs` and a channel column.
    """
    y = np.asarray(y, int)
    p = np.asarray(p, float)
    stage = cutoffs.stage(p)
    total_won = max(int(y.sum()), 1)
    cost = None
    if costs is not None and channel is not None:
        ch = channel.astype("string").to_numpy(dtype=object)
        cost = np.array([costs.per_lead.get(c, costs.default) for c in ch], dtype=float)
    rows = []
    cum = np.zeros(len(y), bool)
    for s in [*STAGES, "all"]:
        m = np.ones(len(y), bool) if s == "all" else stage == s
        if s != "all":
            cum |= m
        row = {
            "stage": s,
            "leads": int(m.sum()),
            "share": float(m.mean()) if len(y) else float("nan"),
            "expected_conversion": float(p[m].mean()) if m.any() else float("nan"),
            "realised_conversion": float(y[m].mean()) if m.any() else float("nan"),
            "won": int(y[m].sum()),
            "wins_captured": float(y[m].sum() / total_won),
            "cum_leads": int((cum if s != "all" else m).sum()),
            "cum_wins_captured": float(y[cum if s != "all" else m].sum() / total_won),
        }
        if cost is not None:
            row["spend"] = float(cost[m].sum())
        rows.append(row)
    t = pd.DataFrame(rows)
    n_sql, n_mql = int((stage == "SQL").sum()), int(np.isin(stage, ["SQL", "MQL"]).sum())
    t["mql_to_sql_rate"] = np.where(t["stage"] == "SQL", n_sql / n_mql if n_mql else np.nan, np.nan)
    if cost is not None:
        spend = float(cost.sum())
        t["cost_per_lead_in_stage"] = t["spend"] / t["leads"].replace(0, np.nan)
        t["cost_per_mql"] = spend / n_mql if n_mql else np.nan
        t["cost_per_sql"] = spend / n_sql if n_sql else np.nan
        t["cost_per_customer"] = spend / int(y.sum()) if y.sum() else np.nan
    return t


def funnel_metrics(t: pd.DataFrame) -> dict[str, float]:
    """Scalar KPIs from the funnel table for MLflow: the cutoffs' own figures (`stage_metrics`)
    and the funnel's, the latter only where defined."""
    by = t.set_index("stage")
    out = {
        "test_mql_to_sql_rate": float(by.loc["SQL", "mql_to_sql_rate"]),
        "test_sql_wins_captured": float(by.loc["SQL", "wins_captured"]),
        "test_mql_or_sql_wins_captured": float(by.loc["MQL", "cum_wins_captured"]),
        "test_sql_expected_conversion": float(by.loc["SQL", "expected_conversion"]),
        "test_sql_realised_conversion": float(by.loc["SQL", "realised_conversion"]),
    }
    for k in ("cost_per_mql", "cost_per_sql", "cost_per_customer"):
        if k in t.columns:
            out[f"test_{k}"] = float(t[k].iloc[0])
    return {**stage_metrics(t), **{k: v for k, v in out.items() if pd.notna(v)}}


def stage_metrics(t: pd.DataFrame) -> dict[str, float]:
    """What the SQL and MQL cutoffs do on the test leads, read off the funnel table so that each
    figure has one computation: SQL precision is the SQL stage's realised conversion, MQL recall
    the share of wins at MQL or better. NaN where undefined (no SQL lead, no win): the summary
    shows it as such rather than leaving the line out."""
    by = t.set_index("stage")
    leads, won = int(by.loc["all", "leads"]), int(by.loc["all", "won"])
    return {
        "test_sql_precision": float(by.loc["SQL", "realised_conversion"]),
        "test_sql_share": float(by.loc["SQL", "share"]),
        "test_mql_recall": float(by.loc["MQL", "cum_wins_captured"]) if won else float("nan"),
        "test_mql_share": float(by.loc["MQL", "cum_leads"] / leads) if leads else float("nan"),
    }


def slice_metrics(
    y: np.ndarray, p: np.ndarray, groups: dict[str, pd.Series], min_leads: int = 30
) -> pd.DataFrame:
    """AUC, calibration gap and conversion per value of each slice column (test rows only).

    Slices with fewer than `min_leads` leads or one class get counts but no AUC: a number from
    ten leads would mislead more than it informs.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, int)
    p = np.asarray(p, float)
    rows = []
    for col, s in groups.items():
        v = s.astype("string").fillna("(missing)").to_numpy(dtype=object)
        for val in sorted(set(v)):
            m = v == val
            two = len(np.unique(y[m])) == 2
            rows.append(
                {
                    "column": col,
                    "value": val,
                    "leads": int(m.sum()),
                    "won": int(y[m].sum()),
                    "observed_rate": float(y[m].mean()),
                    "mean_probability": float(p[m].mean()),
                    "roc_auc": float(roc_auc_score(y[m], p[m]))
                    if two and m.sum() >= min_leads
                    else float("nan"),
                }
            )
    return pd.DataFrame(rows)
