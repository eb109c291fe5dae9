"""Drift is said only of what the served model reads, and the market conditions (`schema.context`)
once, in the report's words: a warning when the model uses them, at most a note when it does not.
The scoring run's MLflow metrics and the scoring report follow the same rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.pipeline import Pipeline

from pipeline.modeling.booster import CategoryEncoder
from pipeline.modeling.logistic import fit_logistic
from pipeline.modeling.scorer import LeadScorer
from pipeline.monitoring.drift import (
    MIN_ROWS,
    PSI_WARN,
    DriftCounter,
    DriftReference,
    drift_metrics,
    warning_lines,
)
from pipeline.report.scoring import drift_note, drift_rows

CONTEXT = ("emp.var.rate", "nr.employed")
LABELS = {"emp.var.rate": "employment variation rate"}  # nr.employed: the readable guess
N = 2 * MIN_ROWS


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows and a scoring batch in which every column moved: a lead trait `x`, a trait
    `idle` and the two period columns."""
    rng = np.random.default_rng(3)
    train = pd.DataFrame(
        {
            "x": rng.normal(size=N),
            "idle": rng.normal(size=N),
            "emp.var.rate": rng.choice([1.1, 1.4], N),
            "nr.employed": rng.choice([5228.1, 5191.0], N),
        }
    )
    now = pd.DataFrame(
        {
            "x": rng.normal(2, 1, N),
            "idle": rng.normal(3, 1, N),
            "emp.var.rate": np.full(N, -1.8),
            "nr.employed": np.full(N, 5099.1),
        }
    )
    return train, now


def _table(used: set[str]) -> pd.DataFrame:
    train, now = _frames()
    counter = DriftCounter(DriftReference.fit(train, []), used, CONTEXT, LABELS)
    counter.add(now)
    return counter.table()


def test_market_conditions_the_model_uses_are_one_warning_in_words():
    table = _table({"x", *CONTEXT})  # `idle`: no tree splits on it
    lines = warning_lines(table, N)
    assert [ln for ln in lines if "drift in feature" in ln] == [
        ln for ln in lines if "'x'" in ln
    ]  # the lead trait, and only it, as a feature
    assert not any(c in ln for ln in lines for c in ("'idle'", *CONTEXT))
    market = [ln for ln in lines if "market conditions" in ln]
    assert len(market) == 1 and market[0].startswith("warning: market conditions moved since")
    assert "employment variation rate" in market[0] and "number employed" in market[0]
    worst = table.set_index("feature").loc[list(CONTEXT), "psi"].max()
    assert f"PSI {worst:.2f}" in market[0]


def test_market_conditions_left_out_are_at_most_a_note():
    table = _table({"x"})  # training.context: leave_out
    lines = warning_lines(table, N)
    assert not any(c in ln for ln in lines for c in ("'idle'", *CONTEXT))
    warnings = [ln for ln in lines if ln.startswith("warning:")]
    assert len(warnings) == 1 and "'x'" in warnings[0]
    notes = [ln for ln in lines if ln.startswith("note:")]
    assert len(notes) == 1 and "does not use them" in notes[0]
    assert "employment variation rate" in notes[0]
    assert not table.set_index("feature").loc[["idle", *CONTEXT], "drifted"].any()


def test_unmoved_market_conditions_say_nothing():
    train, _ = _frames()
    counter = DriftCounter(DriftReference.fit(train, []), {"x"}, CONTEXT, LABELS)
    counter.add(train)
    assert warning_lines(counter.table(), N) == []


def test_too_few_leads_stay_one_note():
    train, now = _frames()
    counter = DriftCounter(DriftReference.fit(train, []), {"x", *CONTEXT}, CONTEXT, LABELS)
    counter.add(now.head(MIN_ROWS - 1))
    lines = warning_lines(counter.table(), counter.n_rows)
    assert len(lines) == 1 and lines[0].startswith("note: drift not checked")


@pytest.mark.parametrize("context_used", [True, False])
def test_scoring_metrics_follow_the_warnings_rule(context_used):
    used = {"x", *CONTEXT} if context_used else {"x"}
    table = _table(used)
    metrics, tags = drift_metrics(table, checked=True)
    psi = table.set_index("feature")["psi"]
    assert not {f"psi_{c}" for c in ("idle", *CONTEXT)} & set(metrics)
    assert metrics["psi_x"] == psi["x"]
    assert metrics["features_drifted"] == 1.0  # x; idle moved more but moves no score
    assert tags == {
        "drift_checked": "true",
        "market_conditions": "used" if context_used else "not_used",
    }
    if context_used:
        assert metrics["psi_market_conditions"] == psi[list(CONTEXT)].max()
        assert metrics["market_conditions_drifted"] == float(psi[list(CONTEXT)].max() > PSI_WARN)
        assert metrics["psi_max"] == max(psi["x"], psi[list(CONTEXT)].max())
    else:
        assert "psi_market_conditions" not in metrics
        assert "market_conditions_drifted" not in metrics
        assert metrics["psi_max"] == psi["x"]
    small, _ = drift_metrics(table, checked=False)
    assert "features_drifted" not in small and "market_conditions_drifted" not in small


def test_scoring_report_rows_follow_the_warnings_rule():
    used_rows = drift_rows(_table({"x", *CONTEXT}))
    labels = [r["label"] for r in used_rows]
    assert len(labels) == 2 and "x" in labels
    market = [lb for lb in labels if lb.startswith("Market conditions at the time (")]
    assert len(market) == 1 and "employment variation rate" in market[0]
    assert drift_note(_table({"x", *CONTEXT})) == ""
    left_out = _table({"x"})
    assert [r["label"] for r in drift_rows(left_out)] == ["x"]
    assert "does not use them" in drift_note(left_out)


def _scorer(estimator: Pipeline, candidate: str) -> LeadScorer:
    """A LeadScorer around a fitted estimator (what `used_features` reads; nothing else)."""
    return LeadScorer(None, estimator, None, None, np.array([]), candidate=candidate)  # type: ignore[arg-type]


def test_used_features_are_what_the_model_reads():
    """A blanked context column and a constant column: no tree splits on them; the logistic
    model reads every column that varies (it is never given a blanked one)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=600),
            "rate": rng.normal(size=600),
            "flat": np.ones(600),
            "region": rng.choice(["n", "s"], 600),
        }
    )
    y = (X["x"] + X["rate"] + (X["region"] == "n") + rng.normal(0, 0.5, 600) > 0.5).astype(int)
    enc = CategoryEncoder(["region"], 1, ("rate",))
    lgbm = LGBMClassifier(n_estimators=20, verbose=-1, deterministic=True, random_state=0)
    booster = Pipeline([("encode", enc), ("lgbm", lgbm)]).fit(X, y)
    assert _scorer(booster, "lightgbm").used_features() == {"x", "region"}
    logistic = fit_logistic(X, y.to_numpy(), ["region"], seed=0)
    assert _scorer(logistic, "logistic").used_features() == {"x", "rate", "region"}
