"""What converts, per value: counts, conversion, lift and the Wilson interval against values
worked out by hand, bins for numbers, and the training run's table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.insights import MIN_LEADS, notable, value_insights, wilson


def test_wilson_matches_hand_values():
    # 5 of 10 at 95%: 0.2366 to 0.7634; 0 of 20: 0 to 0.1611 (the textbook values)
    lo, hi = wilson(np.array([5, 0]), np.array([10, 20]))
    assert lo == pytest.approx([0.2366, 0.0], abs=1e-4)
    assert hi == pytest.approx([0.7634, 0.1611], abs=1e-4)


def test_rows_per_frequent_value_with_hand_counts():
    # industry: 60 tech (30 won), 40 retail (2 won), 5 mining (5 won: too rare to report)
    X = pd.DataFrame(
        {
            "industry": ["tech"] * 60 + ["retail"] * 40 + ["mining"] * 5,
            "visits": np.r_[np.zeros(50), np.arange(1, 56)],
        }
    )
    y = np.r_[np.ones(30), np.zeros(30), np.ones(2), np.zeros(38), np.ones(5)]
    t = value_insights(X, y)
    ind = t[t["column"] == "industry"].set_index("value")
    assert list(ind.index) == ["tech", "retail"]  # most leads first; mining under MIN_LEADS
    assert ind.loc["tech", ["leads", "wins"]].tolist() == [60, 30]
    assert ind.loc["tech", "conversion"] == pytest.approx(0.5)
    assert ind.loc["tech", "overall_conversion"] == pytest.approx(37 / 105)
    assert ind.loc["tech", "lift"] == pytest.approx(0.5 / (37 / 105))
    lo, hi = wilson(np.array([2]), np.array([40]))
    assert ind.loc["retail", ["ci_low", "ci_high"]].tolist() == pytest.approx([lo[0], hi[0]])
    visits = t[t["column"] == "visits"]
    assert visits["leads"].sum() <= len(X) and (visits["leads"] >= MIN_LEADS).all()
    assert visits["value"].str.contains(" to ").all()  # numbers in bins, not one row per number
    said = notable(t)
    assert set(said["value"]) >= {"tech", "retail"}  # both intervals exclude 35%


@pytest.mark.slow
def test_training_keeps_a_row_per_frequent_value(trained):
    result, leads, events = trained
    t = result.extra_tables["insights"]
    assert list(t.columns)[:4] == ["column", "value", "leads", "wins"]
    counts = leads.loc[leads["_label"].notna(), "source_channel"].value_counts()
    frequent = set(counts[counts >= MIN_LEADS].index)
    assert set(t.loc[t["column"] == "source_channel", "value"]) - {"missing"} == frequent
    assert ((t["ci_low"] <= t["conversion"]) & (t["conversion"] <= t["ci_high"])).all()
