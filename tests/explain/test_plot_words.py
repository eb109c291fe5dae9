"""Figures name fields as the reasons and reports do: a waterfall bar carries its own field's
words, found by field (never by rank, which shifts when an absence is left out or the market
conditions are merged), and the importance and beeswarm plots show `schema.labels` names, not
the export's raw column names."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from pipeline.explain import plots
from pipeline.explain.reasons import reason_table
from pipeline.report.fmt import field_namer

HASH = "dfc3b656bac13de62e4efca322b3f2c1"
SCHEMA = {
    "labels": {
        "nr.employed": "number employed",
        "emp.var.rate": "employment variation rate",
        "page_id": {"name": "landing page", "values": {HASH: "landing page #1 (of 6)"}},
    },
    "context": ["nr.employed", "emp.var.rate"],
}
COLUMNS = ["origin", "page_id", "visits", "nr.employed", "emp.var.rate", "budget"]


class OneLeadScorer:
    """What `lead_waterfall` reads of a scorer, for one lead with given SHAP parts."""

    def __init__(self, X: pd.DataFrame, contrib: np.ndarray):
        self.X, self.contrib = X, contrib
        self.builder = type(
            "B", (), {"feature_fields": {c: c for c in COLUMNS}, "has_time_": False}
        )
        self.meta = {"schema": SCHEMA}

    def features(self, *_):
        return self.X

    def contributions(self, X):
        return self.contrib, -1.0

    def reason_words(self):
        return {
            "flags": set(),
            "categories": None,
            "labels": SCHEMA["labels"],
            "context": set(SCHEMA["context"]),
        }

    def conversion_probability(self, X):
        return np.array([0.3])

    def to_score(self, p):
        return np.array([55])


def _lead(origin, budget) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": pd.array([origin], dtype="string"),
            "page_id": pd.array([HASH], dtype="string"),
            "visits": [3.0],
            "nr.employed": [5099.1],
            "emp.var.rate": [-1.8],
            "budget": [budget],
        },
        index=["L1"],
    )


@pytest.mark.parametrize(
    "parts",
    [
        [0.9, -0.3, 0.2, -0.4, -0.3, 0.05],  # a missing origin raised the most: left out
        [-0.9, 0.5, 0.1, 0.0, 0.0, -0.7],  # no market conditions at all; budget missing lowers
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    ],
)
def test_each_waterfall_bar_carries_its_own_fields_words(monkeypatch, parts) -> None:
    X, c = _lead(None, np.nan), np.array([parts])
    seen = {}
    monkeypatch.setattr(
        plots,
        "waterfall",
        lambda fc, base, labels, title: seen.update(zip(labels, fc, strict=True)),
    )
    label = field_namer(SCHEMA)
    plots.lead_waterfall(OneLeadScorer(X, c), X, None, None, label)
    words = SCHEMA["labels"] | {}
    said = reason_table(
        c, {k: k for k in COLUMNS}, X, 6, False, labels=words, context=SCHEMA["context"]
    )
    reasons = [r for r in said.iloc[0].tolist() if isinstance(r, str)]
    assert reasons  # every case has something to say
    for r in reasons:
        sign, text = r.split(" ", 1)
        bars = [(lb, v) for lb, v in seen.items() if lb.startswith(text + " [")]
        assert len(bars) == 1, (r, list(seen))  # the reason's own words label exactly one bar
        assert (bars[0][1] > 0) == (sign == "[+]"), (r, bars)  # and that bar moves its way
    assert not [lb for lb in seen if "nr.employed" in lb or "page_id" in lb or HASH in lb]
    assert len(seen) == 5  # the two context columns are one bar


def test_importance_and_beeswarm_show_labels_not_column_names() -> None:
    label = field_namer(SCHEMA)
    imp = pd.DataFrame(
        {"field": ["nr.employed", "page_id", "visits"], "mean_abs_shap": [0.3, 0.2, 0.1]}
    )
    fig = plots.importance_bar(imp, label=label)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert set(ticks) == {"Number employed", "Landing page", "Visits"}
    plt.close(fig)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"nr.employed": rng.normal(size=50), "visits": rng.normal(size=50)})
    fig = plots.shap_beeswarm(rng.normal(size=(50, 2)), X, 20, {c: c for c in X}, label)
    ticks = {t.get_text() for ax in fig.axes for t in ax.get_yticklabels()}
    assert "Number employed" in ticks and "nr.employed" not in ticks
    plt.close(fig)
